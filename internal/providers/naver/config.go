package naver

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"

	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
)

// Hosts of the SENS API.
const (
	PublicBaseURL = "https://sens.apigw.ntruss.com"
	GovBaseURL    = "https://sens.apigw.gov-ntruss.com"
)

// Path templates of the AlimTalk API (NAVER Cloud SENS AlimTalk API document), in
// one place. The adapter calls the send path and, with GET, the request
// query on the same path (Resolve: NAVER has no idempotency key, so a send
// whose answer was lost is looked up, never resent blindly); the others
// are listed for reference.
const (
	// SendPath answers 202 with one entry per message.
	SendPath = "/alimtalk/v2/services/{serviceId}/messages"
	// RequestQueryPath takes ?requestId= or a requestStartTime/requestEndTime
	// window; an empty 404 means nothing matched. It is always the send
	// path (send_path) with GET.
	RequestQueryPath = "/alimtalk/v2/services/{serviceId}/messages"
	// ResultPath is the delivery result of one message.
	ResultPath = "/alimtalk/v2/services/{serviceId}/messages/{messageId}"
	// ReserveStatusPath and CancelReservationPath act on a reservation.
	ReserveStatusPath     = "/alimtalk/v2/services/{serviceId}/reservations/{reserveId}/reserve-status"
	CancelReservationPath = "/alimtalk/v2/services/{serviceId}/reservations/{reserveId}"
)

// Summary placements: where the item list's summary goes in a message.
const (
	// SummaryInItem sends messages[].item.summary, the shape of Kakao's
	// own item-list payload and of NAVER's template query response.
	SummaryInItem = "item"
	// SummaryInMessage sends messages[].summary, as the API document's send table
	// writes it.
	SummaryInMessage = "message"
)

// Config is the options of a naver account (accounts[].options).
type Config struct {
	// ServiceID is the Biz Message project's service id, e.g.
	// ncp:kkobizmsg:kr:123456789012:name. Required. Sent unescaped in the path.
	ServiceID string `yaml:"service_id"`
	// Host picks the default base URL when the account sets no base_url:
	// "public" (default, sens.apigw.ntruss.com) or "gov"
	// (sens.apigw.gov-ntruss.com).
	Host string `yaml:"host"`
	// SendPath is the send path template; {serviceId} is replaced.
	// Default /alimtalk/v2/services/{serviceId}/messages.
	SendPath string `yaml:"send_path"`
	// ReserveTimeZone is the TZ database name reserveTime is written in and
	// sent as reserveTimeZone. Default Asia/Seoul.
	ReserveTimeZone string `yaml:"reserve_time_zone"`
	// ReserveHorizonDays is how far ahead a reservation may be; the API document
	// gives no limit. Default 60 (NHN documents 60 days for the same Kakao
	// product).
	ReserveHorizonDays int `yaml:"reserve_horizon_days"`
	// SummaryPlacement is "item" (default: messages[].item.summary) or
	// "message" (messages[].summary, the API document's literal path).
	SummaryPlacement string `yaml:"summary_placement"`
	// LookupTimeZone is the TZ database name the request query's
	// requestStartTime/requestEndTime are written in. The current API
	// reference gives the format (YYYY-MM-DD HH:mm:ss) but no zone; NAVER's
	// console and requestTime are KST. Default Asia/Seoul.
	LookupTimeZone string `yaml:"lookup_time_zone"`
	// HeaderMaxBytes, when > 0, also limits headerContent to fewer than
	// this many UTF-8 bytes (the API document: "less than 16 bytes"). Default 0:
	// only Kakao's 16-character limit (error 3032) applies.
	HeaderMaxBytes int `yaml:"header_max_bytes"`
	// NotFoundAfter is how long after a send the request query must list
	// a message NAVER took: a lookup that finds nothing this long after
	// the send proves NAVER never took it, and the message is sent again.
	// Shorter resends untaken messages sooner; but a message NAVER took
	// and lists later than this is sent twice. Default
	// DefaultNotFoundAfter (2m); 1s to 1h. See docs/providers/naver.md,
	// "Lookups".
	NotFoundAfter time.Duration `yaml:"not_found_after"`
}

// DefaultConfig returns the defaults every field falls back to.
func DefaultConfig() Config {
	return Config{
		Host:               "public",
		SendPath:           SendPath,
		ReserveTimeZone:    "Asia/Seoul",
		LookupTimeZone:     "Asia/Seoul",
		ReserveHorizonDays: 60,
		SummaryPlacement:   SummaryInItem,
		NotFoundAfter:      DefaultNotFoundAfter,
	}
}

// Validate names the first field that is wrong and how to fix it.
func (c Config) Validate() error {
	switch {
	case c.ServiceID == "":
		return fmt.Errorf("service_id: required (the Biz Message service id, e.g. ncp:kkobizmsg:kr:123456789012:name)")
	case strings.ContainsAny(c.ServiceID, "/?#% \t\r\n"):
		return fmt.Errorf("service_id: %q must not contain '/', '?', '#', '%%' or spaces", c.ServiceID)
	case c.Host != "public" && c.Host != "gov":
		return fmt.Errorf("host: %q must be public or gov", c.Host)
	case !strings.HasPrefix(c.SendPath, "/") || !strings.Contains(c.SendPath, "{serviceId}"):
		return fmt.Errorf("send_path: %q must start with / and contain {serviceId}", c.SendPath)
	case c.ReserveHorizonDays < 1 || c.ReserveHorizonDays > 366:
		return fmt.Errorf("reserve_horizon_days: %d is out of range 1..366", c.ReserveHorizonDays)
	case c.SummaryPlacement != SummaryInItem && c.SummaryPlacement != SummaryInMessage:
		return fmt.Errorf("summary_placement: %q must be item or message", c.SummaryPlacement)
	case c.HeaderMaxBytes < 0:
		return fmt.Errorf("header_max_bytes: %d is negative", c.HeaderMaxBytes)
	}
	if _, err := c.location(); err != nil {
		return fmt.Errorf("reserve_time_zone: %w", err)
	}
	if _, err := loadZone(c.LookupTimeZone); err != nil {
		return fmt.Errorf("lookup_time_zone: %w", err)
	}
	return providers.CheckNotFoundAfter(c.NotFoundAfter, "NAVER")
}

// location loads ReserveTimeZone.
func (c Config) location() (*time.Location, error) { return loadZone(c.ReserveTimeZone) }

// loadZone loads a TZ database name. Asia/Seoul falls back to a fixed
// +09:00 (Korea has kept no daylight saving time since 1988) where the
// system has no time zone database.
func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return nil, fmt.Errorf("required (a TZ database name such as Asia/Seoul)")
	}
	loc, err := time.LoadLocation(name)
	if err == nil {
		return loc, nil
	}
	if name == "Asia/Seoul" {
		return msgcheck.KST, nil
	}
	return nil, fmt.Errorf("%q is not a TZ database name known here: %w", name, err)
}

// baseURL returns the base URL the account sends to: base_url when set,
// otherwise the host's default.
func (c Config) baseURL(override string) (string, error) {
	base := override
	if base == "" {
		base = PublicBaseURL
		if c.Host == "gov" {
			base = GovBaseURL
		}
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("base_url: %q must be scheme://host[:port][/prefix]", base)
	}
	return strings.TrimRight(base, "/"), nil
}
