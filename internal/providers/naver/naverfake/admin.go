package naverfake

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Channel is a KakaoTalk channel the fake lists (GET …/channels).
type Channel struct {
	ChannelID, ChannelName string
	// Status is ACTIVE, DELETED, DELETING_PERMANENTLY,
	// PERMANENTLY_DELETED, BLOCKED or PENDING_DELETE.
	Status             string
	IsBlock, IsDormant bool
}

// Template is an AlimTalk template the fake lists (GET …/templates).
type Template struct {
	ChannelID, Code, Name, Content string
	// InspectionStatus is ACCEPT, REGISTER, INSPECT, COMPLETE or REJECT;
	// Status ACTIVE, READY or STOP.
	InspectionStatus, Status string
	IsBlock, IsDormant       bool
	// Buttons are type and name pairs, in order.
	Buttons [][2]string
	// Comment is the inspection comment the details carry.
	Comment string
}

type adminState struct {
	channels  []Channel
	templates []Template
	queries   []url.Values // of the channel and template queries, in order
	statuses  []int        // NextAdminStatus's queue
}

// NextAdminStatus answers the coming channel and template queries, one
// each, with these HTTP failures (writeStatus), after the signature is
// checked.
func (f *Fake) NextAdminStatus(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin.statuses = append(f.admin.statuses, statuses...)
}

// AddChannel adds a channel: ACTIVE unless c says otherwise.
func (f *Fake) AddChannel(c Channel) {
	if c.Status == "" {
		c.Status = "ACTIVE"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin.channels = append(f.admin.channels, c)
}

// AddTemplate adds a template: inspected (COMPLETE) and ACTIVE unless t
// says otherwise.
func (f *Fake) AddTemplate(t Template) {
	if t.InspectionStatus == "" {
		t.InspectionStatus = "COMPLETE"
	}
	if t.Status == "" {
		t.Status = "ACTIVE"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin.templates = append(f.admin.templates, t)
}

// EditTemplate changes the template with this code.
func (f *Fake) EditTemplate(code string, edit func(*Template)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.admin.templates {
		if f.admin.templates[i].Code == code {
			edit(&f.admin.templates[i])
		}
	}
}

// AdminQueries lists the parameters of the channel and template queries
// in arrival order.
func (f *Fake) AdminQueries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.admin.queries...)
}

// serveAdmin answers the channel and template queries; false when r is
// neither.
func (f *Fake) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	prefix := "/alimtalk/v2/services/" + f.serviceID + "/"
	path, _, _ := strings.Cut(r.RequestURI, "?")
	what, ok := strings.CutPrefix(path, prefix)
	if !ok || (what != "channels" && what != "templates") {
		return false
	}
	if r.Method != http.MethodGet {
		f.tb.Errorf("naverfake: %s %s, want GET", r.Method, r.RequestURI)
		http.Error(w, "", http.StatusMethodNotAllowed)
		return true
	}
	if p := f.signatureProblem(r); p != "" {
		// Not a breach: a wrong secret is what preflight must report.
		writeGatewayError(w, http.StatusUnauthorized, "200", "Authentication Failed", p)
		return true
	}
	q := r.URL.Query()
	f.mu.Lock()
	f.admin.queries = append(f.admin.queries, q)
	injected := 0
	if len(f.admin.statuses) > 0 {
		injected, f.admin.statuses = f.admin.statuses[0], f.admin.statuses[1:]
	}
	f.mu.Unlock()
	if injected != 0 {
		writeStatus(w, injected, "")
		return true
	}

	allowed := map[string]bool{"pageSize": true, "pageIndex": true}
	if what == "templates" {
		allowed["channelId"], allowed["templateCode"], allowed["templateName"] = true, true, true
	}
	var problems []string
	for k := range q {
		if !allowed[k] {
			problems = append(problems, "unknown parameter "+k)
		}
	}
	size, index := 100, 0
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			problems = append(problems, "pageSize "+v+" is not 1 to 100")
		}
		size = n
	}
	if v := q.Get("pageIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			problems = append(problems, "pageIndex "+v+" is not 0 or more")
		}
		index = n
	}
	if what == "templates" && q.Get("channelId") == "" {
		problems = append(problems, "channelId is required")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			f.tb.Errorf("naverfake: %s: %s", r.RequestURI, p)
		}
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": 400, "errors": problems, "errorMessage": "Bad Request"})
		return true
	}

	var items []map[string]any
	f.mu.Lock()
	if what == "channels" {
		for _, c := range f.admin.channels {
			items = append(items, f.channelJSON(c))
		}
	} else {
		for _, t := range f.admin.templates {
			if t.ChannelID != q.Get("channelId") || (q.Get("templateCode") != "" && t.Code != q.Get("templateCode")) ||
				!strings.Contains(t.Name, q.Get("templateName")) {
				continue
			}
			items = append(items, templateJSON(t, q.Get("templateCode") != ""))
		}
	}
	f.mu.Unlock()
	from := index * size
	if from >= len(items) {
		// NAVER's answer when nothing matches: an empty 404.
		w.WriteHeader(http.StatusNotFound)
		return true
	}
	writeJSON(w, http.StatusOK, items[from:min(from+size, len(items))])
	return true
}

const adminTime = "2026-01-05T10:00:00.000"

func (f *Fake) channelJSON(c Channel) map[string]any {
	return map[string]any{"createTime": adminTime, "serviceId": f.serviceID, "channelId": c.ChannelID,
		"channelName": c.ChannelName, "channelStatus": c.Status, "useSmsFailover": false,
		"isBlock": c.IsBlock, "isDormant": c.IsDormant}
}

// templateJSON is a template as the query writes it; the details carry
// the inspection comments.
func templateJSON(t Template, details bool) map[string]any {
	buttons := []map[string]any{}
	for i, b := range t.Buttons {
		buttons = append(buttons, map[string]any{"order": i + 1, "type": b[0], "name": b[1]})
	}
	out := map[string]any{"createTime": adminTime, "channelId": t.ChannelID, "templateCode": t.Code,
		"templateName": t.Name, "categoryCode": "999999", "categoryName": "기타", "messageType": "BA",
		"emphasizeType": "NONE", "content": t.Content, "templateInspectionStatus": t.InspectionStatus,
		"templateStatus": t.Status, "buttons": buttons, "useImage": false, "useHeaderContent": false,
		"useItemHighlight": false, "useItemHighlightImage": false, "securityFlag": false,
		"isBlock": t.IsBlock, "isDormant": t.IsDormant}
	if details && t.Comment != "" {
		status := "APR"
		if t.InspectionStatus == "REJECT" {
			status = "REJ"
		}
		out["comments"] = []map[string]any{{"commentId": "1", "content": t.Comment, "status": status, "create": adminTime}}
	}
	return out
}
