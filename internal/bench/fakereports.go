package bench

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// fakeReports is what the Fake keeps of its sends to answer the report
// queries of the reports profiles, every message delivered: per NAVER
// request its message count, per NHN request its minute, kind and the
// recipients' grouping keys, as runs of consecutive indices of one job.
// Nothing of the bodies is kept: a campaign of 1,000,000 recipients in
// requests of 1000 is 1000 requests of one run each.
type fakeReports struct {
	queries atomic.Int64 // report requests served

	mu    sync.Mutex
	naver map[int64]int // request seq → messages
	nhn   []nhnRequest  // in arrival order
}

// nhnRequest is one NHN send request as the result-updates listing needs
// it: it is updated (delivered) in the minute it was sent.
type nhnRequest struct {
	seq        int64
	minute     int64 // Unix minutes
	friendtalk bool
	keys       []keyRun
}

// keyRun is n recipient grouping keys "<job>/<first>" … "<job>/<first+n-1>";
// a key of another form is kept whole in job, with first -1 and n 1.
type keyRun struct {
	job      string
	first, n int
}

func (k keyRun) key(i int) string {
	if k.first < 0 {
		return k.job
	}
	return k.job + "/" + strconv.Itoa(k.first+i)
}

func newFakeReports() *fakeReports { return &fakeReports{naver: map[int64]int{}} }

// naverSent records NAVER request seq of n messages.
func (r *fakeReports) naverSent(seq int64, n int) {
	r.mu.Lock()
	r.naver[seq] = n
	r.mu.Unlock()
}

// nhnSent records NHN request seq from its body: the grouping keys of its
// recipients, in order (recipientSeq is the position).
func (r *fakeReports) nhnSent(seq int64, body []byte, friendtalk bool) {
	const field = `"recipientGroupingKey":"`
	var runs []keyRun
	for {
		i := bytes.Index(body, []byte(field))
		if i < 0 {
			break
		}
		body = body[i+len(field):]
		j := bytes.IndexByte(body, '"')
		if j < 0 {
			break
		}
		key := body[:j]
		body = body[j+1:]
		job, index := splitKey(key)
		if n := len(runs); n > 0 && index >= 0 && runs[n-1].first >= 0 &&
			runs[n-1].first+runs[n-1].n == index && runs[n-1].job == string(job) {
			runs[n-1].n++
			continue
		}
		runs = append(runs, keyRun{job: string(job), first: index, n: 1})
	}
	r.mu.Lock()
	r.nhn = append(r.nhn, nhnRequest{seq: seq, minute: time.Now().Unix() / 60, friendtalk: friendtalk, keys: runs})
	r.mu.Unlock()
}

// splitKey reads "<job>/<index>"; index is -1 (and job the whole key) for
// any other form.
func splitKey(key []byte) (job []byte, index int) {
	slash := bytes.LastIndexByte(key, '/')
	if slash <= 0 || slash == len(key)-1 {
		return key, -1
	}
	n := 0
	for _, c := range key[slash+1:] {
		if c < '0' || c > '9' || n > 1e8 {
			return key, -1
		}
		n = n*10 + int(c-'0')
	}
	return key[:slash], n
}

// naverList answers NAVER's request list by request id
// (GET …/messages?requestId=&pageIndex=&pageSize=): every message of the
// request success, with the fields the NAVER report source reads; the
// empty 404 for a request it did not take.
func (f *Fake) naverList(w http.ResponseWriter, r *http.Request) {
	f.reports.queries.Add(1)
	q := r.URL.Query()
	rid := q.Get("requestId")
	seq, err := strconv.ParseInt(strings.TrimPrefix(rid, "bench-"), 10, 64)
	f.reports.mu.Lock()
	n, ok := f.reports.naver[seq]
	f.reports.mu.Unlock()
	if err != nil || !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	page, _ := strconv.Atoi(q.Get("pageIndex"))
	size, _ := strconv.Atoi(q.Get("pageSize"))
	if size <= 0 || size > 100 {
		size = 100
	}
	from, to := min(page*size, n), min(page*size+size, n)
	out := make([]byte, 0, 160+(to-from)*330)
	out = append(out, `{"requestId":"`...)
	out = append(out, rid...)
	out = append(out, `","statusCode":"202","statusName":"success","messages":[`...)
	for i := from; i < to; i++ {
		if i > from {
			out = append(out, ',')
		}
		out = append(out, `{"requestTime":"2026-11-30 12:00:00","messageId":"`...)
		out = append(out, rid...)
		out = append(out, '-')
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `","countryCode":"82","to":"01000000000","content":"-","plusFriendId":"@talkrelay-bench","templateCode":"ORDER_SHIPPED",`+
			`"completeTime":"2026-11-30T12:00:01","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"",`+
			`"messageStatusCode":"0000","messageStatusName":"success","messageStatusDesc":"","useSmsFailover":false}`...)
	}
	out = append(out, `],"pageIndex":`...)
	out = strconv.AppendInt(out, int64(page), 10)
	out = append(out, `,"pageSize":`...)
	out = strconv.AppendInt(out, int64(size), 10)
	out = append(out, `,"itemCount":`...)
	out = strconv.AppendInt(out, int64(to-from), 10)
	out = append(out, `,"hasMore":`...)
	out = strconv.AppendBool(out, to < n)
	out = append(out, '}')
	reply(w, http.StatusOK, out)
}

