package naver

import (
	"strings"

	"github.com/talkrelay/talkrelay/internal/providers"
	"github.com/talkrelay/talkrelay/internal/result"
)

// codeRow is one documented per-message code: what NAVER answers in
// messages[].requestStatusCode (and, for delivery, messageStatusCode).
type codeRow struct {
	Code   string
	Name   string // the API document's "Error text"; ours where the document has "-" (marked)
	Class  providers.Class
	Reason result.Reason // empty: the class's default
}

const (
	acc  = providers.Accepted
	retr = providers.Retryable
	perm = providers.Permanent
	unkn = providers.Unknown
)

// codeTable is the one classification of NAVER's per-message codes: A000
// (request accepted) plus the API document's AlimTalk result code table, in the
// document's order.
//
// How the classes were decided:
//   - B000..B999 are relay failures between NAVER and its relay company;
//     the API document says SMS failover never runs for them, so resending cannot
//     duplicate a fallback SMS. They are NAVER's retryable class (notes),
//     even B003/B400 whose texts read like format errors: the dispatcher's
//     attempt limit bounds them.
//   - 3005 AckTimeout: sent, receipt unconfirmed. Unknown: never resend.
//   - Unknown is also used where the text does not say whether Kakao took
//     the message: 3000 (unexpected error while processing), 4000 (no send
//     result found), 4001 (unknown message state).
//   - Retryable system errors are those whose text says Kakao or NAVER
//     failed before or instead of sending: 2000 (friendship check system
//     error), 2004 (template match check internal error), 2005 (image
//     metadata read error at Kakao), 3006 (send failed on a KakaoTalk
//     internal system error), 8999 (internal server error), 9998 (service
//     not provided now, under investigation), 9999 (unexplained system
//     trouble, under investigation). When the message asked for SMS
//     failover, a non-B failure may already have triggered the fallback
//     SMS, so classify turns these into Unknown (see classify).
//   - Everything else is about the request, template, channel or recipient
//     and will fail the same way again: Permanent.
var codeTable = []codeRow{
	{"A000", "success", acc, ""},
	{"0000", "success", acc, ""},
	{"1001", "NoJsonBody", perm, ""},
	{"1002", "InvalidHubPartnerKey", perm, ""},
	{"1003", "InvalidSenderKey", perm, ""},
	{"1004", "NoValueJsonElement", perm, ""},
	{"1005", "SenderNotFound", perm, ""},
	{"1006", "DeletedSender", perm, ""},
	{"1007", "StoppedSender", perm, ""},
	{"1011", "ContractNotFound", perm, ""},
	{"1012", "InvalidUserKeyException", perm, result.ReasonInvalidRecipient},
	{"1013", "InvalidAppLink", perm, ""},
	{"1014", "InvalidBizNum", perm, ""},
	{"1015", "TalkUserIdNotFonud", perm, result.ReasonInvalidRecipient}, // sic
	{"1016", "BizNumNotEqual", perm, ""},
	{"1020", "InvalidReceiveUserException", perm, result.ReasonInvalidRecipient},
	{"1021", "BlockedProfile", perm, ""},
	{"1022", "DeactivatedProfile", perm, ""},
	{"1023", "DeletedProfile", perm, ""},
	{"1024", "DeletingProfile", perm, ""},
	{"1025", "SpammedProfile", perm, ""},
	{"1026", "UnableUseMessageType", perm, ""},
	{"1027", "ChannelSanctioned", perm, ""}, // ours: the document has "-"
	{"1030", "InvalidParameterException", perm, ""},
	{"1033", "TemplateTypeMismatch", perm, ""}, // ours: the document has "-"
	{"2000", "FailedToCheckFriendshipException", retr, ""},
	{"2003", "FailedToSendMessageByNoFriendshipException", perm, result.ReasonInvalidRecipient},
	{"2004", "FailedToMatchTemplateException", retr, ""},
	{"2005", "FailedToReadImageException", retr, ""},
	{"2006", "FailedToMatchSerialNumberPrefixPattern", perm, ""},
	{"3000", "UnexceptedExcetpion", unkn, ""}, // sic
	{"3005", "AckTimeoutException", unkn, ""},
	{"3006", "FailedToSendMessageException", retr, ""},
	{"3008", "InvalidPhoneNumberException", perm, result.ReasonInvalidRecipient},
	{"3010", "JsonParsseExcetpion", perm, ""}, // sic
	{"3011", "MessageNotFoundException", perm, ""},
	{"3012", "SerialNumberDuplicatedException", perm, ""},
	{"3013", "MessageEmptyException", perm, ""},
	{"3014", "MessageLengthOverLimitException", perm, ""},
	{"3015", "TemplateNotFoundException", perm, ""},
	{"3016", "NoMatchedTemplateException", perm, ""},
	{"3018", "NoSendAvailableException", perm, ""},
	{"3019", "MessageNoUserException", perm, result.ReasonInvalidRecipient},
	{"3020", "MessageUserBlockedAlimTalkException", perm, result.ReasonInvalidRecipient},
	{"3021", "MessageNotSupportedKakaotalkException", perm, result.ReasonInvalidRecipient},
	{"3022", "NoSendAvailableTimeException", perm, ""},
	{"3023", "MessageInvalidVideoException", perm, ""},
	{"3024", "MessageInvaildImageException", perm, ""}, // sic
	{"3025", "ExceedMaxVariableLengthException", perm, ""},
	{"3026", "InvalidExtra(EventName)Exception", perm, ""},
	{"3027", "NoMatchedTemplateButtonException", perm, ""},
	{"3028", "NoMatchedTemplateTitleException", perm, ""},
	{"3029", "ExceedMaxTitleLengthException", perm, ""},
	{"3030", "NoMatchedTemplateWithMessageTypeException", perm, ""},
	{"3031", "NoMatchedTemplateHeaderException", perm, ""},
	{"3032", "ExceedMaxHeaderLengthException", perm, ""},
	{"3033", "NoMatchedTemplateItemHighlightException", perm, ""},
	{"3034", "ExceedMaxItemHighlightTitleLengthException", perm, ""},
	{"3035", "ExceedMaxItemHighlightDescriptionLengthException", perm, ""},
	{"3036", "NoMatchedTemplateItemListException", perm, ""},
	{"3037", "ExceedMaxItemDescriptionLengthException", perm, ""},
	{"3038", "NoMatchedTemplateItemSummaryException", perm, ""},
	{"3039", "ExceedMaxItemSummaryDescriptionLengthException", perm, ""},
	{"3040", "InvalidItemSummaryDescriptionException", perm, ""},
	{"3041", "MessageInvalidWideItemListLengthException", perm, ""},
	{"3042", "NoMatchedTemplateRepresentLinkException", perm, ""},
	{"3046", "ExceedMaxAdditionalContentLengthException", perm, ""},
	{"3047", "ExceedMaxCommerceTitleLengthException", perm, ""},
	{"3050", "MessageNotSupportedUnsubscribeException", perm, ""},
	{"3051", "InvalidateCarouselItemMin/MaxException", perm, ""},
	{"3052", "CarouselMessageLengthOverLimitException", perm, ""},
	{"3056", "WideItemListTitleLengthOverLimitException", perm, ""},
	{"3058", "CarouselHeaderLengthOverLimitException", perm, ""},
	{"3059", "MessageNotSupportedCouponException", perm, ""},
	{"4000", "ResponseHistoryNotFoundException", unkn, ""},
	{"4001", "UnKnownMessageStatusError", unkn, ""},
	{"7011", "SerialNumberPatternError", perm, ""},  // ours: the document has "-"
	{"7014", "MessageValidTimeExceeded", perm, ""},  // ours: the document has "-"
	{"8512", "ReceiverTypeNotFound", perm, ""},      // ours: the document has "-"
	{"8514", "RequestIdNotFound", perm, ""},         // ours: the document has "-"
	{"8520", "UnsupportedProductType", perm, ""},    // ours: the document has "-"
	{"8521", "UnsupportedMessageType", perm, ""},    // ours: the document has "-"
	{"8522", "UnsupportedTextType", perm, ""},       // ours: the document has "-"
	{"8523", "UnsupportedResponseMethod", perm, ""}, // ours: the document has "-"
	{"8530", "ReceiverListSizeError", perm, ""},     // ours: the document has "-"
	{"8999", "InternalServerError", retr, ""},       // ours: the document has "-"
	{"9998", "ServiceNotAvailable", retr, ""},       // ours: the document's text: 現在サービスを提供していません。
	{"9999", "UnknownSystemError", retr, ""},        // ours: the document's text is a sentence
	{"B000", "Prepare to relay failed", retr, ""},
	{"B001", "Request to relay failed", retr, ""},
	{"B002", "Filtering for request to relay failed", retr, ""},
	{"B003", "Invalid phone number format", retr, ""},
	{"B004", "Quota Exceed", retr, result.ReasonRateLimited},
	{"B005", "Message processing timeout exceed", retr, ""},
	{"B400", "Invalid Request", retr, ""},
	{"B999", "Unexpected server error", retr, ""},
}

