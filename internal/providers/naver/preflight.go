package naver

import (
	"context"

	"github.com/talkrelay/talkrelay/internal/providers"
)

var (
	_ providers.Preflighter  = (*Client)(nil)
	_ providers.SenderLookup = (*Client)(nil)
)

// SenderState implements providers.SenderLookup: Preflight of the channel.
func (c *Client) SenderState(ctx context.Context, sender string) (providers.Readiness, error) {
	return c.Preflight(ctx, sender)
}

// Preflight implements providers.Preflighter: the channel query answers
// (the signature is accepted) and the sender, the channel id jobs send
// as plusFriendId, is listed and ACTIVE, not blocked or dormant.
func (c *Client) Preflight(ctx context.Context, sender string) (providers.Readiness, error) {
	chs, err := c.Channels(ctx)
	if err != nil || sender == "" {
		return providers.Readiness{}, err
	}
	for i := range chs {
		if chs[i].ChannelID == sender {
			return providers.Readiness{Problem: chs[i].Usable()}, nil
		}
	}
	return providers.Readiness{Problem: "channel " + sender + " is not a channel of service " + c.cfg.ServiceID}, nil
}
