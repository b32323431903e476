# mqstore — build, run, test.
GO       ?= go
DATA     ?= ./data
# Packages whose tests exercise goroutines run under the race detector; the others run without it.
RACE_RE  = /(internal/mapped|commitlog|consumequeue|index|store|txn|remoting|namesrv|broker|client|e2e|metrics|bench|console|acl|tlsconfig|replication|filter)$$
FUZZTIME ?= 10s
# Tests of concurrent packages that the race detector cannot run because the unmodified
# rocketmq-client-go races with itself in them; they skip under -race and run here without it.
NORACE_TESTS = ^TestResetOffsetRewindsLivePushConsumer$$

# Binaries: make build writes them to ./bin; make install copies them to $(PREFIX)/bin when PREFIX is
# set, else runs go install (GOBIN, or GOPATH/bin).
BINARIES = mqstore mqadmin mqbench
BIN      ?= ./bin
PREFIX   ?=

.PHONY: all build install run cluster test chaos bench bench-peer fuzz lint clean

all: lint build test

build:
	$(GO) build ./...
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do $(GO) build -o $(BIN)/$$b ./cmd/$$b || exit 1; done
	@echo "built $(BINARIES) in $(BIN); put them on PATH with: export PATH=\"$$(cd $(BIN) && pwd):\$$PATH\""

install:
ifneq ($(PREFIX),)
	@mkdir -p $(PREFIX)/bin
	@for b in $(BINARIES); do $(GO) build -o $(PREFIX)/bin/$$b ./cmd/$$b || exit 1; done
	@echo "installed $(BINARIES) in $(PREFIX)/bin"
else
	$(GO) install $(addprefix ./cmd/,$(BINARIES))
	@echo "installed $(BINARIES) in $$($(GO) env GOBIN || true)$$( [ -n "$$($(GO) env GOBIN)" ] || echo $$($(GO) env GOPATH)/bin)"
endif

# run: the server (broker + embedded name server) on the default ports, data under $(DATA).
run:
	$(GO) run ./cmd/mqstore -storePathRootDir $(DATA)

# cluster: a name server on 127.0.0.1:9876 and a 3-replica group broker-r (enableDLegerCommitLog)
# on the loopback aliases 127.0.0.11-13 (client port 10911, replication port 40911), data under
# $(DATA)/cluster/n0..n2, logs in $(DATA)/cluster/*.log. Ctrl-C stops all four. The group's stable
# leader address (dLegerLeaderAddr) is 127.0.0.10:10911: the ready leader serves there too and
# registers it as brokerId 0, so clients follow a failover without a route change.
CLUSTER_PEERS = n0-127.0.0.11:40911;n1-127.0.0.12:40911;n2-127.0.0.13:40911
CLUSTER_LEADER = 127.0.0.10:10911
cluster:
	$(GO) build -o $(BIN)/mqstore ./cmd/mqstore
	@mkdir -p $(DATA)/cluster
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' INT TERM EXIT; \
	$(BIN)/mqstore namesrv -listen 127.0.0.1:9876 -scanNotActiveBrokerInterval 1000 -brokerChannelExpiredTime 10000 \
		>$(DATA)/cluster/namesrv.log 2>&1 & \
	for i in 0 1 2; do \
		$(BIN)/mqstore -brokerClusterName ReplicatedCluster -brokerName broker-r \
			-brokerIP1 127.0.0.1$$((i+1)) -bindAddress 127.0.0.1$$((i+1)) -listenPort 10911 \
			-namesrvAddr 127.0.0.1:9876 -metrics-addr "" -registerNameServerPeriod 1000 \
			-storePathRootDir $(DATA)/cluster/n$$i \
			-enableDLegerCommitLog=true -dLegerGroup broker-r -dLegerPeers '$(CLUSTER_PEERS)' -dLegerSelfId n$$i \
			-dLegerLeaderAddr $(CLUSTER_LEADER) \
			>$(DATA)/cluster/n$$i.log 2>&1 & \
	done; \
	echo "name server 127.0.0.1:9876; replicas 127.0.0.11-13:10911, leader also at $(CLUSTER_LEADER) (logs in $(DATA)/cluster); Ctrl-C stops"; \
	wait

# test: the whole suite, what CI runs. Concurrent packages run with -race.
test: lint
	$(GO) test -count=1 -race $$($(GO) list ./... | grep -E '$(RACE_RE)')
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -E '$(RACE_RE)')
	$(GO) test -count=1 -run '$(NORACE_TESTS)' ./e2e

# chaos: the long Jepsen-style run of e2e/chaos (>= 100 faults against a 3-replica group, then the
# checker); docs/CHAOS.md. Partitions need root and nft. MQSTORE_CHAOS_SEED reproduces a run,
# MQSTORE_CHAOS_FAULTS / MQSTORE_CHAOS_MINUTES bound it, MQSTORE_CHAOS_REPORT writes its summary.
chaos:
	MQSTORE_CHAOS=1 $(GO) test -count=1 -timeout 60m -run '^TestChaosLong$$' -v ./e2e/chaos

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# bench-peer: the same produce workload against NATS JetStream (nested module bench/peer).
bench-peer:
	cd bench/peer && $(GO) run . -window 256

# fuzz: every fuzz target for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list='^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$target"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

lint:
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path './data/*' | xargs -r gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@for f in bench/scripts/*.sh; do bash -n "$$f" || exit 1; done

clean:
	rm -rf $(DATA) $(BIN)
