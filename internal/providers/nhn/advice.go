package nhn

import (
	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers"
)

var _ providers.Advisor = (*Client)(nil)

// Advice implements providers.Advisor: kind friendtalk on NHN depends on
// the X-Convert-To-Brand-Message compatibility header, which NHN offers
// until about 2026-12-31 (without it FriendTalk fails with -9992 since
// 2025-12-30).
func (c *Client) Advice() []string {
	if !c.apis[job.FriendTalk].(friendTalkAPI).convertBrand {
		return []string{"convert_to_brand_message is off, so NHN refuses every friendtalk job (-9992, FriendTalk ended on 2025-12-31): send kind brandmessage instead"}
	}
	return []string{"friendtalk jobs reach NHN only through the X-Convert-To-Brand-Message compatibility header, offered until about 2026-12-31: move them to kind brandmessage before then"}
}
