package nhn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Prefixes of NHN's administration APIs, relative to the base URL, beside
// the send paths in config.go.
//   - AlimTalk Sender API (NHN Cloud AlimTalk Sender API guide v2.0/2.1;
//     the current v2.3 has the same shapes): sender/categories,
//     senders[/{senderKey}], sender/token,
//     sender-groups/{groupSenderKey}[/senders/{senderKey}].
//   - FriendTalk v1.5 (FriendTalk v1.5 API guide, イメージの管理 and
//     代替送信管理): images, failback, failback/appkey.
const (
	pathAlimTalkAdmin   = "/alimtalk/{version}/appkeys/{appkey}"
	pathFriendTalkAdmin = "/friendtalk/{version}/appkeys/{appkey}"
)

// MaxSenderPageSize is the sender list's largest pageSize (Sender API
// guide: 最大 1000); its default is 15.
const MaxSenderPageSize = 1000

// maxAdminResponse bounds what is read of an administration answer: a
// page of 1000 senders is well under it.
const maxAdminResponse = 8 << 20

// Sender statuses (Sender API guide): NHN's registration status, Kakao's
// channel status and Kakao's profile status.
const (
	SenderAwaitingToken = "YSC02" // registered, token not yet verified
	SenderRegistered    = "YSC03"
	KakaoStatusActive   = "A"
	KakaoStatusBlocked  = "S"
)

// Category is one sender category (Sender API guide: Senderカテゴリーの照会),
// three levels deep; a sender registers with a leaf's 11-character code.
type Category struct {
	ParentCode    string     `json:"parentCode"`
	Depth         int        `json:"depth"`
	Code          string     `json:"code"`
	Name          string     `json:"name"`
	SubCategories []Category `json:"subCategories,omitempty"`
}

// Sender is one sender profile (KakaoTalk channel) as NHN describes it.
type Sender struct {
	PlusFriendID           string          `json:"plusFriendId"`
	SenderKey              string          `json:"senderKey"`
	CategoryCode           string          `json:"categoryCode"`
	Status                 string          `json:"status"`
	StatusName             string          `json:"statusName"`
	KakaoStatus            string          `json:"kakaoStatus"`
	KakaoStatusName        string          `json:"kakaoStatusName"`
	KakaoProfileStatus     string          `json:"kakaoProfileStatus"`
	KakaoProfileStatusName string          `json:"kakaoProfileStatusName"`
	AlimTalk               *SenderSettings `json:"alimtalk"`
	FriendTalk             *SenderSettings `json:"friendtalk"`
	Dormant                bool            `json:"dormant"`
	Block                  bool            `json:"block"`
	CreateDate             string          `json:"createDate"`
}

// SenderSettings are a sender's per-product settings: its SMS fallback and
// its daily quota (DailyMaxCount 0: no limit).
type SenderSettings struct {
	IsResend            bool   `json:"isResend"`
	ResendSendNo        string `json:"resendSendNo"`
	ResendUnsubscribeNo string `json:"resendUnsubscribeNo,omitempty"`
	DailyMaxCount       int    `json:"dailyMaxCount"`
	SentCount           int    `json:"sentCount"`
}

// Usable says why a sender cannot send now, or "" when it can: not yet
// token-verified, blocked (by Kakao or NHN), dormant, or its profile not
// active.
func (s *Sender) Usable() string {
	switch {
	case s.Block || s.KakaoStatus == KakaoStatusBlocked || s.KakaoProfileStatus == "B":
		return "sender is blocked"
	case s.Dormant:
		return "sender is dormant"
	case s.Status != "" && s.Status != SenderRegistered:
		return fmt.Sprintf("sender is not registered (status %s %s): verify its token", s.Status, s.StatusName)
	case s.KakaoProfileStatus != "" && s.KakaoProfileStatus != "A":
		return fmt.Sprintf("sender profile is %s (%s)", s.KakaoProfileStatusName, s.KakaoProfileStatus)
	}
	return ""
}

// SenderFilter selects senders to list; zero fields are left out (NHN's
// defaults: page 1 of 15).
type SenderFilter struct {
	PlusFriendID string
	SenderKey    string
	Status       string
	PageNum      int
	PageSize     int
}

// SenderPage is one page of the sender list.
type SenderPage struct {
	Senders    []Sender `json:"senders"`
	TotalCount int      `json:"totalCount"`
}

// SenderGroup is a sender group and its members.
type SenderGroup struct {
	GroupName  string        `json:"groupName"`
	SenderKey  string        `json:"senderKey"`
	Status     string        `json:"status"`
	Senders    []GroupMember `json:"senders"`
	CreateDate string        `json:"createDate"`
	UpdateDate string        `json:"updateDate"`
}

