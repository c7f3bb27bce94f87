package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Account names and senders of the generated worker config.
const (
	naverAccount = "naver-bench"
	nhnAccount   = "nhn-bench"
	kakaoAccount = "kakao-bench"

	naverSender = "@talkrelay-bench"
	// NHN and Kakao sender keys are 40 hex characters.
	senderKey = "0123456789abcdef0123456789abcdef01234567"
)

// pubField is the metadata field carrying a job's publish time (Unix ns).
// Metadata is echoed in every result event, so the result says when its
// job was published; its store time is the result message's timestamp.
const pubField = `"bench_pub_ns":`

// workload generates the jobs of one profile. Job i is generated the same
// way every time, except for its publish time.
type workload struct {
	prefix     string // job id prefix
	account    string
	jobs       int
	recipients int // per job
	sender     string
}

func (w workload) total() int { return w.jobs * w.recipients }

func (w workload) jobID(i int) string { return fmt.Sprintf("%s-%07d", w.prefix, i) }

// job returns job i's JSON, published at pubNS. For many recipients the
// recipients' part is cached per job by the caller (see body).
func (w workload) head(i int, pubNS int64) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":1,"id":"`)
	b.WriteString(w.jobID(i))
	b.WriteString(`","account":"`)
	b.WriteString(w.account)
	b.WriteString(`","kind":"alimtalk"`)
	if w.sender != "" {
		b.WriteString(`,"sender":"`)
		b.WriteString(w.sender)
		b.WriteString(`"`)
	}
	b.WriteString(`,"template":"ORDER_SHIPPED","metadata":{"source":"bench",`)
	b.WriteString(pubField)
	b.WriteString(strconv.FormatInt(pubNS, 10))
	b.WriteString(`},"recipients":[`)
	return b.Bytes()
}

// recipientsJSON is the recipients array body of job i (without brackets).
func (w workload) recipientsJSON(i int) []byte {
	var b bytes.Buffer
	b.Grow(w.recipients * 120)
	for k := range w.recipients {
		if k > 0 {
			b.WriteByte(',')
		}
		n := i*w.recipients + k
		if w.recipients == 1 {
			fmt.Fprintf(&b, `{"ref":"r%d","phone":"010-%04d-%04d","content":"[Talkrelay Shop] 주문하신 상품이 발송되었습니다. 주문번호: %s","buttons":[{"type":"DS","name":"배송 조회"}]}`,
				n, (n/10000)%10000, n%10000, w.jobID(i))
		} else {
			fmt.Fprintf(&b, `{"ref":"c%d","phone":"010%04d%04d","content":"[Talkrelay] 11월 회원 쿠폰 C%08d 도착"}`,
				n, (n/10000)%10000, n%10000, n)
		}
	}
	return b.Bytes()
}

func (w workload) build(i int, recipients []byte, pubNS int64) []byte {
	h := w.head(i, pubNS)
	out := make([]byte, 0, len(h)+len(recipients)+2)
	out = append(out, h...)
	out = append(out, recipients...)
	return append(out, "]}"...)
}

// publishStats is what publishing a workload took.
type publishStats struct {
	First, Last time.Time
	Bytes       int64
	MaxJobBytes int
	Failed      int64
}

// publish stores jobs [0, w.jobs) on subject with async publishes, at most
// 4000 awaiting their ack (as internal/enqueue does), each with its id as
// Nats-Msg-Id. The publish time written into each job is taken just
// before the job is handed to the client.
func publish(ctx context.Context, nc *nats.Conn, subject string, w workload) (publishStats, error) {
	var failed atomic.Int64
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4000),
		jetstream.WithPublishAsyncTimeout(60*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return publishStats{}, err
	}
	var st publishStats
	var cached []byte // single-recipient jobs: generated per job anyway
	for i := range w.jobs {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		cached = w.recipientsJSON(i)
		now := time.Now()
		data := w.build(i, cached, now.UnixNano())
		if i == 0 {
			st.First = now
		}
		st.Bytes += int64(len(data))
		st.MaxJobBytes = max(st.MaxJobBytes, len(data))
		msg := nats.NewMsg(subject)
		msg.Data = data
		for {
			_, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(w.jobID(i)))
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				return st, fmt.Errorf("publish job %d: %w", i, err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return st, ctx.Err()
	case <-time.After(2 * time.Minute):
		return st, errors.New("publish: acks missing after 2 minutes")
	}
	st.Last = time.Now()
	st.Failed = failed.Load()
	if st.Failed > 0 {
		return st, fmt.Errorf("publish: %d jobs not stored", st.Failed)
	}
	return st, nil
}

// pubTime reads the publish time out of a result event (or a job).
func pubTime(data []byte) (int64, bool) {
	i := bytes.Index(data, []byte(pubField))
	if i < 0 {
		return 0, false
	}
	rest := data[i+len(pubField):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n, err == nil
}
