package faultsuite

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"gopkg.in/yaml.v3"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/naver/naverfake"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Accounts of the worker config, one per provider; the account name is
// the provider's.
const (
	naverAccount = "naver"
	nhnAccount   = "nhn"
	kakaoAccount = "kakao"
)

var accountNames = []string{naverAccount, nhnAccount, kakaoAccount}

// Senders the jobs use. NHN AlimTalk and Kakao take a 40-character sender
// key; NHN FriendTalk a plusFriendId; NAVER jobs use the account's.
const (
	naverSender    = "@talkrelay-shop"
	senderKey      = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
	plusFriendID   = "@talkrelay"
	kakaoSenderNo  = "0212345678"
	retryMaxTries  = 8 // retry.max_attempts of every account
	requestTimeout = 2 * time.Second
	ackWait        = 10 * time.Second
	shutdownGrace  = 5 * time.Second
	// lookupAfter and maxLookups are every account's retry.lookup_after
	// and retry.max_lookups: each lookup comes at least lookupAfter after
	// the previous one, so they span at least lookupAfter*maxLookups.
	lookupAfter = time.Second
	maxLookups  = 10
	// notFoundAfter is every account's options.not_found_after: how long
	// after a send a lookup that finds nothing proves the provider never
	// took the message, so the worker sends it again. The adapters'
	// default (2 minutes) is longer than the lookups here span, and every
	// message the fakes never took would end unknown. A few seconds is
	// sound for the fakes, which list a message as soon as they take it,
	// behind proxies that forward at once.
	notFoundAfter = 5 * time.Second
)

// isSend tells each provider's send requests from its token and lookup
// requests.
var isSend = map[string]func(*http.Request) bool{
	naverAccount: func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages")
	},
	nhnAccount: func(r *http.Request) bool {
		return r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/messages") || strings.HasSuffix(r.URL.Path, "/raw-messages"))
	},
	kakaoAccount: func(r *http.Request) bool {
		return r.Method == http.MethodPost && kakaoSendPath.MatchString(r.URL.Path)
	},
}

var kakaoSendPath = regexp.MustCompile(`^/v2/(send|request/[^/]+)/kakao$`)

// recipientRef is one recipient the suite sent.
type recipientRef struct {
	account string
	jobID   string
	index   int
	phone   string // unique per recipient: acceptance is counted by phone
}

func (r recipientRef) key() string { return resultKey(r.jobID, r.index) }

func resultKey(jobID string, index int) string { return jobID + "/" + strconv.Itoa(index) }

// makeJobs builds jobs of 1..maxPerJob recipients until there are at
// least n recipients, each valid for its provider's Check and with a phone
// number of its own.
func makeJobs(rng *rand.Rand, n, maxPerJob int) ([]*job.Job, []recipientRef) {
	var jobs []*job.Job
	var refs []recipientRef
	for total := 0; total < n; {
		size := min(1+rng.IntN(maxPerJob), n-total)
		id := fmt.Sprintf("fault-%05d", len(jobs))
		var j *job.Job
		switch u := rng.Float64(); {
		case u < 0.4:
			j = &job.Job{Account: naverAccount, Kind: job.AlimTalk, Template: "ORDER_SHIPPED"}
		case u < 0.55:
			j = &job.Job{Account: nhnAccount, Kind: job.AlimTalk, Sender: senderKey, Template: "ORDER_RECEIVED"} // variables: /messages
		case u < 0.65:
			j = &job.Job{Account: nhnAccount, Kind: job.AlimTalk, Sender: senderKey, Template: "ORDER_SHIPPED"} // content: /raw-messages
		case u < 0.75:
			j = &job.Job{Account: nhnAccount, Kind: job.FriendTalk, Sender: plusFriendID, Ad: false}
		case u < 0.9:
			j = &job.Job{Account: kakaoAccount, Kind: job.AlimTalk, Sender: senderKey, Template: "ORDER_SHIPPED"}
		default:
			j = &job.Job{Account: kakaoAccount, Kind: job.FriendTalk, Sender: senderKey}
		}
		j.Version, j.ID = 1, id+"-"+j.Account
		j.Metadata = []byte(`{"suite":"fault"}`)
		for i := range size {
			seq := total + i
			phone := fmt.Sprintf("010-%04d-%04d", seq/10000, seq%10000)
			r := job.Recipient{Ref: strconv.Itoa(seq), Phone: phone}
			switch {
			case j.Account == nhnAccount && j.Template == "ORDER_RECEIVED":
				r.Variables = map[string]string{"name": "홍길동", "order": strconv.Itoa(100000 + seq)}
			case j.Kind == job.FriendTalk:
				r.Content = fmt.Sprintf("이번 주 새 소식을 알려 드립니다. (%d)", seq)
			default:
				r.Content = fmt.Sprintf("주문하신 상품이 발송되었습니다.\n주문번호: %d", 100000+seq)
			}
			j.Recipients = append(j.Recipients, r)
			refs = append(refs, recipientRef{account: j.Account, jobID: j.ID, index: i, phone: phone})
		}
		jobs = append(jobs, j)
		total += size
	}
	return jobs, refs
}

