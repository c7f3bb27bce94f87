package admin

import (
	"fmt"
	"os"
	"strconv"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/nhn"
)

// SendersCmd is "admin senders".
type SendersCmd struct {
	Categories SenderCategoriesCmd `cmd:"" help:"List the sender categories (register takes a leaf's 11-character code)."`
	Register   SenderRegisterCmd   `cmd:"" help:"Register a KakaoTalk channel as a sender; Kakao then sends a token to the administrator's phone."`
	Token      SenderTokenCmd      `cmd:"" help:"Verify a registration with the token Kakao sent."`
	Get        SenderGetCmd        `cmd:"" help:"Show one sender: status, dormant, blocked, daily quota and count."`
	List       SenderListCmd       `cmd:"" help:"List senders, one page."`
	Delete     SenderDeleteCmd     `cmd:"" help:"Delete a sender and its templates, for good."`
}

// SenderCategoriesCmd is "admin senders categories".
type SenderCategoriesCmd struct{}

// Run lists the categories as leaves with their path.
func (*SenderCategoriesCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	cats, err := c.SenderCategories(e.ctx)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"categories": cats})
	}
	t := newTable(e.stdout, "CODE", "CATEGORY")
	var walk func(prefix string, cs []nhn.Category)
	walk = func(prefix string, cs []nhn.Category) {
		for _, c := range cs {
			name := prefix + c.Name
			if len(c.SubCategories) == 0 {
				t.row(c.Code, name)
			}
			walk(name+" > ", c.SubCategories)
		}
	}
	walk("", cats)
	return t.flush()
}

// SenderRegisterCmd is "admin senders register".
type SenderRegisterCmd struct {
	PlusFriendID string `name:"plus-friend-id" required:"" placeholder:"@ID" help:"The KakaoTalk channel id (at most 30 characters)."`
	Phone        string `required:"" placeholder:"DIGITS" help:"The channel administrator's mobile number (digits, at most 15): Kakao sends the token there."`
	Category     string `required:"" placeholder:"CODE" help:"An 11-character category code (senders categories)."`
}

// Run registers the sender.
func (r *SenderRegisterCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	if err := c.RegisterSender(e.ctx, r.PlusFriendID, r.Phone, r.Category); err != nil {
		return err
	}
	return e.done(map[string]any{"plusFriendId": r.PlusFriendID, "status": nhn.SenderAwaitingToken},
		fmt.Sprintf("registered %s; Kakao sent a token to %s: run \"senders token --plus-friend-id %s --token N\"",
			r.PlusFriendID, job.MaskPhone(r.Phone), r.PlusFriendID))
}

// SenderTokenCmd is "admin senders token".
type SenderTokenCmd struct {
	PlusFriendID string `name:"plus-friend-id" required:"" placeholder:"@ID" help:"The channel id registered."`
	Token        int    `required:"" placeholder:"N" help:"The token Kakao sent to the administrator's KakaoTalk."`
}

// Run verifies the token.
func (r *SenderTokenCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	if err := c.VerifySenderToken(e.ctx, r.PlusFriendID, r.Token); err != nil {
		return err
	}
	return e.done(map[string]any{"plusFriendId": r.PlusFriendID, "status": nhn.SenderRegistered},
		fmt.Sprintf("%s verified; \"senders list --plus-friend-id %s\" shows its sender key", r.PlusFriendID, r.PlusFriendID))
}

// SenderGetCmd is "admin senders get".
type SenderGetCmd struct {
	SenderKey string `arg:"" name:"sender-key" help:"The sender key."`
}

// Run shows the sender.
func (r *SenderGetCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	s, err := c.Sender(e.ctx, r.SenderKey)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"sender": s})
	}
	return senderTable(e, []nhn.Sender{*s})
}

// SenderListCmd is "admin senders list".
type SenderListCmd struct {
	PlusFriendID string `name:"plus-friend-id" placeholder:"@ID" help:"Only this channel."`
	SenderKey    string `name:"sender-key" placeholder:"KEY" help:"Only this sender key."`
	Status       string `enum:",YSC02,YSC03" default:"" help:"Only senders in this status: YSC02 (token not verified) or YSC03 (registered)."`
	Page         int    `default:"1" help:"Page number, from 1."`
	PageSize     int    `default:"15" help:"Senders a page, 1 to 1000."`
}

// Run lists one page.
func (r *SenderListCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	p, err := c.Senders(e.ctx, nhn.SenderFilter{PlusFriendID: r.PlusFriendID, SenderKey: r.SenderKey,
		Status: r.Status, PageNum: r.Page, PageSize: r.PageSize})
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, p)
	}
	if err := senderTable(e, p.Senders); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "page %d: %d of %d senders\n", r.Page, len(p.Senders), p.TotalCount)
	return nil
}

