package admin

import (
	"fmt"
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers/naver"
)

// ChannelsCmd is "admin channels".
type ChannelsCmd struct {
	List ChannelListCmd `cmd:"" help:"List the service's KakaoTalk channels with their status."`
	Get  ChannelGetCmd  `cmd:"" help:"Show one channel."`
}

// ChannelListCmd is "admin channels list".
type ChannelListCmd struct{}

// Run lists every channel.
func (*ChannelListCmd) Run(e *env) error {
	c, _, err := e.naver()
	if err != nil {
		return err
	}
	chs, err := c.Channels(e.ctx)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"channels": nonNil(chs)})
	}
	return channelTable(e, chs)
}

// ChannelGetCmd is "admin channels get".
type ChannelGetCmd struct {
	ChannelID string `arg:"" name:"channel-id" help:"The channel id (plusFriendId)."`
}

// Run shows the channel.
func (r *ChannelGetCmd) Run(e *env) error {
	c, _, err := e.naver()
	if err != nil {
		return err
	}
	ch, err := c.Channel(e.ctx, r.ChannelID)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"channel": ch})
	}
	return channelTable(e, []naver.Channel{*ch})
}

func channelTable(e *env, chs []naver.Channel) error {
	t := newTable(e.stdout, "CHANNEL", "NAME", "STATUS", "DORMANT", "BLOCKED", "SMS FAILOVER", "CAN SEND")
	for _, ch := range chs {
		t.row(ch.ChannelID, ch.ChannelName, ch.ChannelStatus, yesNo(ch.IsDormant), yesNo(ch.IsBlock),
			yesNo(ch.UseSmsFailover), canSend(ch.Usable()))
	}
	return t.flush()
}

// TemplatesCmd is "admin templates".
type TemplatesCmd struct {
	List TemplateListCmd `cmd:"" help:"List a channel's AlimTalk templates with their inspection and status."`
	Get  TemplateGetCmd  `cmd:"" help:"Show one template: content, buttons, inspection comments."`
}

// TemplateListCmd is "admin templates list".
type TemplateListCmd struct {
	Channel string `required:"" placeholder:"ID" help:"The channel id."`
	Name    string `placeholder:"TEXT" help:"Only templates whose name contains TEXT."`
}

// Run lists the templates.
func (r *TemplateListCmd) Run(e *env) error {
	c, _, err := e.naver()
	if err != nil {
		return err
	}
	ts, err := c.Templates(e.ctx, r.Channel, r.Name)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"templates": nonNil(ts)})
	}
	t := newTable(e.stdout, "TEMPLATE", "NAME", "INSPECTION", "STATUS", "BUTTONS", "CAN SEND")
	for _, tp := range ts {
		t.row(tp.TemplateCode, tp.TemplateName, tp.TemplateInspectionStatus, tp.TemplateStatus,
			fmt.Sprint(len(tp.Buttons)), canSend(tp.Usable()))
	}
	return t.flush()
}

// TemplateGetCmd is "admin templates get".
type TemplateGetCmd struct {
	Channel string `required:"" placeholder:"ID" help:"The channel id."`
	Code    string `arg:"" name:"template-code" help:"The template code."`
}

// Run shows the template.
func (r *TemplateGetCmd) Run(e *env) error {
	c, _, err := e.naver()
	if err != nil {
		return err
	}
	tp, err := c.Template(e.ctx, r.Channel, r.Code)
	if err != nil {
		return err
	}
	if e.cli.JSON {
		return writeJSON(e.stdout, map[string]any{"template": tp})
	}
	t := newTable(e.stdout, "FIELD", "VALUE")
	t.row("template", tp.TemplateCode+" ("+tp.TemplateName+")")
	t.row("inspection", tp.TemplateInspectionStatus)
	t.row("status", tp.TemplateStatus)
	t.row("can send", canSend(tp.Usable()))
	t.row("type", tp.MessageType+" / "+tp.EmphasizeType)
	for _, b := range tp.Buttons {
		t.row(fmt.Sprintf("button %d", b.Order), strings.TrimSpace(b.Type+" "+b.Name+" "+b.LinkMobile))
	}
	for _, cm := range tp.Comments {
		t.row("comment "+cm.Status, cm.Content)
	}
	if err := t.flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\n%s\n", tp.Content)
	return nil
}