// publishJobs stores jobs in the jobs stream with their id as
// Nats-Msg-Id, retrying each until JetStream has it (a publish may meet a
// NATS restart).
func publishJobs(ctx context.Context, js jetstream.JetStream, jobs []*job.Job) error {
	futures := make([]jetstream.PubAckFuture, len(jobs))
	for i, j := range jobs {
		data, err := j.Encode()
		if err != nil {
			return err
		}
		f, err := js.PublishAsync(streams.JobSubject(j.Account, string(j.Kind)), data, jetstream.WithMsgID(j.ID))
		if err == nil {
			futures[i] = f
		}
	}
	for i, j := range jobs {
		if f := futures[i]; f != nil {
			select {
			case <-f.Ok():
				continue
			case <-f.Err():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		data, _ := j.Encode()
		for {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := js.Publish(pctx, streams.JobSubject(j.Account, string(j.Kind)), data, jetstream.WithMsgID(j.ID))
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("publish %s: %w", j.ID, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// workerConfig is the worker's YAML config: one account per provider,
// each behind its chaos proxy.
func workerConfig(natsURL string, proxies map[string]*Proxy) ([]byte, error) {
	if span := lookupAfter * maxLookups; span < 2*notFoundAfter {
		// Half the lookups may come before not_found_after and find
		// nothing yet; the rest must come after it.
		return nil, fmt.Errorf("lookups span at least %s, not twice not_found_after %s: untaken messages would end unknown", span, notFoundAfter)
	}
	account := func(name, sender string, rps int, creds map[string]string, opts map[string]any) map[string]any {
		c := map[string]any{}
		for k, v := range creds {
			c[k] = map[string]string{"value": v}
		}
		opts["not_found_after"] = notFoundAfter.String()
		a := map[string]any{"name": name, "provider": name, "base_url": proxies[name].URL(), "credentials": c,
			"request_timeout": requestTimeout.String(), "retry": retryPolicy(), "options": opts,
			"rate_limit": map[string]any{"requests_per_second": rps, "burst": 5}}
		if sender != "" {
			a["sender"] = sender
		}
		return a
	}
	cfg := map[string]any{
		"nats":   map[string]any{"url": natsURL},
		"worker": map[string]any{"ack_wait": ackWait.String(), "shutdown_grace": shutdownGrace.String()},
		"http":   map[string]any{"addr": ""},
		"log":    map[string]any{"level": "info", "format": "json"},
		"accounts": []any{
			account(naverAccount, naverSender, 50, map[string]string{"access_key": naverfake.AccessKey, "secret_key": naverfake.SecretKey},
				map[string]any{"service_id": naverfake.ServiceID}),
			account(nhnAccount, "", 50, map[string]string{"secret_key": nhnfake.SecretKey}, map[string]any{"app_key": nhnfake.AppKey}),
			account(kakaoAccount, "", 150, map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
				map[string]any{"sender_no": kakaoSenderNo}),
		},
	}
	return yaml.Marshal(cfg)
}

// retryPolicy is every account's retry config: quick retries and lookups,
// so that what a killed worker left unsettled is settled within seconds.
func retryPolicy() map[string]any {
	return map[string]any{"initial_interval": "1s", "max_interval": "2s", "max_attempts": retryMaxTries,
		"lookup_after": lookupAfter.String(), "max_lookups": maxLookups}
}

// startNATS runs a nats-server storing under dir, with talkrelay's
// streams, and returns it and a JetStream context on a connection that
// reconnects forever.
func startNATS(t *testing.T, dir string, opts ...nats.Option) (*natstest.Server, jetstream.JetStream) {
	t.Helper()
	ns := natstest.RunWith(t, server.Options{StoreDir: filepath.Join(dir, "nats")})
	nc := ns.Connect(t, append([]nats.Option{nats.MaxReconnects(-1)}, opts...)...)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.EnsureStreams(t, js)
	return ns, js
}

// seedFakes gives the fakes the channel, template and sender the jobs
// use, which the worker's preflight and template and sender guard look up.
func seedFakes(naverAPI *naverfake.Fake, nhnAPI *nhnfake.Fake) {
	naverAPI.AddChannel(naverfake.Channel{ChannelID: naverSender})
	naverAPI.AddTemplate(naverfake.Template{ChannelID: naverSender, Code: "ORDER_SHIPPED"})
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: plusFriendID, SenderKey: senderKey})
}

// buildWorker builds cmd/worker (without -race) into dir.
func buildWorker(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("go env GOMOD: %v", err)
	}
	bin := filepath.Join(dir, "worker")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/worker")
	cmd.Dir = filepath.Dir(string(bytes.TrimSpace(out)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/worker: %v\n%s", err, out)
	}
	return bin
}

// workerProc is one run of the worker binary.
type workerProc struct {
	n      int
	cmd    *exec.Cmd
	log    string // stderr and stdout
	exited chan struct{}
	err    error // once exited
}

// workerEnv is the suite's environment without the variables that would
// override the worker's config.
func workerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "NATS_") || strings.HasPrefix(kv, "TALKRELAY_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func startWorker(t *testing.T, bin, config, logDir string, n int) *workerProc {
	t.Helper()
	path := filepath.Join(logDir, fmt.Sprintf("worker-%d.log", n))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", config)
	cmd.Env = workerEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start worker %d: %v", n, err)
	}
	w := &workerProc{n: n, cmd: cmd, log: path, exited: make(chan struct{})}
	go func() {
		w.err = cmd.Wait()
		f.Close()
		close(w.exited)
	}()
	t.Cleanup(func() { w.kill() })
	return w
}

// kill sends SIGKILL and waits for the process to be gone.
func (w *workerProc) kill() {
	select {
	case <-w.exited:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

// stop asks the worker to shut down (SIGTERM) and waits up to wait for it,
// then kills it. It reports whether the worker stopped by itself.
func (w *workerProc) stop(wait time.Duration) bool {
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.exited:
		return w.err == nil
	case <-time.After(wait):
		w.kill()
		return false
	}
}

// running reports an error if the worker exited on its own.
func (w *workerProc) running() error {
	select {
	case <-w.exited:
		return fmt.Errorf("worker %d exited by itself: %v", w.n, w.err)
	default:
		return nil
	}
}

// tail returns the last n lines of a worker's log.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sleepOrExit waits d, failing early if the worker exits by itself.
func sleepOrExit(d time.Duration, w *workerProc) error {
	select {
	case <-time.After(d):
		return nil
	case <-w.exited:
		return w.running()
	}
}