// GroupMember is one sender of a group.
type GroupMember struct {
	PlusFriendID string `json:"plusFriendId"`
	SenderKey    string `json:"senderKey"`
	CreateDate   string `json:"createDate"`
}

// adminHeader is the header every administration answer carries.
type adminHeader struct {
	Header *responseHeader `json:"header"`
}

// SenderCategories lists the categories a sender registers under.
func (c *Client) SenderCategories(ctx context.Context) ([]Category, error) {
	var out struct {
		Categories []Category `json:"categories"`
	}
	err := c.adminJSON(ctx, http.MethodGet, c.ep.alimTalkAdmin+"/sender/categories", nil, alimTalkAPI{}, &out)
	return out.Categories, err
}

// RegisterSender registers a KakaoTalk channel (plusFriendID, at most 30
// characters) with the administrator's mobile number and a category code
// (11 characters); Kakao then sends a token to that phone, which
// VerifySenderToken takes.
func (c *Client) RegisterSender(ctx context.Context, plusFriendID, phoneNo, categoryCode string) error {
	switch {
	case plusFriendID == "" || len([]rune(plusFriendID)) > 30:
		return invalidAdmin("plusFriendId: 1 to 30 characters")
	case phoneNo == "" || len(phoneNo) > 15 || strings.Trim(phoneNo, "0123456789") != "":
		return invalidAdmin("phoneNo: 1 to 15 digits")
	case len(categoryCode) != 11:
		return invalidAdmin("categoryCode: 11 characters (a leaf of the category list)")
	}
	body := map[string]string{"plusFriendId": plusFriendID, "phoneNo": phoneNo, "categoryCode": categoryCode}
	return c.adminJSON(ctx, http.MethodPost, c.ep.alimTalkAdmin+"/senders", body, alimTalkAPI{}, nil)
}

// VerifySenderToken completes a registration with the token Kakao sent to
// the administrator's KakaoTalk.
func (c *Client) VerifySenderToken(ctx context.Context, plusFriendID string, token int) error {
	if plusFriendID == "" {
		return invalidAdmin("plusFriendId: required")
	}
	body := map[string]any{"plusFriendId": plusFriendID, "token": token}
	return c.adminJSON(ctx, http.MethodPost, c.ep.alimTalkAdmin+"/sender/token", body, alimTalkAPI{}, nil)
}

// DeleteSender deletes a sender and, with it, its templates, for good.
func (c *Client) DeleteSender(ctx context.Context, senderKey string) error {
	return c.adminJSON(ctx, http.MethodDelete, c.ep.alimTalkAdmin+"/senders/"+pathKey(senderKey), nil, alimTalkAPI{}, nil)
}

// Sender gets one sender by its sender key.
func (c *Client) Sender(ctx context.Context, senderKey string) (*Sender, error) {
	var out struct {
		Sender *Sender `json:"sender"`
	}
	if err := c.adminJSON(ctx, http.MethodGet, c.ep.alimTalkAdmin+"/senders/"+pathKey(senderKey), nil, alimTalkAPI{}, &out); err != nil {
		return nil, err
	}
	if out.Sender == nil {
		return nil, adminUnreadable(errors.New("successful answer without sender"))
	}
	return out.Sender, nil
}

