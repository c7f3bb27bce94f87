package kakao

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// Hosts are the Kakao Enterprise Bizmessage API hosts by name, from the
// API reference's base_url table. The staging hosts are wired to Kakao production:
// they send real messages.
var Hosts = map[string]string{
	"general":         "bizmsg-web.kakaoenterprise.com",
	"bank":            "bizmsg-bank.kakaoenterprise.com",
	"stock":           "bizmsg-stock.kakaoenterprise.com",
	"gov":             "bizmsg-gov.kakaoenterprise.com",
	"staging-general": "stg-user.bizmsg.kakaoenterprise.com",
	"staging-bank":    "stg-bizmsg-bank.kakaoenterprise.com",
	"staging-stock":   "stg-bizmsg-stock.kakaoenterprise.com",
	"staging-gov":     "stg-bizmsg-gov.kakaoenterprise.com",
}

// Option values.
const (
	// AuthKakao sends "Authorization: Basic {clientId} {clientSecret}", the
	// two values separated by a space and not encoded, as Kakao documents.
	AuthKakao = "kakao"
	// AuthRFC sends RFC 7617 Basic: base64("{clientId}:{clientSecret}").
	AuthRFC = "rfc"

	// PhoneNational sends Korean numbers as dialled at home: 01012345678.
	PhoneNational = "national"
	// PhoneInternational sends the country code and the number without its
	// leading 0: 821012345678 (never 82010...).
	PhoneInternational = "international"

	// CIDPlaceholder in send_path is replaced by the message's cid.
	CIDPlaceholder = "{cid}"
	// UIDPlaceholder in detail_path is replaced by the message's uid.
	UIDPlaceholder = "{uid}"
)

// Defaults.
const (
	DefaultHost      = "general"
	DefaultSendPath  = "/v2/send/kakao"
	DefaultTokenPath = "/v2/oauth/token"
	// The message list and detail APIs, which Resolve looks messages up in.
	DefaultSearchPath = "/v2/info/message/search"
	DefaultDetailPath = "/v2/info/message/search/detail/{uid}"
)

// Config is the provider options of a Kakao Enterprise account
// (accounts[].options in the worker config).
type Config struct {
	// Host names the API host from Hosts (default "general"). The account's
	// base_url, when set, overrides it.
	Host string `yaml:"host"`
	// SendPath is the send endpoint (default "/v2/send/kakao"). A "{cid}" in
	// it is replaced by the message's cid, for the operator variant
	// "/v2/request/{cid}/kakao".
	SendPath string `yaml:"send_path"`
	// BrandPath is the Brand Message send endpoint (default
	// "/v2/send/kakao/ftupgrade"); "{cid}" as in send_path.
	BrandPath string `yaml:"brand_path"`
	// TokenPath is the OAuth 2.0 token endpoint (default "/v2/oauth/token").
	TokenPath string `yaml:"token_path"`
	// SearchPath is the message list API that lookups page through by
	// date (default "/v2/info/message/search").
	SearchPath string `yaml:"search_path"`
	// DetailPath is the message detail API, with "{uid}" where the
	// message's uid goes (default "/v2/info/message/search/detail/{uid}").
	DetailPath string `yaml:"detail_path"`
	// AuthStyle is how the token request carries the client credentials:
	// "kakao" (default, as documented) or "rfc" (RFC 7617 base64).
	AuthStyle string `yaml:"auth_style"`
	// PhoneFormat is the form of phone_number: "national" (default, as every
	// example: 01012345678) or "international" (821012345678).
	PhoneFormat string `yaml:"phone_format"`
	// SenderNo is the customer's registered calling number, required by the
	// API even for AlimTalk. A job's failover.from overrides it per message.
	SenderNo string `yaml:"sender_no"`
	// ClientID is sent as client_id when set (the customer id from the
	// contract; optional).
	ClientID string `yaml:"client_id"`
	// NotFoundAfter is how long after a send Kakao's message list must
	// show a message Kakao took: a complete scan that does not find it
	// this long after the send proves Kakao never took it, and the
	// message is sent again. Shorter resends untaken messages sooner; but
	// a message Kakao took and lists later than this is sent twice.
	// Default DefaultNotFoundAfter (2m); 1s to 1h. See
	// docs/providers/kakao.md, "Lookups".
	NotFoundAfter time.Duration `yaml:"not_found_after"`
}

