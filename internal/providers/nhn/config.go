package nhn

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/providers"
)

// DefaultBaseURL is NHN Cloud's KakaoTalk Bizmessage host since 2026-02. The
// earlier guides' api-alimtalk.cloud.toast.com may or may not still answer; an
// account can point elsewhere with base_url.
const DefaultBaseURL = "https://kakaotalk-bizmessage.api.nhncloudservice.com"

// Path templates of the send APIs, relative to the base URL: the one place
// that knows NHN's URL layout. {version} comes from Config, {appkey} is the
// account's app_key (path-escaped).
const (
	// AlimTalk with template variables rendered by NHN (recipientList[].templateParameter).
	pathAlimTalkTemplate = "/alimtalk/{version}/appkeys/{appkey}/messages"
	// AlimTalk with the full rendered text (recipientList[].content).
	pathAlimTalkRaw = "/alimtalk/{version}/appkeys/{appkey}/raw-messages"
	// FriendTalk v1.5 (FriendTalk v1.5 API guide), kept alive until about 2026-12-31 by
	// the X-Convert-To-Brand-Message header.
	pathFriendTalk = "/friendtalk/{version}/appkeys/{appkey}/messages"
	// Brand Message, FriendTalk's successor: free-form and template-based.
	pathBrandFreestyle = "/brand-message/{version}/appkeys/{appkey}/freestyle-messages"
	pathBrandBasic     = "/brand-message/{version}/appkeys/{appkey}/basic-messages"

	// The message list APIs (GET, query parameters only), which Resolve
	// pages through. FriendTalk v1.5: the FriendTalk v1.5 API guide (送信リスト照会). AlimTalk
	// v2.3: not in the notes, which document only its send; assumed to
	// mirror FriendTalk's (docs/providers/nhn.md, unverified).
	pathAlimTalkList   = "/alimtalk/{version}/appkeys/{appkey}/messages"
	pathFriendTalkList = "/friendtalk/{version}/appkeys/{appkey}/messages"
	pathBrandList      = "/brand-message/{version}/appkeys/{appkey}/messages"
)

// SecretKeyCredential is the credential the adapter needs: the account's
// secret key, sent as X-Secret-Key.
const SecretKeyCredential = "secret_key"

// Config is the NHN provider's options (accounts[].options).
type Config struct {
	// AppKey is the KakaoTalk Bizmessage app key of the NHN Cloud project
	// (required). It is not a secret: it appears in every URL.
	AppKey string `yaml:"app_key"`
	// ConvertToBrandMessage sends X-Convert-To-Brand-Message: true on
	// FriendTalk v1.5 calls, without which NHN refuses them since FriendTalk
	// ended on 2025-12-31 (default true).
	ConvertToBrandMessage bool `yaml:"convert_to_brand_message"`
	// AlimTalkVersion is the AlimTalk API version in the path (default v2.3).
	AlimTalkVersion string `yaml:"alimtalk_version"`
	// FriendTalkVersion is the FriendTalk API version in the path (default
	// v1.5, the only one whose request shape this adapter builds).
	FriendTalkVersion string `yaml:"friendtalk_version"`
	// BrandMessageVersion is the Brand Message API version in the path
	// (default v1.0).
	BrandMessageVersion string `yaml:"brand_message_version"`
	// NotFoundAfter is how long after a send NHN's list must show a
	// message NHN took: a lookup that finds nothing this long after the
	// send proves NHN never took it, and the message is sent again.
	// Shorter resends untaken messages sooner; but a message NHN took and
	// lists later than this is sent twice. Default DefaultNotFoundAfter
	// (2m); 1s to 1h. See docs/providers/nhn.md, "Lookups".
	NotFoundAfter time.Duration `yaml:"not_found_after"`
}

// DefaultConfig returns the options an account gets before its own are
// decoded over them.
func DefaultConfig() Config {
	return Config{
		ConvertToBrandMessage: true,
		AlimTalkVersion:       "v2.3",
		FriendTalkVersion:     "v1.5",
		BrandMessageVersion:   "v1.0",
		NotFoundAfter:         DefaultNotFoundAfter,
	}
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+$`)

// Validate names the first option that is missing or malformed.
func (c Config) Validate() error {
	switch {
	case strings.TrimSpace(c.AppKey) == "":
		return fmt.Errorf("app_key: required (the KakaoTalk Bizmessage app key from the NHN Cloud console)")
	case strings.ContainsAny(c.AppKey, "/?# \t\r\n"):
		return fmt.Errorf("app_key: must not contain '/', '?', '#' or spaces")
	case !versionRE.MatchString(c.AlimTalkVersion):
		return fmt.Errorf("alimtalk_version: %q is not an API version like v2.3", c.AlimTalkVersion)
	case !versionRE.MatchString(c.FriendTalkVersion):
		return fmt.Errorf("friendtalk_version: %q is not an API version like v1.5", c.FriendTalkVersion)
	case !versionRE.MatchString(c.BrandMessageVersion):
		return fmt.Errorf("brand_message_version: %q is not an API version like v1.0", c.BrandMessageVersion)
	}
	return providers.CheckNotFoundAfter(c.NotFoundAfter, "NHN")
}

// endpoints are the absolute URLs of one account.
type endpoints struct {
	alimTalkTemplate, alimTalkRaw, friendTalk string
	alimTalkList, friendTalkList              string
	brandFreestyle, brandBasic, brandList     string
	// The administration APIs' prefixes (admin.go): senders, sender
	// groups and categories under AlimTalk; images and fallback settings
	// under FriendTalk.
	alimTalkAdmin, friendTalkAdmin string
}

func newEndpoints(baseURL string, c Config) (endpoints, error) {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return endpoints{}, fmt.Errorf("base_url: %q must be http(s)://host[:port][/prefix]", baseURL)
	}
	base := strings.TrimRight(baseURL, "/")
	fill := func(tmpl, version string) string {
		return base + strings.NewReplacer("{version}", version, "{appkey}", url.PathEscape(c.AppKey)).Replace(tmpl)
	}
	return endpoints{
		alimTalkTemplate: fill(pathAlimTalkTemplate, c.AlimTalkVersion),
		alimTalkRaw:      fill(pathAlimTalkRaw, c.AlimTalkVersion),
		friendTalk:       fill(pathFriendTalk, c.FriendTalkVersion),
		alimTalkList:     fill(pathAlimTalkList, c.AlimTalkVersion),
		friendTalkList:   fill(pathFriendTalkList, c.FriendTalkVersion),
		brandFreestyle:   fill(pathBrandFreestyle, c.BrandMessageVersion),
		brandBasic:       fill(pathBrandBasic, c.BrandMessageVersion),
		brandList:        fill(pathBrandList, c.BrandMessageVersion),
		alimTalkAdmin:    fill(pathAlimTalkAdmin, c.AlimTalkVersion),
		friendTalkAdmin:  fill(pathFriendTalkAdmin, c.FriendTalkVersion),
	}, nil
}
