package nhn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // decoders for CheckImage
	_ "image/png"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// Kakao's limits on a FriendTalk image, which NHN passes on (NAVER SENS's
// FriendTalk image upload document states them): a JPEG or PNG file of at
// most 500 KB; a normal image at least 500 px wide with a width:height
// ratio from 2:1 to 3:4; a wide image 4:3 (800x600 recommended).
const (
	MaxImageBytes = 500 * 1024
	MinImageWidth = 500
)

// Image is one uploaded FriendTalk image: ImageSeq (and ImageURL) go into
// jobs (recipient image.seq / image.url).
type Image struct {
	ImageSeq   int64    `json:"imageSeq"`
	ImageURL   string   `json:"imageUrl"`
	ImageName  string   `json:"imageName"`
	Wide       wideFlag `json:"wide"`
	CreateDate string   `json:"createDate,omitempty"`
}

// wideFlag is the list's wide, a boolean the guide writes as a String in
// its sample answer and as a boolean in its table: either is read.
type wideFlag bool

func (w *wideFlag) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseBool(s)
	if err != nil && s != "null" && s != "" {
		return fmt.Errorf("wide: %s is not a boolean", b)
	}
	*w = wideFlag(v)
	return nil
}

// ImagePage is one page of the image list, latest first.
type ImagePage struct {
	Images     []Image `json:"images"`
	TotalCount int     `json:"totalCount"`
}

