# talkrelay — run `make help` for the targets.
GO        ?= go
BIN       := bin
STATICCHECK_VERSION := v0.8.2
GOBIN     := $(abspath $(BIN))
export GOBIN
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X github.com/talkrelay/talkrelay/internal/buildinfo.version=$(VERSION)
IMAGE     ?= talkrelay:$(VERSION)
CONTAINER_TOOL ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)

.DEFAULT_GOAL := help

help: ## Show this help.
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

deps: ## Download the Go modules.
	$(GO) mod download

build: deps ## Build bin/worker, bin/enqueue, bin/dlq and bin/admin (the first build compiles every dependency: a few minutes).
	@echo "building bin/worker, bin/enqueue, bin/dlq and bin/admin $(VERSION) (the first build compiles every dependency: a few minutes)"
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/worker ./cmd/enqueue ./cmd/dlq ./cmd/admin

image: ## Build the container image talkrelay:VERSION (IMAGE=...) from the Dockerfile with docker or podman; CONTAINER_TOOL picks one.
	@if [ -z "$(CONTAINER_TOOL)" ]; then \
	  echo "make image: neither docker nor podman is installed; install one, or set CONTAINER_TOOL to a compatible tool"; exit 1; fi
	@echo "building image $(IMAGE) with $(CONTAINER_TOOL)"
	$(CONTAINER_TOOL) build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

run: build ## Build, then run bin/worker on its embedded default (NATS in-process under ./data, sandbox account).
	exec $(BIN)/worker

test: deps ## Vet and run every test with the race detector (what CI runs), the Helm chart's in deploy/ too.
	$(GO) vet ./...
	@# The fault suite runs alone after the rest: its rate-limit test counts requests per
	@# wall-clock second at fakes in the test process, which other packages' tests would starve.
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v /internal/faultsuite)
	$(GO) test -race -count=1 -timeout 15m ./internal/faultsuite/
	@# -mod=mod: deploy/ builds the worker's config package through a replace, so a module
	@# the worker's go.mod gains reaches deploy/go.sum here instead of failing the run.
	cd deploy && $(GO) vet -mod=mod ./... && $(GO) test -mod=mod -race -count=1 -timeout 15m ./...

test-short: deps ## Run the fast tests only.
	$(GO) test -short -count=1 ./...
	cd deploy && $(GO) test -mod=mod -short -count=1 ./...

fault: deps ## Run the full fault suite: 10,000 recipients, 6 SIGKILLs, a NATS restart; reports through kills of the lease holder; the shared rate limit strictly, 60 s.
	FAULT_RECIPIENTS=10000 FAULT_KILLS=6 $(GO) test -count=1 -run 'TestFaultSuite|TestReportsThroughKills|TestProviderReportsThroughKills' -v -timeout 30m ./internal/faultsuite/
	FAULT_RATELIMIT_STRICT=1 FAULT_RATELIMIT_PHASE=20s $(GO) test -count=1 -run 'TestRateLimitSharedAcrossReplicas' -v -timeout 10m ./internal/faultsuite/

bench: deps ## Run the throughput benchmarks and print the table (about 15 minutes; BENCH_PROFILES, BENCH_SCALE, BENCH_RUNS, BENCH_PPROF: see internal/bench).
	$(GO) build -o $(BIN)/bench ./cmd/bench
	$(BIN)/bench
.PHONY: bench

fuzz: deps ## Fuzz every parser of untrusted input for FUZZTIME each (default 30s).
	@grep -rE '^func Fuzz' --include='*_test.go' internal | \
	  sed -E 's#^(.*)/[^/]+_test.go:func (Fuzz[A-Za-z0-9_]+).*#\1 \2#' | sort -u | \
	  while read -r pkg fn; do \
	    echo "== $$pkg $$fn"; \
	    $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$${FUZZTIME:-30s} ./$$pkg || exit 1; \
	  done

lint: deps $(BIN)/staticcheck ## Run go vet and staticcheck.
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

$(BIN)/staticcheck:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

clean: ## Remove build output and the embedded server's ./data.
	rm -rf $(BIN) data

.PHONY: help deps build image run test test-short fault fuzz lint clean
