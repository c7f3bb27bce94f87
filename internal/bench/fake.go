package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fake is a fast stand-in for the NAVER SENS, NHN Cloud and Kakao
// Enterprise send APIs over real HTTP on loopback. It speaks each wire
// format just enough for the real adapters to read a full success: the
// adapters' paths, any credentials, one success entry per message. It
// does not validate requests (the strict fakes in internal/providers/*fake
// do): recipients are counted by a byte search for a per-message field, so
// that the fake costs the 2-core box as little CPU as possible.
type Fake struct {
	// Latency, if set, is added to every send answer.
	Latency time.Duration

	srv *http.Server
	url string

	requests   atomic.Int64
	recipients atomic.Int64
	seq        atomic.Int64

	mu    sync.Mutex
	times []int64 // arrival of each send request, Unix ns, when recordTimes
	// recordTimes keeps the arrival time of every send request (for the
	// rate-limit check of the latency profile).
	recordTimes bool
	// reports, when set, keeps what the report queries need of the NAVER
	// and NHN sends and serves those queries (the reports profiles).
	reports *fakeReports
}

// Paths the fake serves; the worker's accounts use the adapters' defaults.
const (
	fakeServiceID = "ncp:kkobizmsg:kr:000000000000:bench"
	fakeAppKey    = "benchAppKey"
)