// senderTable prints senders with what decides whether they can send.
func senderTable(e *env, ss []nhn.Sender) error {
	t := newTable(e.stdout, "SENDER KEY", "CHANNEL", "STATUS", "KAKAO", "DORMANT", "BLOCKED", "ALIMTALK TODAY", "FRIENDTALK TODAY", "CAN SEND")
	for _, s := range ss {
		t.row(s.SenderKey, s.PlusFriendID, s.Status, s.KakaoStatus, yesNo(s.Dormant), yesNo(s.Block),
			quota(s.AlimTalk), quota(s.FriendTalk), canSend(s.Usable()))
	}
	return t.flush()
}

// quota is "sent/max" ("sent/-" without a limit).
func quota(s *nhn.SenderSettings) string {
	if s == nil {
		return ""
	}
	if s.DailyMaxCount == 0 {
		return strconv.Itoa(s.SentCount) + "/-"
	}
	return fmt.Sprintf("%d/%d", s.SentCount, s.DailyMaxCount)
}

// SenderDeleteCmd is "admin senders delete".
type SenderDeleteCmd struct {
	SenderKey string `arg:"" name:"sender-key" help:"The sender key."`
}

// Run deletes after confirmation.
func (r *SenderDeleteCmd) Run(e *env) error {
	c, a, err := e.nhn()
	if err != nil {
		return err
	}
	if err := e.confirm(fmt.Sprintf("Delete sender %s of account %s and its templates, for good", r.SenderKey, a.Name)); err != nil {
		return err
	}
	if err := c.DeleteSender(e.ctx, r.SenderKey); err != nil {
		return err
	}
	return e.done(map[string]any{"deleted": r.SenderKey}, "deleted sender "+r.SenderKey)
}

// GroupsCmd is "admin groups".
type GroupsCmd struct {
	Get    GroupGetCmd    `cmd:"" help:"Show a sender group and its senders."`
	Add    GroupAddCmd    `cmd:"" help:"Add a sender to a group (at most 5000)."`
	Remove GroupRemoveCmd `cmd:"" help:"Remove a sender from a group."`
}

// GroupGetCmd is "admin groups get".
type GroupGetCmd struct {
	Group string `arg:"" help:"The group's sender key."`
}

// Run shows the group.
func (r *GroupGetCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	g, err := c.SenderGroup(e.ctx, r.Group)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"senderGroup": g})
	}
	fmt.Fprintf(e.stdout, "group %s (%s), status %s, %d senders\n", g.GroupName, g.SenderKey, g.Status, len(g.Senders))
	t := newTable(e.stdout, "SENDER KEY", "CHANNEL", "ADDED")
	for _, s := range g.Senders {
		t.row(s.SenderKey, s.PlusFriendID, s.CreateDate)
	}
	return t.flush()
}

// GroupAddCmd is "admin groups add".
type GroupAddCmd struct {
	Group     string `arg:"" help:"The group's sender key."`
	SenderKey string `arg:"" name:"sender-key" help:"The sender to add."`
}

// Run adds the sender.
func (r *GroupAddCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	if err := c.AddGroupSender(e.ctx, r.Group, r.SenderKey); err != nil {
		return err
	}
	return e.done(map[string]any{"group": r.Group, "added": r.SenderKey}, "added "+r.SenderKey+" to "+r.Group)
}

// GroupRemoveCmd is "admin groups remove".
type GroupRemoveCmd struct {
	Group     string `arg:"" help:"The group's sender key."`
	SenderKey string `arg:"" name:"sender-key" help:"The sender to remove."`
}

// Run removes the sender after confirmation.
func (r *GroupRemoveCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	if err := e.confirm(fmt.Sprintf("Remove sender %s from group %s", r.SenderKey, r.Group)); err != nil {
		return err
	}
	if err := c.RemoveGroupSender(e.ctx, r.Group, r.SenderKey); err != nil {
		return err
	}
	return e.done(map[string]any{"group": r.Group, "removed": r.SenderKey}, "removed "+r.SenderKey+" from "+r.Group)
}

// ImagesCmd is "admin images".
type ImagesCmd struct {
	Upload ImageUploadCmd `cmd:"" help:"Upload a JPEG or PNG (at most 500 KB; 500 px wide or more, 2:1 to 3:4; wide: 4:3) and print what jobs name it by."`
	List   ImageListCmd   `cmd:"" help:"List uploaded images, latest first."`
	Delete ImageDeleteCmd `cmd:"" help:"Delete uploaded images."`
}

// ImageUploadCmd is "admin images upload".
type ImageUploadCmd struct {
	File string `arg:"" type:"existingfile" help:"The image file."`
	Wide bool   `help:"Upload as a wide image (4:3, 800x600 recommended)."`
}