var codes = func() map[string]codeRow {
	m := make(map[string]codeRow, len(codeTable))
	for _, r := range codeTable {
		if _, dup := m[r.Code]; dup {
			panic("naver: duplicate code " + r.Code)
		}
		m[r.Code] = r
	}
	return m
}()

// classify turns one message's answer into its class.
//
// Codes outside the table: a B-prefixed code is a relay failure like its
// documented neighbours, so Retryable. Any other unknown code is Permanent
// with the code kept: NAVER answered this message with a failure we cannot
// read, and without an idempotency key a resend of an unread refusal risks
// a duplicate or a loop; Permanent puts it in front of a person, who adds
// it to the table. The exception is an unknown code that NAVER itself
// names "success": that message may have been taken, so Unknown.
//
// useFailover is the message's useSmsFailover as NAVER answered it. SMS
// failover runs for every non-success code except B codes (SENS AlimTalk API document), so a
// retryable system error on a failover message may already have produced
// the fallback SMS; resending it could reach the recipient twice, hence
// Unknown.
func classify(code, statusName string, useFailover bool) (providers.Class, result.Reason, string) {
	row, ok := codes[code]
	switch {
	case ok:
	case len(code) == 4 && code[0] == 'B' && isDigits(code[1:]):
		row = codeRow{Code: code, Class: retr}
	case strings.EqualFold(statusName, "success"):
		return unkn, result.ReasonOutcomeUnknown, ""
	default:
		return perm, result.ReasonProviderRejected, ""
	}
	class, reason := row.Class, row.Reason
	if class == retr && code[0] != 'B' && useFailover {
		class, reason = unkn, result.ReasonOutcomeUnknown
	}
	if reason == "" {
		reason = class.DefaultReason()
	}
	return class, reason, row.Name
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// gatewayNames are the NAVER Cloud API Gateway's documented error codes
// ({"error":{"errorCode":...}}). They are names only: a gateway error is
// classified by its HTTP status (see classifyHTTP).
var gatewayNames = map[string]string{
	"100": "Bad Request Exception",
	"200": "Authentication Failed",
	"210": "Permission Denied",
	"300": "Not Found Exception",
	"400": "Quota Exceeded",
	"410": "Throttle Limited",
	"420": "Rate Limited",
	"430": "Request Entity Too Large",
	"500": "Endpoint Error",
	"510": "Endpoint Timeout",
	"900": "Unexpected Error",
}