// DefaultConfig returns the options with every default filled in.
func DefaultConfig() Config {
	return Config{
		Host:          DefaultHost,
		SendPath:      DefaultSendPath,
		BrandPath:     DefaultBrandPath,
		TokenPath:     DefaultTokenPath,
		SearchPath:    DefaultSearchPath,
		DetailPath:    DefaultDetailPath,
		AuthStyle:     AuthKakao,
		PhoneFormat:   PhoneNational,
		NotFoundAfter: DefaultNotFoundAfter,
	}
}

// Validate names the first field that is wrong and how to fix it.
func (c Config) Validate() error {
	if _, ok := Hosts[c.Host]; !ok {
		names := make([]string, 0, len(Hosts))
		for n := range Hosts {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("host: %q is not a Kakao Enterprise host name; use one of %s, or set base_url", c.Host, strings.Join(names, ", "))
	}
	if !strings.HasPrefix(c.SendPath, "/") {
		return fmt.Errorf("send_path: %q must start with /", c.SendPath)
	}
	if strings.Contains(strings.ReplaceAll(c.SendPath, CIDPlaceholder, ""), "{") {
		return fmt.Errorf("send_path: %q has a placeholder other than %s", c.SendPath, CIDPlaceholder)
	}
	if !strings.HasPrefix(c.BrandPath, "/") || strings.Contains(strings.ReplaceAll(c.BrandPath, CIDPlaceholder, ""), "{") {
		return fmt.Errorf("brand_path: %q must start with / and has no placeholder other than %s", c.BrandPath, CIDPlaceholder)
	}
	if !strings.HasPrefix(c.TokenPath, "/") {
		return fmt.Errorf("token_path: %q must start with /", c.TokenPath)
	}
	if !strings.HasPrefix(c.SearchPath, "/") || strings.Contains(c.SearchPath, "{") {
		return fmt.Errorf("search_path: %q must start with / and has no placeholder", c.SearchPath)
	}
	if !strings.HasPrefix(c.DetailPath, "/") || strings.Count(c.DetailPath, UIDPlaceholder) != 1 ||
		strings.Contains(strings.ReplaceAll(c.DetailPath, UIDPlaceholder, ""), "{") {
		return fmt.Errorf("detail_path: %q must start with / and hold %s once, and no other placeholder", c.DetailPath, UIDPlaceholder)
	}
	if c.AuthStyle != AuthKakao && c.AuthStyle != AuthRFC {
		return fmt.Errorf("auth_style: %q is not %q or %q", c.AuthStyle, AuthKakao, AuthRFC)
	}
	if c.PhoneFormat != PhoneNational && c.PhoneFormat != PhoneInternational {
		return fmt.Errorf("phone_format: %q is not %q or %q", c.PhoneFormat, PhoneNational, PhoneInternational)
	}
	if c.SenderNo != "" {
		if err := checkSenderNo(c.SenderNo); err != nil {
			return fmt.Errorf("sender_no: %w", err)
		}
	}
	if err := providers.CheckNotFoundAfter(c.NotFoundAfter, "Kakao"); err != nil {
		return err
	}
	return nil
}

// checkSenderNo checks a calling number: digits once hyphens are removed,
// at most 16 (text(16)).
func checkSenderNo(s string) error {
	d := strings.ReplaceAll(s, "-", "")
	if d == "" {
		return fmt.Errorf("empty")
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return fmt.Errorf("%q is not digits and hyphens", s)
		}
	}
	if len(d) > 16 {
		return fmt.Errorf("%d digits, at most 16", len(d))
	}
	return nil
}
