# The project's commands. `make demo` and `make test` work on a fresh machine: they install what is missing,
# start a private RabbitMQ on 127.0.0.1 (see scripts/broker.sh), run, and stop what they started.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
SWIFT ?= swift
BENCH_ARGS ?=
# The library is the root package; Gateway/, Samples/ and Benchmarks/ are packages of their own on it (by path).
# Every package builds into the root's .build, so the dependencies they share compile once and every executable
# lands in .build/debug (or .build/release).
SCRATCH := $(CURDIR)/.build
IN_GATEWAY := cd Gateway && $(SWIFT) build --scratch-path $(SCRATCH)
IN_SAMPLES := cd Samples && $(SWIFT) build --scratch-path $(SCRATCH)
IN_BENCHMARKS := cd Benchmarks && $(SWIFT) build --scratch-path $(SCRATCH)

.PHONY: setup build docs demo gateway-demo e2e amqp-demo test faults fuzz bench broker-start broker-stop cluster-start cluster-stop clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build
	$(IN_GATEWAY)
	$(IN_SAMPLES)
	$(IN_BENCHMARKS)

# DocC for each library module (swift-docc-plugin, one module at a time) into .build/docs/<Module>.doccarchive, with
# --warnings-as-errors; fails on a broken link or snippet, or a top-level public symbol no landing page curates
# (scripts/docs.sh). The articles' code is in Snippets/, which `swift build --build-tests` compiles.
docs: setup
	scripts/docs.sh

# The ProductPriceChanged story: Basket and Catalog on SQLite against a private broker, and the webhook gateway
# delivering the price change to a Python receiver (scripts/demo.sh).
demo: setup
	$(IN_SAMPLES) --product catalog
	$(IN_SAMPLES) --product basket
	$(IN_GATEWAY) --product eventbus-gateway
	DEMO_WEBHOOK=1 WITH_POSTGRES=0 scripts/with-services.sh scripts/demo.sh

# The demo flow, then the basket page in headless Chromium (installed when missing); screenshot in .run/e2e/.
e2e: setup
	$(IN_SAMPLES) --product catalog
	$(IN_SAMPLES) --product basket
	WITH_POSTGRES=0 scripts/with-services.sh scripts/e2e.sh

# The webhook gateway: eventbus-gateway and a Python receiver (Samples/Webhooks); a price change published with curl
# shows in the receiver's output (scripts/gateway-demo.sh).
gateway-demo: setup
	$(IN_GATEWAY) --product eventbus-gateway
	WITH_POSTGRES=0 scripts/with-services.sh scripts/gateway-demo.sh

# The AMQP layer alone: publish and consume a few messages.
amqp-demo: setup
	$(IN_BENCHMARKS) --product amqp-demo
	WITH_POSTGRES=0 scripts/with-services.sh .build/debug/amqp-demo

# Builds every package into one scratch directory (the library with its tests, then Gateway and Samples with theirs,
# then Benchmarks), then runs the three packages' tests side by side against one set of servers (scripts/test.sh).
# Tests talk to the real broker and PostgreSQL and fail (never skip) without them.
test: setup
	$(MAKE) --no-print-directory docker-env && docker-compose -f docker/docker-compose.yml config -q && echo "docker/docker-compose.yml: valid"
	$(SWIFT) build --build-tests
	$(IN_GATEWAY) --build-tests
	$(IN_SAMPLES) --build-tests
	$(IN_BENCHMARKS)
	@mkdir -p .run
	scripts/with-services.sh scripts/test.sh

# docker/.env for docker/docker-compose.yml, which has no default passwords: random hex passwords for RabbitMQ and
# PostgreSQL, readable by the owner only. Written once; delete it to get new ones. `make test` runs it first, so the
# compose file validates on a fresh clone.
.PHONY: docker-env
docker-env: docker/.env
	@:

docker/.env:
	@umask 077 && { \
		echo "# Written by make docker-env: passwords for docker/docker-compose.yml. Not in git."; \
		echo "RABBITMQ_USER=eventbus"; \
		echo "RABBITMQ_PASSWORD=$$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"; \
		echo "POSTGRES_PASSWORD=$$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"; \
	} > $@.tmp && mv $@.tmp $@ && echo "docker/.env: written with random passwords"

# The fault ledger: Catalog and Basket under load while the broker restarts, connections close, services are
# killed, poison arrives...; checks every committed event is applied exactly once (scripts/faults/run.py,
# docs/FAULTS.md). Its own broker (5790) and PostgreSQL (5795); FAULTS=name,name runs a subset.
faults: setup
	$(IN_SAMPLES) --product catalog
	$(IN_SAMPLES) --product basket
	scripts/faults/run.py

# libFuzzer on the decoders of outside input (Fuzz/: its own package, built into .build-fuzz with the fuzzer and
# address sanitizers, so the main build is untouched): FUZZ_SECONDS each; fails on a crash, its input in .run/fuzz/.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := FuzzEventCodec FuzzInboundDecoder

fuzz: setup
	cd Fuzz && $(SWIFT) build --scratch-path ../.build-fuzz -Xswiftc -sanitize=fuzzer,address
	@mkdir -p .run/fuzz
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p .run/fuzz/$$target/corpus; \
		echo "fuzzing $$target for $(FUZZ_SECONDS) s"; \
		.build-fuzz/debug/$$target -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=.run/fuzz/$$target/ \
			.run/fuzz/$$target/corpus > .run/fuzz/$$target.log 2>&1 \
			|| { grep -v "Cannot export" .run/fuzz/$$target.log | tail -40; echo "$$target: crashed; input in .run/fuzz/$$target/"; exit 1; }; \
		grep -E "^Done" .run/fuzz/$$target.log; \
	done

bench: setup
	$(IN_BENCHMARKS) -c release --product eventbus-bench
	scripts/with-services.sh .build/release/eventbus-bench $(BENCH_ARGS)

broker-start: setup
	scripts/broker.sh start

broker-stop:
	scripts/broker.sh stop

# A three-node cluster on loopback (ports 5701-5703) for trying failover and quorum queues (scripts/cluster.sh).
cluster-start: setup
	scripts/cluster.sh start

cluster-stop:
	scripts/cluster.sh stop

clean:
	scripts/broker.sh stop || true
	scripts/cluster.sh stop || true
	rm -rf .build .run