// Run checks the image's limits and uploads it.
func (r *ImageUploadCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(r.File)
	if err != nil {
		return &usageError{err.Error()}
	}
	im, err := c.UploadImage(e.ctx, r.File, data, r.Wide)
	if err != nil {
		return err
	}
	return e.done(map[string]any{"image": im},
		fmt.Sprintf("uploaded %s: imageSeq %d, imageUrl %s\nin a FriendTalk job of this account, per recipient: \"image\": {\"seq\": %d, \"link\": \"<where a tap on the image goes>\"}",
			im.ImageName, im.ImageSeq, im.ImageURL, im.ImageSeq))
}

// ImageListCmd is "admin images list".
type ImageListCmd struct {
	Page     int `default:"1" help:"Page number, from 1."`
	PageSize int `default:"15" help:"Images a page."`
}

// Run lists one page.
func (r *ImageListCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	p, err := c.Images(e.ctx, r.Page, r.PageSize)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, p)
	}
	t := newTable(e.stdout, "IMAGE SEQ", "NAME", "WIDE", "CREATED", "URL")
	for _, im := range p.Images {
		t.row(strconv.FormatInt(im.ImageSeq, 10), im.ImageName, yesNo(bool(im.Wide)), im.CreateDate, im.ImageURL)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "page %d: %d of %d images\n", r.Page, len(p.Images), p.TotalCount)
	return nil
}

// ImageDeleteCmd is "admin images delete".
type ImageDeleteCmd struct {
	Seqs []int64 `arg:"" name:"image-seq" help:"imageSeq of each image to delete."`
}

// Run deletes after confirmation.
func (r *ImageDeleteCmd) Run(e *env) error {
	c, a, err := e.nhn()
	if err != nil {
		return err
	}
	if err := e.confirm(fmt.Sprintf("Delete %d image(s) of account %s", len(r.Seqs), a.Name)); err != nil {
		return err
	}
	if err := c.DeleteImages(e.ctx, r.Seqs); err != nil {
		return err
	}
	return e.done(map[string]any{"deleted": r.Seqs}, fmt.Sprintf("deleted %d image(s)", len(r.Seqs)))
}

// FallbackCmd is "admin fallback".
type FallbackCmd struct {
	Get    FallbackGetCmd    `cmd:"" help:"Show a FriendTalk sender's SMS fallback (read from the sender: NHN has no call for it)."`
	Set    FallbackSetCmd    `cmd:"" help:"Set a FriendTalk sender's SMS fallback."`
	AppKey FallbackAppKeyCmd `cmd:"" name:"appkey" help:"Set the NHN SMS app key fallbacks are sent through."`
}

// FallbackGetCmd is "admin fallback get".
type FallbackGetCmd struct {
	PlusFriendID string `arg:"" name:"plus-friend-id" help:"The channel id."`
}

// Run shows the fallback.
func (r *FallbackGetCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	f, err := c.FallbackOf(e.ctx, r.PlusFriendID)
	if err != nil {
		return err
	}
	return e.fallback(f)
}

func (e *env) fallback(f *nhn.Fallback) error {
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"fallback": f})
	}
	t := newTable(e.stdout, "CHANNEL", "FALLBACK", "SEND NO", "080 OPT-OUT NO")
	t.row(f.PlusFriendID, yesNo(f.IsResend), f.ResendSendNo, f.ResendUnsubscribeNo)
	return t.flush()
}

// FallbackSetCmd is "admin fallback set".
type FallbackSetCmd struct {
	PlusFriendID  string `arg:"" name:"plus-friend-id" help:"The channel id."`
	Off           bool   `help:"Turn the fallback off (default: on)."`
	SendNo        string `name:"send-no" required:"" placeholder:"DIGITS" help:"The SMS sender number (registered with NHN's SMS service; at most 13 digits)."`
	UnsubscribeNo string `name:"unsubscribe-no" placeholder:"DIGITS" help:"The 080 opt-out number ads need."`
}

// Run sets the fallback.
func (r *FallbackSetCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	f := nhn.Fallback{PlusFriendID: r.PlusFriendID, IsResend: !r.Off, ResendSendNo: r.SendNo, ResendUnsubscribeNo: r.UnsubscribeNo}
	if err := c.SetFallback(e.ctx, f); err != nil {
		return err
	}
	return e.fallback(&f)
}

// FallbackAppKeyCmd is "admin fallback appkey".
type FallbackAppKeyCmd struct {
	SMSAppKey string `arg:"" name:"sms-app-key" help:"The app key of the NHN Cloud SMS project."`
}

// Run sets the SMS app key.
func (r *FallbackAppKeyCmd) Run(e *env) error {
	c, _, err := e.nhn()
	if err != nil {
		return err
	}
	if err := c.SetFallbackAppKey(e.ctx, r.SMSAppKey); err != nil {
		return err
	}
	return e.done(map[string]any{"resendAppKey": r.SMSAppKey}, "fallback SMS app key set")
}
