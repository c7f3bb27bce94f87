package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/natstest"
	"github.com/talkrelay/talkrelay/internal/providers/sandbox"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/streams"
)

// Operators give each producing service its own accounts through NATS
// publish permissions on job subjects. A producer allowed only
// talkrelay.jobs.shop.> cannot have a job sent through another account by
// naming it in the body, nor have a FriendTalk sent from an AlimTalk
// subject: such jobs are rejected (invalid_job, one result per recipient)
// under the subject's account and dead-lettered with the reason, and
// nothing reaches a provider.
func TestJobBodyMustMatchItsSubject(t *testing.T) {
	t.Parallel()
	srv := natstest.RunWith(t, server.Options{Users: []*server.User{
		{Username: "talkrelay", Password: "worker-secret"},
		{Username: "shop-service", Password: "shop-secret", Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{streams.JobsPrefix + ".shop.>"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
		}},
	}})
	nc := srv.Connect(t, nats.UserInfo("talkrelay", "worker-secret"))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	natstest.EnsureStreams(t, js)
	e := &env{t: t, srv: srv, nc: nc, js: js, clients: map[string]*sandbox.Client{}}
	cfg := e.config(sandboxAccount("shop", nil), sandboxAccount("vip", nil))
	cfg.NATS.User, cfg.NATS.Password = "talkrelay", "worker-secret"
	e.start(cfg)

	producer, err := jetstream.New(srv.Connect(t, nats.UserInfo("shop-service", "shop-secret")))
	if err != nil {
		t.Fatal(err)
	}
	publish := func(subject string, j *job.Job) error {
		data, err := j.Encode()
		if err != nil {
			t.Fatal(err)
		}
		_, err = producer.Publish(t.Context(), subject, data, jetstream.WithMsgID(j.ID))
		return err
	}
	// The permission holds: vip's own subject is closed to this producer.
	if err := publish(streams.JobSubject("vip", "alimtalk"), testJob("direct-vip", "vip", 1)); err == nil {
		t.Fatal("the shop producer published to vip's subject: the server's permissions are not in force")
	}
	friend := testJob("friend-on-alim", "shop", 1)
	friend.Kind, friend.Template = job.FriendTalk, ""
	for _, p := range []struct {
		subject string
		job     *job.Job
	}{
		{streams.JobSubject("shop", "alimtalk"), testJob("vip-on-shop", "vip", 2)},
		{streams.JobSubject("shop", "alimtalk"), friend},
		{streams.JobSubject("shop", "alimtalk"), testJob("shop-ok", "shop", 1)},
	} {
		if err := publish(p.subject, p.job); err != nil {
			t.Fatalf("publish %s to %s: %v", p.job.ID, p.subject, err)
		}
	}

	byJob := map[string][]result.Event{}
	for _, ev := range e.results(4, 30*time.Second) {
		byJob[ev.JobID] = append(byJob[ev.JobID], ev)
	}
	for id, n := range map[string]int{"vip-on-shop": 2, "friend-on-alim": 1} {
		if len(byJob[id]) != n {
			t.Errorf("job %s: %d results, want %d", id, len(byJob[id]), n)
		}
		for _, ev := range byJob[id] {
			if ev.Status != result.Rejected || ev.Reason != result.ReasonInvalidJob || ev.Account != "shop" ||
				!strings.Contains(ev.Message, "published to") {
				t.Errorf("job %s recipient %d: %s/%s account %q %q; want rejected/invalid_job under shop, saying why",
					id, ev.RecipientIndex, ev.Status, ev.Reason, ev.Account, ev.Message)
			}
		}
	}
	if evs := byJob["shop-ok"]; len(evs) != 1 || evs[0].Status != result.Accepted {
		t.Errorf("matching job: %+v, want one accepted result", evs)
	}
	if n := e.requests("vip"); n != 0 {
		t.Errorf("%d requests through vip, want none", n)
	}

	dead := readStream(t, e.js, streams.DLQStream, 2, 10*time.Second, func(m jetstream.Msg) jetstream.Msg { return m })
	for _, m := range dead {
		id := m.Headers().Get(streams.HeaderJobID)
		if m.Subject() != streams.DLQSubject("shop") || !strings.HasPrefix(m.Headers().Get(streams.HeaderReason), "invalid_job: ") {
			t.Errorf("dead letter of %s on %s, reason %q; want on %s, invalid_job: ...",
				id, m.Subject(), m.Headers().Get(streams.HeaderReason), streams.DLQSubject("shop"))
		}
	}
	waitFor(t, 10*time.Second, "jobs stream empty", func() bool { return e.streamCount(streams.JobsStream) == 0 })
}
