package nhnfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The administration APIs the fake serves, from NHN's documents:
//   - AlimTalk Sender API v2.0/2.1 (the current v2.3 has the same shapes):
//     sender categories, register, token, delete, get, list, sender
//     groups get/add/remove;
//   - FriendTalk v1.5: images upload/list/delete, fallback (failback)
//     settings and SMS app key.
var (
	senderRoute     = regexp.MustCompile(`^/alimtalk/v2\.[0-3]/appkeys/([^/]+)/(sender/categories|sender/token|senders|senders/([^/]+)|sender-groups/([^/]+)|sender-groups/([^/]+)/senders/([^/]+))$`)
	friendTalkAdmin = regexp.MustCompile(`^/friendtalk/v1\.5/appkeys/([^/]+)/(images|failback|failback/appkey)$`)
)

// MaxGroupSenders is the most members a sender group has (Sender API guide).
const MaxGroupSenders = 5000

// Sender is a sender profile the fake holds, as the Sender API describes
// one. Tests add senders with AddSender and change them with EditSender
// (block, dormant, quota).
type Sender struct {
	PlusFriendID, SenderKey, CategoryCode string
	// Status is YSC02 (token not verified) or YSC03 (registered).
	Status string
	// KakaoStatus is A (normal) or S (blocked); KakaoProfileStatus A
	// (active), B (blocked), C (disabled), D (deleted), E (deleting).
	KakaoStatus, KakaoProfileStatus string
	Dormant, Block                  bool
	AlimTalkDailyMax, AlimTalkSent  int
	FriendTalkDailyMax              int
	FriendTalkSent                  int
	// FriendTalk fallback (failback) settings.
	IsResend                          bool
	ResendSendNo, ResendUnsubscribeNo string
	// Token is what Kakao sent the administrator after registration.
	Token      int
	CreateDate string
}

// Image is an image the fake holds.
type Image struct {
	Seq        int64
	Name       string
	Wide       bool
	Size       int
	CreateDate string
}

type group struct {
	name    string
	members []string // sender keys
}

// adminState is what the administration APIs act on.
type adminState struct {
	senders   []*Sender // registration order
	groups    map[string]*group
	images    []Image // upload order
	imageSeq  int64
	smsAppKey string
	calls     []string // "METHOD path" of each administration call
	statuses  []int    // NextAdminStatus's queue
}

// NextAdminStatus answers the coming administration calls, one each, with
// these HTTP failures (writeStatus: NHN's JSON error for 429 and 500, a
// gateway's page for the rest), after the credentials are checked.
func (f *Fake) NextAdminStatus(statuses ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin.statuses = append(f.admin.statuses, statuses...)
}

// AddSender adds a registered, active sender unless s says otherwise.
func (f *Fake) AddSender(s Sender) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s.Status == "" {
		s.Status = "YSC03"
	}
	if s.KakaoStatus == "" && s.Status == "YSC03" {
		s.KakaoStatus, s.KakaoProfileStatus = "A", "A"
	}
	if s.CreateDate == "" {
		s.CreateDate = f.now().In(kst).Format("2006-01-02 15:04:05")
	}
	f.admin.senders = append(f.admin.senders, &s)
}

// EditSender changes the sender with this key (or plusFriendId).
func (f *Fake) EditSender(key string, edit func(*Sender)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.findSender(key)
	if s == nil {
		panic("nhnfake: no sender " + key)
	}
	edit(s)
}

// SenderOf returns a copy of the sender with this key or plusFriendId.
func (f *Fake) SenderOf(key string) (Sender, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.findSender(key); s != nil {
		return *s, true
	}
	return Sender{}, false
}

// AddGroup adds an empty sender group.
func (f *Fake) AddGroup(groupSenderKey, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin.groups[groupSenderKey] = &group{name: name}
}

// GroupMembers lists a group's sender keys.
func (f *Fake) GroupMembers(groupSenderKey string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.admin.groups[groupSenderKey]; g != nil {
		return append([]string(nil), g.members...)
	}
	return nil
}

// Images returns the images the fake holds, in upload order.
func (f *Fake) Images() []Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Image(nil), f.admin.images...)
}

// SMSAppKey is the fallback SMS app key last set.
func (f *Fake) SMSAppKey() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.admin.smsAppKey
}

