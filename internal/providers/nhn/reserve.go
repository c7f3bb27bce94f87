package nhn

import "time"

// ReserveHorizon is how far ahead NHN takes a requestDate.
func (c *Client) ReserveHorizon() time.Duration { return reserveHorizon }
