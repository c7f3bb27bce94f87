package worker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/talkrelay/talkrelay/internal/job"
	"github.com/talkrelay/talkrelay/internal/providers/kakao/kakaofake"
	"github.com/talkrelay/talkrelay/internal/providers/msgcheck"
	"github.com/talkrelay/talkrelay/internal/providers/nhn/nhnfake"
	"github.com/talkrelay/talkrelay/internal/providers/providertest"
	"github.com/talkrelay/talkrelay/internal/result"
	"github.com/talkrelay/talkrelay/internal/worker"
)

// TestBrandMessageEndToEnd sends a Brand Message of every bubble type,
// with its images and buttons, through NATS and the worker to NHN's and
// Kakao i Connect's strict fakes, plus a template-based one to NHN: every
// recipient is accepted, NHN gets one request per job on
// freestyle-messages or basic-messages, Kakao one ftupgrade request per
// recipient with the bubble's message_type.
func TestBrandMessageEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Brand Messages are ads: the worker's clock stands at 14:00 KST, when
	// Kakao takes them, whatever the hour the test runs at.
	clock := providertest.NewClock(time.Date(2026, 11, 10, 14, 0, 0, 0, msgcheck.KST))
	nhnAPI := nhnfake.New(t)
	nhnAPI.AddSender(nhnfake.Sender{PlusFriendID: "@brand", SenderKey: providertest.BrandSender}) // the worker's guard finds it
	kakaoAPI := kakaofake.New(t, kakaofake.WithClock(clock.Now))

	var jobs []*job.Job
	for _, bubble := range providertest.BrandBubbles {
		n := providertest.BrandJob(bubble, 2)
		n.ID, n.Account = "nhn-"+strings.ToLower(bubble), "nhn-main"
		k := providertest.BrandJob(bubble, 1)
		k.ID, k.Account = "kakao-"+strings.ToLower(bubble), "kakao-main"
		k.Recipients[0].Phone = "010-3333-0" + fmt.Sprint(100+len(jobs))
		jobs = append(jobs, n, k)
	}
	basic := providertest.BrandJob(job.BubbleWide, 2)
	basic.ID, basic.Account, basic.Template = "nhn-basic", "nhn-main", "BM_WINTER_01"
	basic.Brand = &job.Brand{Bubble: job.BubbleWide, Targeting: job.TargetingM}
	for i := range basic.Recipients {
		basic.Recipients[i].Variables = map[string]string{"name": fmt.Sprint("고객", i)}
	}
	jobs = append(jobs, basic)
	total := 0
	for _, j := range jobs {
		e.publishJob(j)
		total += len(j.Recipients)
	}

	cfg := e.config(
		providerAccount(t, "nhn-main", "nhn", nhnAPI.URL(), "",
			map[string]string{"secret_key": nhnfake.SecretKey}, map[string]any{"app_key": nhnfake.AppKey}),
		providerAccount(t, "kakao-main", "kakao", kakaoAPI.URL(), "",
			map[string]string{"client_id": kakaofake.ClientID, "client_secret": kakaofake.ClientSecret},
			map[string]any{"sender_no": "0212345678"}),
	)
	e.startWith(cfg, worker.Options{Providers: worker.Providers, Clock: clock})

	for _, ev := range e.results(total, 60*time.Second) {
		if ev.Status != result.Accepted || ev.Kind != string(job.BrandMessage) {
			t.Errorf("%s/%d: %s %s/%s %q, want an accepted brandmessage", ev.JobID, ev.RecipientIndex, ev.Kind, ev.Status, ev.Reason, ev.Message)
		}
	}

	paths := map[string]int{}
	for _, p := range nhnAPI.Paths() {
		paths[p[strings.LastIndex(p, "/")+1:]]++
	}
	if paths["freestyle-messages"] != len(providertest.BrandBubbles) || paths["basic-messages"] != 1 || len(paths) != 2 {
		t.Errorf("NHN requests by path: %v, want %d freestyle-messages and 1 basic-messages", paths, len(providertest.BrandBubbles))
	}
	var types []string
	for _, m := range kakaoAPI.Taken() {
		types = append(types, m.MessageType)
	}
	slices.Sort(types)
	want := []string{"U_FA", "U_FC", "U_FI", "U_FL", "U_FM", "U_FP", "U_FT", "U_FW"}
	if !slices.Equal(types, want) {
		t.Errorf("Kakao took message types %v, want %v", types, want)
	}
}