// CheckImage applies Kakao's limits to an image file before it is
// uploaded, so that a wrong file fails here with the rule it breaks.
func CheckImage(name string, data []byte, wide bool) error {
	if len(data) > MaxImageBytes {
		return fmt.Errorf("%s: %d bytes, at most %d (500 KB)", name, len(data), MaxImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || (format != "jpeg" && format != "png") {
		return fmt.Errorf("%s: not a JPEG or PNG image", name)
	}
	w, h := cfg.Width, cfg.Height
	if wide {
		// 4:3, allowing a pixel of rounding.
		if d := w*3 - h*4; d < -4 || d > 4 {
			return fmt.Errorf("%s: %dx%d px; a wide image is 4:3 (800x600 recommended)", name, w, h)
		}
		return nil
	}
	switch {
	case w < MinImageWidth:
		return fmt.Errorf("%s: %d px wide, at least %d", name, w, MinImageWidth)
	case w > 2*h || 4*w < 3*h:
		return fmt.Errorf("%s: %dx%d px; width:height must be from 2:1 to 3:4 (720x720 recommended)", name, w, h)
	}
	return nil
}

// UploadImage checks an image (CheckImage) and uploads it (FriendTalk
// v1.5: POST images, multipart field image, wide).
func (c *Client) UploadImage(ctx context.Context, name string, data []byte, wide bool) (*Image, error) {
	if err := CheckImage(name, data, wide); err != nil {
		return nil, invalidAdmin(err.Error())
	}
	body, contentType, err := newMultipart(func(mw *multipart.Writer) error {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="image"; filename=%q`, filepath.Base(name)))
		h.Set("Content-Type", http.DetectContentType(data))
		part, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if _, err := part.Write(data); err != nil {
			return err
		}
		return mw.WriteField("wide", strconv.FormatBool(wide))
	})
	if err != nil {
		return nil, invalidAdmin(err.Error())
	}
	var out struct {
		Image *Image `json:"image"`
	}
	if err := c.adminMultipart(ctx, c.ep.friendTalkAdmin+"/images", body, contentType, c.friendTalk(), &out); err != nil {
		return nil, err
	}
	if out.Image == nil {
		return nil, adminUnreadable(errors.New("successful answer without image"))
	}
	out.Image.Wide = wideFlag(wide)
	return out.Image, nil
}

// Images lists one page of uploaded images (pageNum from 1, pageSize;
// 0 leaves NHN's defaults, page 1 of 15).
func (c *Client) Images(ctx context.Context, pageNum, pageSize int) (*ImagePage, error) {
	if pageNum < 0 || pageSize < 0 {
		return nil, invalidAdmin("pageNum and pageSize: 1 or more")
	}
	v := url.Values{}
	if pageNum > 0 {
		v.Set("pageNum", strconv.Itoa(pageNum))
	}
	if pageSize > 0 {
		v.Set("pageSize", strconv.Itoa(pageSize))
	}
	u := c.ep.friendTalkAdmin + "/images"
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	var out struct {
		Page *ImagePage `json:"imagesResponse"`
	}
	if err := c.adminJSON(ctx, http.MethodGet, u, nil, c.friendTalk(), &out); err != nil {
		return nil, err
	}
	if out.Page == nil {
		return nil, adminUnreadable(errors.New("successful answer without imagesResponse"))
	}
	return out.Page, nil
}

// DeleteImages deletes uploaded images by imageSeq.
func (c *Client) DeleteImages(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return invalidAdmin("imageSeq: at least one")
	}
	s := make([]string, len(seqs))
	for i, n := range seqs {
		s[i] = strconv.FormatInt(n, 10)
	}
	// The guide's example writes the list as imageSeq=1,2,3: commas unescaped.
	u := c.ep.friendTalkAdmin + "/images?imageSeq=" + strings.Join(s, ",")
	return c.adminJSON(ctx, http.MethodDelete, u, nil, c.friendTalk(), nil)
}

// Fallback is a FriendTalk sender's SMS fallback (failback) setting.
type Fallback struct {
	PlusFriendID        string `json:"plusFriendId"`
	IsResend            bool   `json:"isResend"`
	ResendSendNo        string `json:"resendSendNo"`
	ResendUnsubscribeNo string `json:"resendUnsubscribeNo,omitempty"`
}

// SetFallback sets a sender's SMS fallback (FriendTalk v1.5: POST
// failback). resendSendNo is at most 13 digits and must be a number
// registered with NHN's SMS service, or the fallback fails.
func (c *Client) SetFallback(ctx context.Context, f Fallback) error {
	switch {
	case f.PlusFriendID == "" || len([]rune(f.PlusFriendID)) > 30:
		return invalidAdmin("plusFriendId: 1 to 30 characters")
	case f.ResendSendNo == "" || len(f.ResendSendNo) > 13 || strings.Trim(f.ResendSendNo, "0123456789") != "":
		return invalidAdmin("resendSendNo: 1 to 13 digits")
	case strings.Trim(f.ResendUnsubscribeNo, "0123456789") != "":
		return invalidAdmin("resendUnsubscribeNo: digits")
	}
	return c.adminJSON(ctx, http.MethodPost, c.ep.friendTalkAdmin+"/failback", f, c.friendTalk(), nil)
}

// SetFallbackAppKey sets the SMS app key fallbacks are sent through
// (FriendTalk v1.5: POST failback/appkey).
func (c *Client) SetFallbackAppKey(ctx context.Context, smsAppKey string) error {
	if smsAppKey == "" {
		return invalidAdmin("resendAppKey: required")
	}
	body := map[string]string{"resendAppKey": smsAppKey}
	return c.adminJSON(ctx, http.MethodPost, c.ep.friendTalkAdmin+"/failback/appkey", body, c.friendTalk(), nil)
}

// FallbackOf reads a sender's current FriendTalk fallback: NHN has no
// call to get it, the sender's friendtalk settings carry it.
func (c *Client) FallbackOf(ctx context.Context, plusFriendID string) (*Fallback, error) {
	page, err := c.Senders(ctx, SenderFilter{PlusFriendID: plusFriendID})
	if err != nil {
		return nil, err
	}
	for _, s := range page.Senders {
		if s.PlusFriendID != plusFriendID {
			continue
		}
		f := &Fallback{PlusFriendID: plusFriendID}
		if s.FriendTalk != nil {
			f.IsResend, f.ResendSendNo, f.ResendUnsubscribeNo = s.FriendTalk.IsResend, s.FriendTalk.ResendSendNo, s.FriendTalk.ResendUnsubscribeNo
		}
		return f, nil
	}
	return nil, &providers.Error{Provider: Name, Class: providers.Permanent, Reason: result.ReasonProviderRejected,
		Code: "-2017", CodeName: "sender profile not found", Message: "no sender with plusFriendId " + plusFriendID}
}

// friendTalk is the FriendTalk API of the account, for its headers.
func (c *Client) friendTalk() sendAPI { return c.apis[job.FriendTalk] }
