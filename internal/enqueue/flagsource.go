package enqueue

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
)

// buildJob makes the job the one-job flags describe and validates it. now
// dates the random id when --id is not given.
func (c *CLI) buildJob(now time.Time) (*job.Job, []byte, error) {
	j := &job.Job{
		Version:  job.Version,
		ID:       c.ID,
		Account:  c.Account,
		Kind:     job.Kind(c.Kind),
		Sender:   c.Sender,
		Template: c.Template,
		Ad:       c.Ad,
	}
	if j.ID == "" {
		// Sortable by time, unique by the random part.
		j.ID = "enq-" + now.UTC().Format("20060102T150405") + "-" + strings.ToLower(rand.Text()[:10])
	}
	if j.Account == "" {
		return nil, nil, errors.New("--account: required for a job from flags")
	}
	if len(c.To) == 0 {
		return nil, nil, errors.New("--to: give at least one phone number")
	}
	content := c.Content
	if j.Kind == job.BrandMessage {
		b, err := c.brand()
		if err != nil {
			return nil, nil, err
		}
		// A Brand Message is an ad, and its text is the brand's.
		j.Brand, j.Ad, content = b, true, ""
	} else if c.brandFlagsSet() {
		return nil, nil, errors.New("--brand, --bubble, --targeting, --image-url, --image-link, --button: only with --kind brandmessage")
	} else if c.Content == "" && len(c.Var) == 0 {
		return nil, nil, errors.New("--content or --var: give the message text or the template variables")
	}
	for name, s := range map[string]string{"--reserve-at": c.ReserveAt, "--deadline": c.Deadline} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-11-21T09:00:00+09:00", name, s)
		}
		if name == "--reserve-at" {
			j.ReserveAt = &t
		} else {
			j.Deadline = &t
		}
	}
	switch p := job.Priority(strings.ToLower(c.Priority)); p {
	case "":
	case job.PriorityNormal, job.PriorityUrgent:
		j.Priority = p
	default:
		return nil, nil, fmt.Errorf("--priority: %q is not normal or urgent", c.Priority)
	}
	switch f := strings.ToUpper(c.Failover); f {
	case "":
		if c.FailoverFrom != "" {
			return nil, nil, errors.New("--failover-from: needs --failover SMS, LMS or auto")
		}
	case "SMS", "LMS", "AUTO":
		j.Failover = &job.Failover{Enabled: job.Bool(true), From: c.FailoverFrom}
		if f != "AUTO" {
			j.Failover.Type = f
		}
	default:
		return nil, nil, fmt.Errorf("--failover: %q is not SMS, LMS or auto", c.Failover)
	}
	if c.Metadata != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(c.Metadata), &m); err != nil || m == nil {
			return nil, nil, fmt.Errorf("--metadata: not a JSON object: %s", c.Metadata)
		}
		j.Metadata = json.RawMessage(c.Metadata)
	}
	var vars map[string]string
	for _, kv := range c.Var {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("--var: %q is not NAME=VALUE", kv)
		}
		if vars == nil {
			vars = map[string]string{}
		}
		vars[name] = value
	}
	for _, to := range c.To {
		to = strings.TrimSpace(to)
		if to == "" {
			continue
		}
		j.Recipients = append(j.Recipients, job.Recipient{
			Phone:       to,
			CountryCode: c.CountryCode,
			Content:     content,
			Variables:   vars, // shared: only marshalled
			Title:       c.Title,
			Header:      c.Header,
		})
	}
	doc, err := j.Encode()
	if err != nil {
		return nil, nil, fmt.Errorf("encode job: %w", err)
	}
	// The schema is the contract: check what the flags made against it.
	if _, err := job.Decode(doc); err != nil {
		return nil, nil, fmt.Errorf("the flags make an %s", invalidJob(err))
	}
	return j, doc, nil
}

// flagsSource publishes the one job built from the flags.
type flagsSource struct {
	j   *job.Job
	doc []byte
	con *console
}

func (r *runner) flagsSource(con *console) (source, error) {
	j, doc, err := r.cli.buildJob(time.Now())
	if err != nil {
		return nil, err
	}
	return &flagsSource{j: j, doc: doc, con: con}, nil
}

func (s *flagsSource) Close() error { return nil }

func (s *flagsSource) Run(ctx context.Context, publish publishFunc) (sourceStats, error) {
	s.con.Printf("enqueue: job %s, %s\n", s.j.ID, plural(len(s.j.Recipients), "recipient"))
	return sourceStats{InvalidUnit: "job"}, publish(ctx, pubJob{
		ID: s.j.ID, Account: s.j.Account, Kind: string(s.j.Kind), Urgent: s.j.Urgent(), Recipients: len(s.j.Recipients), Data: s.doc,
	})
}
