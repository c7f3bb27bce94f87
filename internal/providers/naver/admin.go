package naver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// The channel and template queries (SENS AlimTalk API document:
// カカオトークチャンネル, 通知トークのテンプレート), under servicePath:
// GET channels (pageSize, pageIndex) and GET templates (channelId
// required; templateCode for the details, templateName, pageSize,
// pageIndex). Both answer a JSON array.
const (
	servicePath   = "/alimtalk/v2/services/{serviceId}"
	channelsPath  = "/channels"
	templatesPath = "/templates"
	// adminPageSize is the largest pageSize of both queries (1 to 100).
	adminPageSize = 100
	// maxAdminPages bounds a listing: 100 pages of 100.
	maxAdminPages = 100
)

// Channel and template states (SENS AlimTalk API document).
const (
	ChannelActive      = "ACTIVE"
	TemplateActive     = "ACTIVE"
	InspectionComplete = "COMPLETE"
)

// ErrNotFound is the answer to a channel or template NAVER does not list.
var ErrNotFound = errors.New("naver: not found")

// Channel is one KakaoTalk channel of the service.
type Channel struct {
	CreateTime        string `json:"createTime"`
	UpdateTime        string `json:"updateTime,omitempty"`
	ServiceID         string `json:"serviceId"`
	ChannelID         string `json:"channelId"`
	ChannelName       string `json:"channelName"`
	ChannelStatus     string `json:"channelStatus"`
	UseSmsFailover    bool   `json:"useSmsFailover"`
	FailoverServiceID string `json:"failoverServiceId,omitempty"`
	FailoverTelNo     string `json:"failoverTelNo,omitempty"`
	IsBlock           bool   `json:"isBlock"`
	IsDormant         bool   `json:"isDormant"`
}

// Usable says why the channel cannot send, or "" when it can.
func (ch *Channel) Usable() string {
	switch {
	case ch.IsBlock || ch.ChannelStatus == "BLOCKED":
		return "channel is blocked"
	case ch.IsDormant:
		return "channel is dormant"
	case ch.ChannelStatus != ChannelActive:
		return "channel status is " + ch.ChannelStatus
	}
	return ""
}

// Template is one AlimTalk template; Comments (the inspection history)
// come with the details only (Template, not Templates).
type Template struct {
	CreateTime               string            `json:"createTime"`
	UpdateTime               string            `json:"updateTime,omitempty"`
	ChannelID                string            `json:"channelId"`
	TemplateCode             string            `json:"templateCode"`
	TemplateName             string            `json:"templateName"`
	CategoryCode             string            `json:"categoryCode"`
	CategoryName             string            `json:"categoryName"`
	MessageType              string            `json:"messageType"`
	EmphasizeType            string            `json:"emphasizeType"`
	Content                  string            `json:"content"`
	AdContent                string            `json:"adContent,omitempty"`
	ExtraContent             string            `json:"extraContent,omitempty"`
	Title                    string            `json:"title,omitempty"`
	AdditionalTitle          string            `json:"additionalTitle,omitempty"`
	Comments                 []TemplateComment `json:"comments,omitempty"`
	TemplateInspectionStatus string            `json:"templateInspectionStatus"`
	TemplateStatus           string            `json:"templateStatus"`
	Buttons                  []TemplateButton  `json:"buttons,omitempty"`
	UseImage                 bool              `json:"useImage"`
	ImageName                string            `json:"imageName,omitempty"`
	ImageURL                 string            `json:"imageUrl,omitempty"`
	SecurityFlag             bool              `json:"securityFlag"`
	IsBlock                  bool              `json:"isBlock"`
	IsDormant                bool              `json:"isDormant"`
}

// TemplateComment is one inspection comment.
type TemplateComment struct {
	CommentID string `json:"commentId"`
	Content   string `json:"content"`
	Status    string `json:"status"`
	Create    string `json:"create"`
}

// TemplateButton is a registered button, the send's button fields and
// its order; a send must repeat it exactly.
type TemplateButton struct {
	Order int `json:"order"`
	button
}

