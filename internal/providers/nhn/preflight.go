package nhn

import (
	"context"
	"fmt"
	"strings"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

var (
	_ providers.Preflighter  = (*Client)(nil)
	_ providers.SenderLookup = (*Client)(nil)
)

// SenderState implements providers.SenderLookup: Preflight of the sender.
func (c *Client) SenderState(ctx context.Context, sender string) (providers.Readiness, error) {
	return c.Preflight(ctx, sender)
}

// Preflight implements providers.Preflighter: the sender (a sender key,
// or a plusFriendId for FriendTalk) must be listed, registered, not
// blocked or dormant. Without a sender it checks the credentials only.
func (c *Client) Preflight(ctx context.Context, sender string) (providers.Readiness, error) {
	if sender == "" {
		_, err := c.Senders(ctx, SenderFilter{PageSize: 1})
		return providers.Readiness{}, err
	}
	s, err := c.findSender(ctx, sender)
	switch {
	case err != nil:
		return providers.Readiness{}, err
	case s == nil:
		return providers.Readiness{Problem: fmt.Sprintf("sender %s is not registered with this app key", sender)}, nil
	}
	return providers.Readiness{Problem: s.Usable(), Quota: s.quota(), Quotas: s.quotas()}, nil
}

// findSender lists the sender by sender key, then by plusFriendId; nil
// when NHN lists neither.
func (c *Client) findSender(ctx context.Context, sender string) (*Sender, error) {
	for _, f := range []SenderFilter{{SenderKey: sender}, {PlusFriendID: sender}} {
		page, err := c.Senders(ctx, f)
		if err != nil {
			return nil, err
		}
		for i := range page.Senders {
			if s := &page.Senders[i]; s.SenderKey == sender || s.PlusFriendID == sender {
				return s, nil
			}
		}
	}
	return nil, nil
}

// quotas are the sender's daily quotas (dailyMaxCount 0: none).
func (s *Sender) quotas() []providers.Quota {
	var out []providers.Quota
	if s.AlimTalk != nil && s.AlimTalk.DailyMaxCount > 0 {
		out = append(out, providers.Quota{Kind: job.AlimTalk, Max: s.AlimTalk.DailyMaxCount, Sent: s.AlimTalk.SentCount})
	}
	if s.FriendTalk != nil && s.FriendTalk.DailyMaxCount > 0 {
		out = append(out, providers.Quota{Kind: job.FriendTalk, Max: s.FriendTalk.DailyMaxCount, Sent: s.FriendTalk.SentCount})
	}
	return out
}

// quota describes the daily quotas the sender has.
func (s *Sender) quota() string {
	var parts []string
	for _, p := range []struct {
		name string
		s    *SenderSettings
	}{{"AlimTalk", s.AlimTalk}, {"FriendTalk", s.FriendTalk}} {
		if p.s != nil && p.s.DailyMaxCount > 0 {
			parts = append(parts, fmt.Sprintf("%s %d of %d sent today", p.name, p.s.SentCount, p.s.DailyMaxCount))
		}
	}
	return strings.Join(parts, ", ")
}