// Senders lists one page of senders.
func (c *Client) Senders(ctx context.Context, f SenderFilter) (*SenderPage, error) {
	if f.PageSize < 0 || f.PageSize > MaxSenderPageSize || f.PageNum < 0 {
		return nil, invalidAdmin(fmt.Sprintf("pageSize: 1 to %d, pageNum: 1 or more", MaxSenderPageSize))
	}
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("plusFriendId", f.PlusFriendID)
	set("senderKey", f.SenderKey)
	set("status", f.Status)
	if f.PageNum > 0 {
		v.Set("pageNum", strconv.Itoa(f.PageNum))
	}
	if f.PageSize > 0 {
		v.Set("pageSize", strconv.Itoa(f.PageSize))
	}
	u := c.ep.alimTalkAdmin + "/senders"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	var out SenderPage
	if err := c.adminJSON(ctx, http.MethodGet, u, nil, alimTalkAPI{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SenderGroup gets a sender group by its group sender key.
func (c *Client) SenderGroup(ctx context.Context, groupSenderKey string) (*SenderGroup, error) {
	var out struct {
		SenderGroup *SenderGroup `json:"senderGroup"`
	}
	if err := c.adminJSON(ctx, http.MethodGet, c.ep.alimTalkAdmin+"/sender-groups/"+pathKey(groupSenderKey), nil, alimTalkAPI{}, &out); err != nil {
		return nil, err
	}
	if out.SenderGroup == nil {
		return nil, adminUnreadable(errors.New("successful answer without senderGroup"))
	}
	return out.SenderGroup, nil
}

// AddGroupSender adds a sender to a group (at most 5000 members).
func (c *Client) AddGroupSender(ctx context.Context, groupSenderKey, senderKey string) error {
	return c.adminJSON(ctx, http.MethodPost, c.groupMemberURL(groupSenderKey, senderKey), nil, alimTalkAPI{}, nil)
}

// RemoveGroupSender removes a sender from a group.
func (c *Client) RemoveGroupSender(ctx context.Context, groupSenderKey, senderKey string) error {
	return c.adminJSON(ctx, http.MethodDelete, c.groupMemberURL(groupSenderKey, senderKey), nil, alimTalkAPI{}, nil)
}

func (c *Client) groupMemberURL(group, sender string) string {
	return c.ep.alimTalkAdmin + "/sender-groups/" + pathKey(group) + "/senders/" + pathKey(sender)
}

// pathKey escapes a key for a path segment; an empty key stays empty, and
// NHN answers that call with its own error.
func pathKey(k string) string { return url.PathEscape(k) }

// adminJSON makes one administration call with a JSON body (or none) and
// decodes the answer into out (nil: the header only).
func (c *Client) adminJSON(ctx context.Context, method, u string, body any, api sendAPI, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return invalidAdmin(err.Error())
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return invalidAdmin(err.Error())
	}
	// NHN's guides send the JSON Content-Type on every call, GET included.
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	return c.adminDo(req, api, out)
}

// adminMultipart makes one administration call with a multipart body.
func (c *Client) adminMultipart(ctx context.Context, u string, body *bytes.Buffer, contentType string, api sendAPI, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return invalidAdmin(err.Error())
	}
	req.Header.Set("Content-Type", contentType)
	return c.adminDo(req, api, out)
}

// adminDo sends req with the account's secret and the product's headers,
// and reads NHN's answer (parseAdminAnswer).
func (c *Client) adminDo(req *http.Request, api sendAPI, out any) error {
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Secret-Key", c.secretKey)
	api.header(req.Header)
	resp, err := c.http.Do(req)
	if err != nil {
		return &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
			Message: "no answer", Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminResponse))
	if err != nil {
		return adminUnreadable(err)
	}
	return parseAdminAnswer(resp.StatusCode, data, out)
}

// parseAdminAnswer reads an administration answer of HTTP status into
// out (nil: the header only). A failed header is a *providers.Error with
// NHN's code and message, classified as the send codes are; so is an HTTP
// failure without one.
func parseAdminAnswer(status int, data []byte, out any) error {
	var h adminHeader
	herr := json.Unmarshal(data, &h)
	if herr == nil && h.Header != nil && !h.Header.IsSuccessful {
		o := apiOutcome(h.Header.ResultCode, h.Header.ResultMessage)
		if o.Class == providers.Accepted {
			o.Class, o.Reason = providers.Unknown, result.ReasonOutcomeUnknown
		}
		return &providers.Error{Provider: Name, Class: o.Class, Reason: o.EffectiveReason(), HTTPStatus: status,
			Code: o.Code, CodeName: o.CodeName, Message: o.Message}
	}
	if status/100 != 2 {
		return &providers.Error{Provider: Name, Class: adminStatusClass(status), Reason: adminStatusReason(status),
			HTTPStatus: status, Message: strings.TrimSpace(http.StatusText(status) + " " + providers.Snippet(data))}
	}
	if herr != nil || h.Header == nil {
		return adminUnreadable(fmt.Errorf("answer without a header: %s", providers.Snippet(data)))
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return adminUnreadable(err)
	}
	return nil
}

func adminStatusClass(status int) providers.Class {
	if status == http.StatusTooManyRequests || status >= 500 {
		return providers.Retryable
	}
	return providers.Permanent
}

func adminStatusReason(status int) result.Reason {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return result.ReasonAuth
	case status == http.StatusTooManyRequests:
		return result.ReasonRateLimited
	case status >= 500:
		return result.ReasonProviderUnavailable
	}
	return result.ReasonProviderRejected
}

func invalidAdmin(msg string) error {
	return &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonInvalidJob, Message: msg}
}

func adminUnreadable(err error) error {
	return &providers.Error{Provider: Name, Class: providers.Retryable, Reason: result.ReasonProviderUnavailable,
		Message: "unreadable answer", Err: err}
}

// newMultipart writes a multipart body; fill adds the parts.
func newMultipart(fill func(*multipart.Writer) error) (*bytes.Buffer, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := fill(mw); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}