// StartFake serves the fake on a free loopback port until Close is
// called; with reports it also serves NAVER's request list and NHN's
// result updates, every message delivered (fakereports.go).
func StartFake(latency time.Duration, recordTimes, reports bool) (*Fake, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Fake{Latency: latency, url: "http://" + ln.Addr().String(), recordTimes: recordTimes}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /alimtalk/v2/services/{serviceId}/messages", f.naver)
	mux.HandleFunc("POST /alimtalk/{version}/appkeys/{appkey}/raw-messages", f.nhn)
	mux.HandleFunc("POST /alimtalk/{version}/appkeys/{appkey}/messages", f.nhn)
	mux.HandleFunc("POST /friendtalk/{version}/appkeys/{appkey}/messages", f.nhn)
	mux.HandleFunc("POST /v2/oauth/token", f.kakaoToken)
	mux.HandleFunc("POST /v2/send/kakao", f.kakao)
	if reports {
		f.reports = newFakeReports()
		mux.HandleFunc("GET /alimtalk/v2/services/{serviceId}/messages", f.naverList)
		mux.HandleFunc("GET /alimtalk/{version}/appkeys/{appkey}/message-results", f.nhnResults)
		mux.HandleFunc("GET /friendtalk/{version}/appkeys/{appkey}/message-results", f.nhnResults)
	}
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// URL is the base URL accounts point base_url at.
func (f *Fake) URL() string { return f.url }

// Close stops the server.
func (f *Fake) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

// FakeStats are the fake's counters: send requests and their
// recipients, and report requests.
type FakeStats struct {
	Requests, Recipients, ReportQueries int64
}

// Stats returns the counters so far.
func (f *Fake) Stats() FakeStats {
	st := FakeStats{Requests: f.requests.Load(), Recipients: f.recipients.Load()}
	if f.reports != nil {
		st.ReportQueries = f.reports.queries.Load()
	}
	return st
}

// RateStats describes the send requests' arrival times. MaxWindowAt is
// where the busiest window starts, after the first arrival.
type RateStats struct {
	// Achieved is requests per second between the first and last arrival.
	Achieved float64
	// MaxInWindow is the most requests that arrived within any 1-second
	// window (sliding, not aligned to wall-clock seconds).
	MaxInWindow int
	MaxWindowAt time.Duration
	// LongestPause is the longest gap between two consecutive arrivals,
	// and PauseAt where it starts, after the first arrival: a worker that
	// stalls with work queued shows here.
	LongestPause time.Duration
	PauseAt      time.Duration
}

// Rate computes RateStats over the recorded arrival times.
func (f *Fake) Rate() RateStats {
	f.mu.Lock()
	ts := slices.Clone(f.times)
	f.mu.Unlock()
	slices.Sort(ts)
	var r RateStats
	if len(ts) < 2 {
		r.MaxInWindow = len(ts)
		return r
	}
	r.Achieved = float64(len(ts)-1) / (float64(ts[len(ts)-1]-ts[0]) / 1e9)
	// Two pointers: for each arrival j, the arrivals in (ts[j]-1s, ts[j]].
	i := 0
	for j := range ts {
		for ts[j]-ts[i] >= int64(time.Second) {
			i++
		}
		if j-i+1 > r.MaxInWindow {
			r.MaxInWindow, r.MaxWindowAt = j-i+1, time.Duration(ts[i]-ts[0])
		}
		if j > 0 && time.Duration(ts[j]-ts[j-1]) > r.LongestPause {
			r.LongestPause, r.PauseAt = time.Duration(ts[j]-ts[j-1]), time.Duration(ts[j-1]-ts[0])
		}
	}
	return r
}

func (f *Fake) arrived(n int) int64 {
	f.requests.Add(1)
	f.recipients.Add(int64(n))
	if f.recordTimes {
		now := time.Now().UnixNano()
		f.mu.Lock()
		f.times = append(f.times, now)
		f.mu.Unlock()
	}
	return f.seq.Add(1)
}

func (f *Fake) wait(r *http.Request) {
	if f.Latency <= 0 {
		return
	}
	t := time.NewTimer(f.Latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func readBody(r *http.Request) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := io.Copy(buf, r.Body)
	return buf, err
}

func reply(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// naver answers a SENS AlimTalk send: 202 with one A000 entry per message,
// in request order (NAVER's adapter matches by position).
func (f *Fake) naver(w http.ResponseWriter, r *http.Request) {
	in, err := readBody(r)
	if err != nil {
		bufPool.Put(in)
		return
	}
	n := bytes.Count(in.Bytes(), []byte(`"countryCode":`))
	bufPool.Put(in)
	id := f.arrived(n)
	if f.reports != nil {
		f.reports.naverSent(id, n)
	}
	f.wait(r)
	rid := "bench-" + strconv.FormatInt(id, 10)
	out := make([]byte, 0, 128+n*170)
	out = append(out, `{"requestId":"`...)
	out = append(out, rid...)
	out = append(out, `","requestTime":"2026-11-10T14:00:00.000","statusCode":"202","statusName":"success","messages":[`...)
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"messageId":"`...)
		out = append(out, rid...)
		out = append(out, '-')
		out = strconv.AppendInt(out, int64(i), 10)
		out = append(out, `","countryCode":"82","to":"","content":"","requestStatusCode":"A000","requestStatusName":"success","requestStatusDesc":"","useSmsFailover":false}`...)
	}
	out = append(out, "]}"...)
	reply(w, http.StatusAccepted, out)
}

// nhn answers an NHN AlimTalk/FriendTalk send: a successful header and one
// resultCode 0 entry per recipient, matched by recipientSeq (position).
func (f *Fake) nhn(w http.ResponseWriter, r *http.Request) {
	in, err := readBody(r)
	if err != nil {
		bufPool.Put(in)
		return
	}
	n := bytes.Count(in.Bytes(), []byte(`"recipientNo":`))
	id := f.arrived(n)
	if f.reports != nil {
		f.reports.nhnSent(id, in.Bytes(), strings.HasPrefix(r.URL.Path, "/friendtalk/"))
	}
	bufPool.Put(in)
	f.wait(r)
	out := make([]byte, 0, 160+n*110)
	out = append(out, `{"header":{"resultCode":0,"resultMessage":"SUCCESS","isSuccessful":true},"message":{"requestId":"bench-`...)
	out = strconv.AppendInt(out, id, 10)
	out = append(out, `","senderGroupingKey":"","sendResults":[`...)
	for i := range n {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"recipientSeq":`...)
		out = strconv.AppendInt(out, int64(i+1), 10)
		out = append(out, `,"recipientNo":"","resultCode":0,"resultMessage":"SUCCESS","recipientGroupingKey":""}`...)
	}
	out = append(out, "]}}"...)
	reply(w, http.StatusOK, out)
}

// kakaoToken hands out a day-long token for any client credentials.
func (f *Fake) kakaoToken(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	reply(w, http.StatusOK, []byte(`{"access_token":"bench-token","expires_in":86400,"token_type":"bearer"}`))
}

// kakao answers a Kakao Enterprise send (one recipient) with code 200.
func (f *Fake) kakao(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	id := f.arrived(1)
	f.wait(r)
	out := make([]byte, 0, 128)
	out = append(out, `{"code":"200","uid":"bench-`...)
	out = strconv.AppendInt(out, id, 10)
	out = append(out, `","cid":"","result":{"detail_code":"NRM0000","detail_message":"success"}}`...)
	reply(w, http.StatusOK, out)
}