// Usable says why the template cannot be sent, or "" when it can: it must
// have passed inspection (COMPLETE) and be ACTIVE, not blocked or dormant.
func (t *Template) Usable() string {
	switch {
	case t.IsBlock:
		return "template is blocked"
	case t.IsDormant:
		return "template is dormant"
	case t.TemplateInspectionStatus != InspectionComplete:
		return "template is not approved (inspection " + t.TemplateInspectionStatus + ")"
	case t.TemplateStatus != TemplateActive:
		return "template status is " + t.TemplateStatus
	}
	return ""
}

// Channels lists every channel of the service.
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	return listAll[Channel](ctx, c, channelsPath, url.Values{})
}

// Channel finds one channel by its id (NAVER has no single-channel query:
// the list is read).
func (c *Client) Channel(ctx context.Context, channelID string) (*Channel, error) {
	all, err := c.Channels(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].ChannelID == channelID {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("channel %q: %w", channelID, ErrNotFound)
}

// Templates lists a channel's templates, those whose name contains
// nameLike when it is not empty.
func (c *Client) Templates(ctx context.Context, channelID, nameLike string) ([]Template, error) {
	if channelID == "" {
		return nil, errors.New("naver: templates: channelId is required")
	}
	v := url.Values{"channelId": {channelID}}
	if nameLike != "" {
		v.Set("templateName", nameLike)
	}
	return listAll[Template](ctx, c, templatesPath, v)
}

// Template gets one template's details, its inspection comments included.
func (c *Client) Template(ctx context.Context, channelID, code string) (*Template, error) {
	if channelID == "" || code == "" {
		return nil, errors.New("naver: template: channelId and templateCode are required")
	}
	page, err := adminGet[Template](ctx, c, templatesPath, url.Values{"channelId": {channelID}, "templateCode": {code}})
	if err != nil {
		return nil, err
	}
	for i := range page {
		if page[i].TemplateCode == code {
			return &page[i], nil
		}
	}
	return nil, fmt.Errorf("template %q of channel %q: %w", code, channelID, ErrNotFound)
}

// listAll reads every page of a query, adminPageSize at a time.
func listAll[T any](ctx context.Context, c *Client, path string, v url.Values) ([]T, error) {
	var all []T
	v.Set("pageSize", strconv.Itoa(adminPageSize))
	for index := 0; index < maxAdminPages; index++ {
		v.Set("pageIndex", strconv.Itoa(index))
		page, err := adminGet[T](ctx, c, path, v)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < adminPageSize {
			return all, nil
		}
	}
	return nil, fmt.Errorf("naver: %s: more than %d pages", path, maxAdminPages)
}

// adminGet makes one signed query and decodes its JSON array. An empty 404
// (NAVER's answer when nothing matches) is an empty page.
func adminGet[T any](ctx context.Context, c *Client, path string, v url.Values) ([]T, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.adminURL+path+"?"+v.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("naver: %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	sign(req, c.Now(), c.accessKey, c.secretKey)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Message: path + ": no answer", Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("naver: %s: read answer: %w", path, err)
	}
	return parseAdminPage[T](c, resp, data, path)
}

// parseAdminPage reads one answer of a channel or template query.
func parseAdminPage[T any](c *Client, resp *http.Response, data []byte, path string) ([]T, error) {
	switch {
	case resp.StatusCode == http.StatusNotFound && len(bytes.TrimSpace(data)) == 0:
		return nil, nil
	case resp.StatusCode != http.StatusOK:
		var e *providers.Error
		if !errors.As(c.httpError(resp, data), &e) {
			return nil, fmt.Errorf("naver: %s: HTTP %d", path, resp.StatusCode)
		}
		if e.Class == providers.Unknown {
			// A query takes nothing: a 5xx is plainly retryable.
			e.Class, e.Reason = providers.Retryable, result.ReasonProviderUnavailable
		}
		e.Message = strings.TrimSpace(path + ": " + e.Message)
		return nil, e
	}
	var page []T
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			HTTPStatus: resp.StatusCode, Message: path + ": unreadable answer: " + snippet(data), Err: err}
	}
	return page, nil
}