// AdminCalls lists the administration calls ("GET /alimtalk/…") in
// arrival order.
func (f *Fake) AdminCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.admin.calls...)
}

func (f *Fake) findSender(key string) *Sender {
	for _, s := range f.admin.senders {
		if s.SenderKey == key || s.PlusFriendID == key {
			return s
		}
	}
	return nil
}

// serveAdmin answers the administration APIs; false when r is not one.
func (f *Fake) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	if m := senderRoute.FindStringSubmatch(r.URL.Path); m != nil {
		f.adminCall(w, r, "alimtalk", m[1], func() (int, any) { return f.serveSender(r, m) })
		return true
	}
	if m := friendTalkAdmin.FindStringSubmatch(r.URL.Path); m != nil {
		f.adminCall(w, r, "friendtalk", m[1], func() (int, any) { return f.serveFriendTalkAdmin(r, m[2]) })
		return true
	}
	return false
}

// adminError is an answer with a failed header, NHN's error shape.
type adminError struct {
	code int
	msg  string
}

func fail(code int, format string, args ...any) (int, any) {
	return http.StatusOK, adminError{code, fmt.Sprintf(format, args...)}
}

// adminCall checks what every call carries and writes the answer of serve:
// a failed header (adminError) or a successful one with the body's fields.
func (f *Fake) adminCall(w http.ResponseWriter, r *http.Request, product, appKey string, serve func() (int, any)) {
	t := f.tb
	f.mu.Lock()
	f.admin.calls = append(f.admin.calls, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if appKey != f.appKey {
		// NHN's answer to an unknown app key.
		writeAdmin(w, http.StatusOK, adminError{-1000, "Invalid appKey."})
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	upload := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/images")
	switch {
	case upload && (err != nil || mt != "multipart/form-data" || params["boundary"] == ""):
		t.Errorf("nhnfake: %s %s: Content-Type %q, want multipart/form-data", r.Method, r.URL.Path, ct)
	case !upload && (err != nil || mt != "application/json" || !strings.EqualFold(params["charset"], "utf-8")):
		t.Errorf("nhnfake: %s %s: Content-Type %q, want application/json;charset=UTF-8", r.Method, r.URL.Path, ct)
	}
	brand := r.Header.Get("X-Convert-To-Brand-Message")
	if product == "friendtalk" && brand != "true" {
		t.Errorf("nhnfake: FriendTalk v1.5 call without X-Convert-To-Brand-Message: true (got %q)", brand)
	}
	if product == "alimtalk" && brand != "" {
		t.Errorf("nhnfake: AlimTalk call with X-Convert-To-Brand-Message %q", brand)
	}
	if r.Header.Get("X-Secret-Key") != f.secretKey {
		// A wrong secret is what preflight and the admin command must
		// report, not a breach of the protocol.
		writeAdmin(w, http.StatusOK, adminError{-1001, "Invalid secretKey."})
		return
	}
	f.mu.Lock()
	var injected int
	if len(f.admin.statuses) > 0 {
		injected, f.admin.statuses = f.admin.statuses[0], f.admin.statuses[1:]
	}
	f.mu.Unlock()
	if injected != 0 {
		writeStatus(w, injected, "")
		return
	}
	status, body := serve()
	writeAdmin(w, status, body)
}

func writeAdmin(w http.ResponseWriter, status int, body any) {
	out := map[string]any{}
	if e, ok := body.(adminError); ok {
		out["header"] = map[string]any{"resultCode": e.code, "resultMessage": e.msg, "isSuccessful": false}
	} else {
		if m, ok := body.(map[string]any); ok {
			out = m
		}
		out["header"] = map[string]any{"resultCode": 0, "resultMessage": "SUCCESS", "isSuccessful": true}
	}
	data, _ := json.Marshal(out)
	writeJSON(w, status, string(data))
}

// decodeStrict decodes a JSON body with no unknown fields.
func (f *Fake) decodeStrict(r *http.Request, v any) bool {
	body, _ := io.ReadAll(r.Body)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		f.tb.Errorf("nhnfake: %s %s: body: %v", r.Method, r.URL.Path, err)
		return false
	}
	return true
}

// noBody reports a body on a call that has none.
func (f *Fake) noBody(r *http.Request) {
	if b, _ := io.ReadAll(r.Body); len(b) > 0 {
		f.tb.Errorf("nhnfake: %s %s carries a body: %q", r.Method, r.URL.Path, b)
	}
}

// categories is a part of Kakao's category tree: 健康 - 病院 - 総合病院,
// the guide's example, and a second leaf.
var categories = []map[string]any{{
	"parentCode": "", "depth": 1, "code": "001", "name": "건강",
	"subCategories": []map[string]any{{
		"parentCode": "001", "depth": 2, "code": "0010001", "name": "병원",
		"subCategories": []map[string]any{
			{"parentCode": "0010001", "depth": 3, "code": "00100010001", "name": "종합병원"},
			{"parentCode": "0010001", "depth": 3, "code": "00100010002", "name": "치과"},
		},
	}},
}}

func isLeafCategory(code string) bool {
	return code == "00100010001" || code == "00100010002"
}

func (f *Fake) serveSender(r *http.Request, m []string) (int, any) {
	route, key, groupKey, memberGroup, member := m[2], m[3], m[4], m[5], m[6]
	switch {
	case route == "sender/categories" && r.Method == http.MethodGet:
		f.noBody(r)
		return http.StatusOK, map[string]any{"categories": categories}
	case route == "senders" && r.Method == http.MethodPost:
		return f.register(r)
	case route == "sender/token" && r.Method == http.MethodPost:
		return f.verifyToken(r)
	case route == "senders" && r.Method == http.MethodGet:
		return f.listSenders(r)
	case key != "" && r.Method == http.MethodGet:
		f.noBody(r)
		f.mu.Lock()
		defer f.mu.Unlock()
		s := f.findSender(key)
		if s == nil || s.SenderKey != key {
			return fail(-2017, "Sender is not found.")
		}
		return http.StatusOK, map[string]any{"sender": senderJSON(s)}
	case key != "" && r.Method == http.MethodDelete:
		f.noBody(r)
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, s := range f.admin.senders {
			if s.SenderKey == key {
				f.admin.senders = append(f.admin.senders[:i], f.admin.senders[i+1:]...)
				return http.StatusOK, nil
			}
		}
		return fail(-2017, "Sender is not found.")
	case groupKey != "" && r.Method == http.MethodGet:
		f.noBody(r)
		return f.getGroup(groupKey)
	case member != "" && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		f.noBody(r)
		return f.editGroup(memberGroup, member, r.Method == http.MethodPost)
	}
	f.tb.Errorf("nhnfake: unexpected %s %s", r.Method, r.URL.Path)
	return http.StatusMethodNotAllowed, adminError{-9999, "method not allowed"}
}

func (f *Fake) register(r *http.Request) (int, any) {
	var req struct {
		PlusFriendID *string `json:"plusFriendId"`
		PhoneNo      *string `json:"phoneNo"`
		CategoryCode *string `json:"categoryCode"`
	}
	if !f.decodeStrict(r, &req) {
		return fail(-2000, "Request body is invalid.")
	}
	switch {
	case req.PlusFriendID == nil || req.PhoneNo == nil || req.CategoryCode == nil:
		f.tb.Errorf("nhnfake: register sender: plusFriendId, phoneNo and categoryCode are mandatory")
		return fail(-2002, "Mandatory field is null.")
	case utf8.RuneCountInString(*req.PlusFriendID) > 30 || len(*req.PhoneNo) > 15 || !digitsRE.MatchString(*req.PhoneNo):
		f.tb.Errorf("nhnfake: register sender: plusFriendId over 30 characters or phoneNo not 1-15 digits")
		return fail(-2000, "Field value is too long.")
	case len(*req.CategoryCode) != 11:
		f.tb.Errorf("nhnfake: register sender: categoryCode %q is not 11 characters", *req.CategoryCode)
		return fail(-2000, "Invalid category code.")
	case !isLeafCategory(*req.CategoryCode):
		return fail(-2000, "Category code %s does not exist.", *req.CategoryCode)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.findSender(*req.PlusFriendID) != nil {
		return fail(-4019, "Sender is already registered.")
	}
	n := len(f.admin.senders) + 1
	f.admin.senders = append(f.admin.senders, &Sender{PlusFriendID: *req.PlusFriendID, CategoryCode: *req.CategoryCode,
		SenderKey: fmt.Sprintf("%040x", n), Status: "YSC02", Token: 100000 + n,
		CreateDate: f.now().In(kst).Format("2006-01-02 15:04:05")})
	return http.StatusOK, nil
}

func (f *Fake) verifyToken(r *http.Request) (int, any) {
	var req struct {
		PlusFriendID *string          `json:"plusFriendId"`
		Token        *json.RawMessage `json:"token"`
	}
	if !f.decodeStrict(r, &req) {
		return fail(-2000, "Request body is invalid.")
	}
	if req.PlusFriendID == nil || req.Token == nil {
		f.tb.Errorf("nhnfake: sender token: plusFriendId and token are mandatory")
		return fail(-2002, "Mandatory field is null.")
	}
	token, err := strconv.Atoi(string(*req.Token))
	if err != nil {
		f.tb.Errorf("nhnfake: sender token: token %s is not an Integer", *req.Token)
		return fail(-2000, "token must be an integer.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.findSender(*req.PlusFriendID)
	switch {
	case s == nil:
		return fail(-2017, "Sender is not found.")
	case s.Status != "YSC02" || s.Token != token:
		return fail(-4019, "Invalid token.")
	}
	s.Status, s.KakaoStatus, s.KakaoProfileStatus = "YSC03", "A", "A"
	return http.StatusOK, nil
}

// pageParams reads pageNum and pageSize (defaults 1 and 15) and reports
// values the guide does not allow.
func (f *Fake) pageParams(q url.Values, maxSize int) (num, size int, ok bool) {
	num, size = 1, 15
	for name, p := range map[string]*int{"pageNum": &num, "pageSize": &size} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || (name == "pageSize" && maxSize > 0 && n > maxSize) {
			f.tb.Errorf("nhnfake: %s=%q out of range", name, v)
			return 0, 0, false
		}
		*p = n
	}
	return num, size, true
}

func (f *Fake) listSenders(r *http.Request) (int, any) {
	f.noBody(r)
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "plusFriendId", "senderKey", "status", "pageNum", "pageSize":
		default:
			f.tb.Errorf("nhnfake: senders list: unknown parameter %q", k)
		}
	}
	num, size, ok := f.pageParams(q, 1000)
	if !ok {
		return fail(-2000, "Invalid page parameter.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var match []map[string]any
	for _, s := range f.admin.senders {
		if v := q.Get("plusFriendId"); v != "" && v != s.PlusFriendID ||
			q.Get("senderKey") != "" && q.Get("senderKey") != s.SenderKey ||
			q.Get("status") != "" && q.Get("status") != s.Status {
			continue
		}
		match = append(match, senderJSON(s))
	}
	return http.StatusOK, map[string]any{"senders": page(match, num, size), "totalCount": len(match)}
}

func page[T any](all []T, num, size int) []T {
	from := (num - 1) * size
	if from >= len(all) {
		return []T{}
	}
	return all[from:min(from+size, len(all))]
}

// senderJSON is a sender as the get and list answers write it: Kakao's
// fields are null while the token is not verified.
func senderJSON(s *Sender) map[string]any {
	str := func(v string) any {
		if s.Status == "YSC02" {
			return nil
		}
		return v
	}
	kakaoNames := map[string]string{"A": "정상", "S": "차단"}
	profileNames := map[string]string{"A": "활성화", "B": "차단", "C": "비활성화", "D": "삭제", "E": "삭제처리중"}
	statusName := map[string]string{"YSC02": "등록대기중", "YSC03": "정상등록"}[s.Status]
	return map[string]any{
		"plusFriendId": s.PlusFriendID, "senderKey": s.SenderKey, "categoryCode": s.CategoryCode,
		"status": s.Status, "statusName": statusName,
		"kakaoStatus": str(s.KakaoStatus), "kakaoStatusName": str(kakaoNames[s.KakaoStatus]),
		"kakaoProfileStatus": str(s.KakaoProfileStatus), "kakaoProfileStatusName": str(profileNames[s.KakaoProfileStatus]),
		"alimtalk": map[string]any{"isResend": false, "resendSendNo": "", "dailyMaxCount": s.AlimTalkDailyMax,
			"sentCount": s.AlimTalkSent},
		"friendtalk": map[string]any{"isResend": s.IsResend, "resendSendNo": s.ResendSendNo,
			"resendUnsubscribeNo": s.ResendUnsubscribeNo, "dailyMaxCount": s.FriendTalkDailyMax, "sentCount": s.FriendTalkSent},
		"dormant": s.Dormant, "block": s.Block, "createDate": s.CreateDate,
	}
}

func (f *Fake) getGroup(key string) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.admin.groups[key]
	if g == nil {
		return fail(-2017, "Sender group is not found.")
	}
	members := []map[string]any{}
	for _, k := range g.members {
		if s := f.findSender(k); s != nil {
			members = append(members, map[string]any{"plusFriendId": s.PlusFriendID, "senderKey": s.SenderKey, "createDate": s.CreateDate})
		}
	}
	return http.StatusOK, map[string]any{"senderGroup": map[string]any{"groupName": g.name, "senderKey": key,
		"status": "YSC03", "senders": members, "createDate": "2026-01-05 10:00:00", "updateDate": "2026-01-05 10:00:00"}}
}

func (f *Fake) editGroup(groupKey, senderKey string, add bool) (int, any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.admin.groups[groupKey]
	if g == nil {
		return fail(-2017, "Sender group is not found.")
	}
	if s := f.findSender(senderKey); s == nil || s.SenderKey != senderKey {
		return fail(-2017, "Sender is not found.")
	}
	for i, k := range g.members {
		if k != senderKey {
			continue
		}
		if add {
			return fail(-4019, "Sender is already in the group.")
		}
		g.members = append(g.members[:i], g.members[i+1:]...)
		return http.StatusOK, nil
	}
	switch {
	case !add:
		return fail(-2017, "Sender is not in the group.")
	case len(g.members) >= MaxGroupSenders:
		return fail(-4019, "A sender group has at most %d senders.", MaxGroupSenders)
	}
	g.members = append(g.members, senderKey)
	return http.StatusOK, nil
}

func (f *Fake) serveFriendTalkAdmin(r *http.Request, route string) (int, any) {
	switch {
	case route == "images" && r.Method == http.MethodPost:
		return f.upload(r)
	case route == "images" && r.Method == http.MethodGet:
		f.noBody(r)
		num, size, ok := f.pageParams(r.URL.Query(), 0)
		if !ok {
			return fail(-2000, "Invalid page parameter.")
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		var all []map[string]any
		for i := len(f.admin.images) - 1; i >= 0; i-- { // latest first
			im := f.admin.images[i]
			all = append(all, map[string]any{"imageSeq": im.Seq, "imageUrl": imageURL(im), "imageName": im.Name,
				"wide": strconv.FormatBool(im.Wide), "createDate": im.CreateDate})
		}
		return http.StatusOK, map[string]any{"imagesResponse": map[string]any{"images": page(all, num, size), "totalCount": len(all)}}
	case route == "images" && r.Method == http.MethodDelete:
		f.noBody(r)
		return f.deleteImages(r.URL.RawQuery)
	case route == "failback" && r.Method == http.MethodPost:
		return f.setFailback(r)
	case route == "failback/appkey" && r.Method == http.MethodPost:
		var req struct {
			ResendAppKey *string `json:"resendAppKey"`
		}
		if !f.decodeStrict(r, &req) || req.ResendAppKey == nil || *req.ResendAppKey == "" {
			f.tb.Errorf("nhnfake: failback/appkey: resendAppKey is mandatory")
			return fail(-1002, "Invalid SMS appKey.")
		}
		f.mu.Lock()
		f.admin.smsAppKey = *req.ResendAppKey
		f.mu.Unlock()
		return http.StatusOK, nil
	}
	f.tb.Errorf("nhnfake: unexpected %s %s", r.Method, r.URL.Path)
	return http.StatusMethodNotAllowed, adminError{-9999, "method not allowed"}
}

func imageURL(im Image) string {
	return fmt.Sprintf("https://mud-kage.kakao.com/dn/fake/%d/%s", im.Seq, url.PathEscape(im.Name))
}

// upload takes a multipart image: field image (a file), optional wide.
// Kakao's limits (500 KB, JPEG or PNG) are checked the way Kakao answers
// them: a failed header, -2000 range.
func (f *Fake) upload(r *http.Request) (int, any) {
	if err := r.ParseMultipartForm(2 << 20); err != nil {
		f.tb.Errorf("nhnfake: image upload: %v", err)
		return fail(-2000, "Request body is invalid.")
	}
	for k := range r.MultipartForm.Value {
		if k != "wide" {
			f.tb.Errorf("nhnfake: image upload: unknown field %q", k)
		}
	}
	files := r.MultipartForm.File["image"]
	if len(files) != 1 || len(r.MultipartForm.File) != 1 {
		f.tb.Errorf("nhnfake: image upload: want exactly one file in field image")
		return fail(-2002, "image is mandatory.")
	}
	wide := false
	if v := r.FormValue("wide"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.tb.Errorf("nhnfake: image upload: wide=%q is not a boolean", v)
		}
		wide = b
	}
	fh := files[0]
	file, err := fh.Open()
	if err != nil {
		return fail(-2000, "Request body is invalid.")
	}
	defer file.Close()
	data, _ := io.ReadAll(file)
	ct := http.DetectContentType(data)
	switch {
	case len(data) > 500*1024:
		return fail(-2000, "Image size exceeds 500KB.")
	case ct != "image/jpeg" && ct != "image/png":
		return fail(-2000, "Image must be jpg or png.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admin.imageSeq++
	im := Image{Seq: f.admin.imageSeq, Name: fh.Filename, Wide: wide, Size: len(data),
		CreateDate: f.now().In(kst).Format("2006-01-02 15:04:05")}
	f.admin.images = append(f.admin.images, im)
	return http.StatusOK, map[string]any{"image": map[string]any{"imageSeq": im.Seq, "imageUrl": imageURL(im), "imageName": im.Name}}
}

var imageSeqsRE = regexp.MustCompile(`^imageSeq=[0-9]+(,[0-9]+)*$`)

func (f *Fake) deleteImages(rawQuery string) (int, any) {
	if !imageSeqsRE.MatchString(rawQuery) {
		f.tb.Errorf("nhnfake: image delete: query %q, want imageSeq=1,2,3", rawQuery)
		return fail(-2002, "imageSeq is mandatory.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range strings.Split(strings.TrimPrefix(rawQuery, "imageSeq="), ",") {
		seq, _ := strconv.ParseInt(s, 10, 64)
		found := false
		for i, im := range f.admin.images {
			if im.Seq == seq {
				f.admin.images = append(f.admin.images[:i], f.admin.images[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			return fail(-2000, "Image %d is not found.", seq)
		}
	}
	return http.StatusOK, nil
}

func (f *Fake) setFailback(r *http.Request) (int, any) {
	var req struct {
		PlusFriendID        *string `json:"plusFriendId"`
		IsResend            *bool   `json:"isResend"`
		ResendSendNo        *string `json:"resendSendNo"`
		ResendUnsubscribeNo *string `json:"resendUnsubscribeNo"`
	}
	if !f.decodeStrict(r, &req) {
		return fail(-2000, "Request body is invalid.")
	}
	switch {
	case req.PlusFriendID == nil || req.IsResend == nil || req.ResendSendNo == nil:
		f.tb.Errorf("nhnfake: failback: plusFriendId, isResend and resendSendNo are mandatory")
		return fail(-2002, "Mandatory field is null.")
	case utf8.RuneCountInString(*req.PlusFriendID) > 30 || len(*req.ResendSendNo) > 13 || !digitsRE.MatchString(*req.ResendSendNo):
		f.tb.Errorf("nhnfake: failback: plusFriendId over 30 characters or resendSendNo not 1-13 digits")
		return fail(-2000, "Field value is too long.")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.findSender(*req.PlusFriendID)
	if s == nil {
		return fail(-2017, "Sender is not found.")
	}
	s.IsResend, s.ResendSendNo = *req.IsResend, *req.ResendSendNo
	if req.ResendUnsubscribeNo != nil {
		s.ResendUnsubscribeNo = *req.ResendUnsubscribeNo
	}
	return http.StatusOK, nil
}
