# The project's commands. `make demo` and `make test` work on a fresh machine: they install what is missing,
# start a private RabbitMQ on 127.0.0.1 (see scripts/broker.sh), run, and stop what they started.

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
SWIFT ?= swift
BENCH_ARGS ?=

.PHONY: setup build demo test bench broker-start broker-stop clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

demo: setup
	$(SWIFT) build --product amqp-demo
	scripts/with-services.sh .build/debug/amqp-demo

# One build, one `swift test` run; tests talk to the real broker and fail (never skip) without it.
test: setup
	$(SWIFT) build --build-tests
	@mkdir -p .run
	scripts/with-services.sh $(SWIFT) test --skip-build 2>&1 | tee .run/test.log; status=$$?; \
		scripts/test-summary.sh .run/test.log; exit $$status

bench: setup
	$(SWIFT) build -c release --product eventbus-bench
	scripts/with-services.sh .build/release/eventbus-bench $(BENCH_ARGS)

broker-start: setup
	scripts/broker.sh start

broker-stop:
	scripts/broker.sh stop

clean:
	scripts/broker.sh stop || true
	rm -rf .build .run
