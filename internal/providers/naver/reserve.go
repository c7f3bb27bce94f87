package naver

import "time"

// ReserveHorizon is how far ahead NAVER takes a reservation
// (reserve_horizon_days).
func (c *Client) ReserveHorizon() time.Duration {
	return time.Duration(c.cfg.ReserveHorizonDays) * 24 * time.Hour
}
