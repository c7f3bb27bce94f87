package nhn

import (
	"strconv"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// codeRule classifies one API result code, or a range of them (lo <= code <= hi).
type codeRule struct {
	lo, hi int
	name   string
	class  providers.Class
	reason result.Reason // empty: the class's default
}

// apiCodes is THE classification of NHN's integer API result codes, used
// alike for header.resultCode (the whole request) and for
// sendResults[].resultCode (one recipient). Exact codes come first, then the
// ranges NHN Cloud's current documents call permanent (-1000…-1027 is lo -1027, hi
// -1000); the first matching rule wins.
// Names: NHN Cloud's current documents for 0, -1005, -7000, -9992, -9999; the rest from
// NHN's published error-code page. The retryable/permanent split is ours.
var apiCodes = []codeRule{
	{0, 0, "success", providers.Accepted, ""},
	{4, 4, "parameter validation failed", providers.Permanent, ""},
	{-1000, -1000, "invalid appkey", providers.Permanent, result.ReasonAuth},
	{-1001, -1001, "invalid secretKey", providers.Permanent, result.ReasonAuth},
	{-1002, -1002, "invalid SMS appkey", providers.Permanent, ""},
	{-1003, -1003, "invalid SMS sender number", providers.Permanent, ""},
	// Not a proof that the first call was taken: only the lookup by
	// grouping key (Resolve) can tell.
	{-1005, -1005, "same X-NC-API-IDEMPOTENCY-KEY within 10 minutes", providers.Unknown, ""},
	{-1006, -1006, "sender profile has no sender key", providers.Permanent, ""},
	{-1014, -1014, "sender profile not activated", providers.Permanent, ""},
	{-1017, -1017, "daily sending volume exceeded", providers.Permanent, ""},
	{-1019, -1019, "invalid fallback 080 opt-out number", providers.Permanent, ""},
	{-1027, -1027, "sender profile blocked", providers.Permanent, ""},
	{-1027, -1000, "account or sender error", providers.Permanent, ""},
	// Header codes meaning "every recipient failed": the per-recipient
	// results say why, and Send uses them when they map (see outcomes).
	{-1031, -1031, "all recipients failed", providers.Permanent, ""},
	{-2999, -2999, "all recipients failed", providers.Permanent, ""},
	{-2000, -2000, "field value too long", providers.Permanent, ""},
	{-2001, -2001, "field value blank", providers.Permanent, ""},
	{-2002, -2002, "field value null", providers.Permanent, ""},
	{-2017, -2017, "sender profile not found", providers.Permanent, ""},
	{-2018, -2018, "invalid button parameter", providers.Permanent, ""},
	{-2022, -2022, "imageLink missing for attached image", providers.Permanent, ""},
	{-2023, -2023, "FriendTalk body over 400 characters with an image", providers.Permanent, ""},
	{-2024, -2024, "FriendTalk body over 1000 characters", providers.Permanent, ""},
	{-2025, -2025, "reserved date in the past", providers.Permanent, ""},
	{-2026, -2026, "reserved date too far ahead", providers.Permanent, ""},
	{-2027, -2027, "date format error", providers.Permanent, ""},
	{-2037, -2000, "request validation error", providers.Permanent, ""},
	{-3349, -3000, "template error", providers.Permanent, ""},
	{-4019, -4019, "sender or template state error", providers.Permanent, ""},
	{-5000, -5000, "request refused", providers.Permanent, ""},
	{-7000, -7000, "vendor call failed", providers.Retryable, ""},
	{-9992, -9992, "retired API", providers.Permanent, ""},
	{-9999, -9999, "system error", providers.Retryable, ""},
}

// ruleFor returns the rule of an API result code. A code in no rule is
// treated as a refusal: NHN answered, and said no for a reason we do not
// know; resending blindly could repeat it forever.
func ruleFor(code int) codeRule {
	for _, r := range apiCodes {
		if r.lo <= code && code <= r.hi {
			return r
		}
	}
	return codeRule{code, code, "undocumented result code", providers.Permanent, ""}
}

// apiOutcome is the outcome of an API result code with NHN's message.
func apiOutcome(code int, message string) providers.Outcome {
	r := ruleFor(code)
	return providers.Outcome{Class: r.class, Reason: r.reason, Code: strconv.Itoa(code), CodeName: r.name, Message: message}
}

// deliveryCodes classifies the string result codes of delivery (the list,
// single-message and message-results queries: resultCode "1000"...). They
// are not in a send answer; Resolve reads them from the list (see
// recordOutcome, which counts "3005" and fallbacks as sent). Names from NHN Cloud's current documents ("1000", "3005", "3012", "3022") and
// Kakao's shared delivery codes.
var deliveryCodes = map[string]struct {
	name  string
	class providers.Class
}{
	"1000": {"delivered", providers.Accepted},
	// Sent, but Kakao never confirmed receipt: never resend.
	"3005": {"sent, receipt unconfirmed", providers.Unknown},
	// At NHN this is "Kakao communication failure" (at NAVER it means a
	// duplicate serial: the tables are per provider).
	"3012": {"Kakao communication failure", providers.Retryable},
	"2003": {"recipient is not a channel friend", providers.Permanent},
	"3008": {"invalid phone number", providers.Permanent},
	"3015": {"template not found", providers.Permanent},
	"3016": {"content does not match the template", providers.Permanent},
	"3018": {"message cannot be sent", providers.Permanent},
	"3019": {"recipient is not a KakaoTalk user", providers.Permanent},
	"3022": {"ad outside allowed hours (20:50-08:00 KST)", providers.Permanent},
	"3027": {"buttons do not match the template", providers.Permanent},
	"3028": {"title does not match the template", providers.Permanent},
}

// DeliveryOutcome classifies a delivery result code from NHN's query APIs.
// Unlisted codes are failures reported by Kakao: Permanent.
func DeliveryOutcome(code string) providers.Outcome {
	d, ok := deliveryCodes[code]
	if !ok {
		return providers.Outcome{Class: providers.Permanent, Code: code, CodeName: "undocumented delivery code"}
	}
	return providers.Outcome{Class: d.class, Code: code, CodeName: d.name}
}