// kst is NHN's time zone: its dates are KST wall times.
var kst = time.FixedZone("KST", 9*60*60)

// nhnResults answers NHN's result updates by update window
// (GET …/message-results?startUpdateDate=&endUpdateDate=&pageNum=&pageSize=,
// both minutes inclusive, KST): every recipient of a request of that kind
// sent within the window, delivered (1000), its recipientGroupingKey
// echoed from the send, in pages.
func (f *Fake) nhnResults(w http.ResponseWriter, r *http.Request) {
	f.reports.queries.Add(1)
	q := r.URL.Query()
	start, err1 := time.ParseInLocation("2006-01-02 15:04", q.Get("startUpdateDate"), kst)
	end, err2 := time.ParseInLocation("2006-01-02 15:04", q.Get("endUpdateDate"), kst)
	page, err3 := strconv.Atoi(q.Get("pageNum"))
	size, err4 := strconv.Atoi(q.Get("pageSize"))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || page < 1 || size < 1 || size > 1000 {
		reply(w, http.StatusOK, []byte(`{"header":{"resultCode":-1000,"resultMessage":"bad parameters","isSuccessful":false}}`))
		return
	}
	friendtalk := strings.HasPrefix(r.URL.Path, "/friendtalk/")
	from, to := start.Unix()/60, end.Unix()/60
	skip := (page - 1) * size
	out := make([]byte, 0, 256+size*330)
	out = append(out, `{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"messageSearchResultResponse":{"messages":[`...)
	total, listed := 0, 0
	f.reports.mu.Lock()
	for i := range f.reports.nhn {
		req := &f.reports.nhn[i]
		if req.friendtalk != friendtalk || req.minute < from || req.minute > to {
			continue
		}
		date := time.Unix(req.minute*60, 0).In(kst).Format("2006-01-02 15:04:05")
		pos := 0 // recipients of req before run: recipientSeq is pos+k+1
		for _, run := range req.keys {
			for k := max(skip-total, 0); k < run.n && listed < size; k++ {
				if listed > 0 {
					out = append(out, ',')
				}
				listed++
				out = append(out, `{"requestId":"bench-`...)
				out = strconv.AppendInt(out, req.seq, 10)
				out = append(out, `","recipientSeq":`...)
				out = strconv.AppendInt(out, int64(pos+k+1), 10)
				out = append(out, `,"recipientNo":"01000000000","requestDate":"`...)
				out = append(out, date...)
				out = append(out, `","receiveDate":"`...)
				out = append(out, date...)
				out = append(out, `","messageStatus":"COMPLETED","resendStatus":"","resultCode":"1000","resultCodeName":"Success","senderGroupingKey":"","recipientGroupingKey":"`...)
				out = append(out, run.key(k)...)
				out = append(out, `"}`...)
			}
			pos += run.n
			total += run.n
		}
	}
	f.reports.mu.Unlock()
	out = append(out, `],"pageNum":`...)
	out = strconv.AppendInt(out, int64(page), 10)
	out = append(out, `,"pageSize":`...)
	out = strconv.AppendInt(out, int64(size), 10)
	out = append(out, `,"totalCount":`...)
	out = strconv.AppendInt(out, int64(total), 10)
	out = append(out, "}}"...)
	reply(w, http.StatusOK, out)
}
