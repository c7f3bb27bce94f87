// Package bench measures talkrelay's worker end to end, against the
// ceiling of JetStream itself measured in the same run, and prints a
// table. `make bench` runs it through cmd/bench.
//
// For each profile the bench starts a nats-server in its own process
// (JetStream file storage in a temporary directory, default fsync, 8 MiB
// max payload), a fast fake of the NAVER / NHN / Kakao send APIs over
// real HTTP on loopback (Fake: correct paths, any credentials, one success
// per message, optional latency; no validation, so that it costs the box
// little CPU; for the reports profiles also NAVER's and NHN's report
// queries, see below), and the worker as a subprocess built with
// `go build ./cmd/worker`, configured by a generated YAML (worker.yaml
// beside its log in the work directory). The worker's CPU seconds come
// from /proc/<pid>/stat (utime+stime) over the measured window and its
// peak RSS from VmHWM in /proc/<pid>/status.
//
// Jobs are queued with JetStream async publishes (at most 4000 awaiting
// their ack, Nats-Msg-Id = job id, as internal/enqueue does). Each job's
// metadata carries its publish time ("bench_pub_ns"), which every result
// event echoes; publish→result latency is the result message's store time
// (its stream timestamp) minus that. The bench does not read results while
// the worker runs — it polls the results stream's message count — and
// reads them afterwards with an ordered consumer, so its reading takes no
// CPU from the worker.
//
// Profiles (sizes at BENCH_SCALE=1):
//
//	single    200,000 one-recipient AlimTalk jobs, NAVER adapter (100 a request), no latency;
//	          target ≥ 70% of the same-run ceiling
//	single3   single's workload consumed by three worker processes on the same
//	          server, accounts and consumers; target ≥ 70% of the same ceiling
//	campaign  20 jobs × 50,000 recipients, NHN AlimTalk (1000 a request);
//	          targets ≥ 85% of the results ceiling and peak RSS < 150 MB
//	singlerep single with reports.enabled on the NAVER account; single's target,
//	          then one delivery report per recipient
//	campaignrep campaign with reports.enabled (page_size 1000) on the NHN
//	          account; campaign's targets, then one report per recipient
//	latency   20,000 one-recipient jobs queued before the worker starts, Kakao
//	          adapter (1 a request), 50 ms fake latency, rate_limit 200
//	          requests/s, max_concurrency 32
//	latency3  latency's workload sent by three worker processes that share
//	          the account's one rate limit (NATS KV); the same target, in
//	          aggregate: ≥ 95% of 200 requests/s, never more in any second
//	backlog   250,000 and 1,000,000 one-recipient NAVER jobs queued before the
//	          worker starts: peak RSS must stay the same, and no pause between
//	          two provider requests may last 2 s (a stall)
//	tenants   100,000 one-recipient Kakao jobs of account tenant-a (1 a
//	          request, rate_limit 5 requests/s) queued before the worker
//	          starts; then one one-recipient probe job of tenant-b (Kakao, no
//	          limit) every 100 ms for 10 s (100 probes at any scale), and 20
//	          urgent jobs of tenant-a itself, one every 500 ms. Targets:
//	          every probe's publish→result within 1 s (p99 < 1 s), every
//	          urgent job's within 2 s
//
// single, single3 and campaign run three times under cmd/bench (-runs,
// BENCH_RUNS; Config.Runs, 1 by default, for other callers), each run with
// its own ceiling; the table shows the run of median ratio, and a note the
// ratio of every run, so that one noisy run does not decide a target.
// singlerep and campaignrep run once whatever -runs says: each waits
// minutes for its reports (three runs would take the whole bench past 20
// minutes on 2 cores).
//
// # Reports profiles
//
// singlerep and campaignrep measure what delivery reports cost. The
// worker's send path is measured as in single and campaign (recipients/s
// from the first publish to the last result, against a ceiling of the same
// run, the same targets), so that the two rows side by side show what the
// report pollers take from the sends. Before publishing, the bench waits
// for the account's poller to save its first cursor (a NAVER poller starts
// at the end of the results stream). After the last result it keeps the
// worker running until the reports stream holds one report per recipient,
// or until no report came for 4 minutes (NHN's update windows are read a
// minute at a time, two minutes after the minute ends, so a campaign's
// first report comes up to three minutes after its sends); then it reads
// every report and counts the recipients reported, reported twice and
// delivered. The check "delivery reports" (one per accepted recipient,
// none twice) is one of the row's targets. A second table, "reports of",
// prints per recipient: the reports stored, the report requests the fake
// served, the JetStream writes (results, send records, reports, and the
// pollers' leases and cursors in talkrelay_reports), and the worker's CPU
// µs and allocations from the first publish to the last report; then its
// peak RSS by then, reports/s (first report to last) and the time from the
// last result to the last report. When the wait stalls, the
// worker log's last "report poll failed" line is printed.
//
// For these profiles the fake also answers NAVER's request list by request
// id (GET …/messages?requestId=, pages of pageSize) and NHN's result
// updates by update window (GET …/message-results, both minutes inclusive,
// KST, paged, per kind): every message delivered (NAVER success, NHN 1000),
// NHN's recipientGroupingKey echoed from the send request and recipientSeq
// its position. It keeps per send request only what these need: a NAVER
// request's message count; an NHN request's minute, kind and grouping keys
// as runs of consecutive indices of one job (a campaign's 1,000,000
// recipients are 1000 requests of one run each), never the bodies.
//
// The table's allocs/recip is the worker's heap allocations per recipient
// within the measured window: go_memstats_mallocs_total read from its
// /metrics (the bench starts each built worker with TALKRELAY_HTTP_ADDR on a
// free loopback port) at the start and the end of the window. JS
// writes/recip is the messages the workers stored in JetStream (results and
// send records: the last sequences of the results stream and of the
// send-records bucket) per recipient.
//
// The tenants profile does not wait for tenant-a's backlog, which would take
// hours at 5 a second: it waits up to 5 s after the last probe for the
// probes' results, then stops the worker (shutdown_grace 2s). A probe
// without a result by then is "unanswered" and counts as slower than any
// answered one in p50/p99/max. It prints tenant-a's recipients/s over the
// window (worker's consumer created to end of the wait), how many tenant-a
// jobs are still in the jobs stream at the end (a second check: > 0, or
// tenant-a was not saturated throughout) and the pending counts summed over
// every consumer of TALKRELAY_JOBS.
//
// The bench finds the worker's consumers by listing those of TALKRELAY_JOBS,
// "<consumer>-<account>" for the accounts a profile uses (or the single
// shared consumer of earlier versions); pending counts are summed over all
// of them.
//
// With single3, the table's worker CPU is summed over the three processes
// and peak RSS is the largest of them (the note gives their sum); the worker
// logs are worker-1.log … worker-3.log.
//
// For the worker's phase of every profile, and for the ceiling's, a
// progress line gives what the embedded nats-server handled per recipient
// (messages and bytes in and out) and the bench process's CPU per
// recipient (the server, the publishing bench, and the fake or the
// ceiling program): side by side they tell whether a gap to the ceiling
// is the worker's own CPU or work it makes the server do (serverUse).
//
// The ceiling (single, single3, campaign) is a plain JetStream program in the bench
// process, run on the same server after the worker stopped: it consumes
// the same job messages from a work-queue stream, publishes one result per
// recipient (a real result event of the worker's run as the body, with a
// Nats-Msg-Id) and acks each job once its results are stored. It runs
// under the worker's conditions: for single, single3 and campaign the bench
// publishes the jobs while the worker consumes them, competing for the
// same two cores, so the ceiling too consumes while the jobs are being
// published, timed from the first publish. The worker's
// recipients/s is printed as a ratio to the ceiling's results/s; the
// latency profile's request rate as a ratio to the rate limit, with the
// most requests the fake saw in any sliding 1-second window.
//
// # Running
//
//	make bench                                     # everything, about 15 minutes on 2 cores
//	BENCH_RUNS=1 BENCH_PROFILES=single make bench  # one run instead of the median of three
//	BENCH_PROFILES=single,latency BENCH_SCALE=0.1 make bench
//	BENCH_PROFILES=singlerep,campaignrep BENCH_SCALE=0.05 make bench
//	BENCH_PROFILES=tenants,single3 BENCH_SCALE=0.05 make bench
//	go run ./cmd/bench -profiles campaign -scale 0.2 -workdir /tmp/b
//
// # Profiling the worker
//
// The worker has no pprof endpoint. With -pprof DIR (or BENCH_PPROF=DIR)
// cmd/bench starts, in place of the built worker, a subprocess of itself
// that runs the same worker code (RunProfiledWorker: config.Load,
// worker.Run) under runtime/pprof and writes DIR/cpu-<profile>.pprof and
// DIR/allocs-<profile>.pprof when it stops:
//
//	BENCH_PROFILES=single,campaign BENCH_PPROF=/tmp/prof make bench
//	go tool pprof -top -nodecount=15 /tmp/prof/cpu-single.pprof
//	go tool pprof -top -nodecount=15 -sample_index=alloc_space /tmp/prof/allocs-single.pprof
//	go tool pprof -http=:8081 /tmp/prof/cpu-campaign.pprof
//
// Profiling costs the worker a few per cent of CPU; take throughput
// numbers from a run without -pprof.
//
// The micro-benchmarks of the hot pieces (batcher, job decoder, provider
// request encoders) are ordinary Go benchmarks in *_bench_test.go files:
//
//	go test -run='^$' -bench=. -benchmem ./internal/dispatch ./internal/job ./internal/providers/...
package bench
