# Wrapper around the CMake build. `make demo` and `make test` are the quick start.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build setup test demo bench asan fuzz clean format

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

setup:
	@scripts/setup

test: setup build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: setup build
	@scripts/demo-certs
	@chmod 600 assets/demo/demo.token
	@# The demo's loopback HTTPS upstream (api.demo.test, evil.demo.test resolve
	@# to it) runs for as long as the dashboard does.
	@g=assets/demo/generated; d=$$(mktemp -d /tmp/bottle-demo.XXXXXX); \
	  python3 tests/integration/lib/upstream.py $$g/upstream.pem $$g/upstream-key.pem \
	    $$d/port $$d/requests.jsonl 18443 2>$$d/upstream.err & up=$$!; \
	  trap 'kill $$up 2>/dev/null; wait $$up 2>/dev/null; rm -rf $$d' EXIT INT TERM; \
	  i=0; while [ ! -s $$d/port ] && kill -0 $$up 2>/dev/null && [ $$i -lt 200 ]; do \
	    sleep 0.05; i=$$((i + 1)); done; \
	  if [ ! -s $$d/port ]; then echo "demo: the upstream did not start on 127.0.0.1:18443:"; \
	    cat $$d/upstream.err; exit 1; fi; \
	  ./$(BUILD)/bottle-tui assets/examples/demo.yaml

bench: setup build
	@bench/launch $(BUILD)
	@bench/run $(BUILD)
	@bench/tui $(BUILD)
	@$(BUILD)/dlp-bench

asan: setup
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBOTTLE_SANITIZE=ON -DBOTTLE_ASAN_TESTS=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz:
	@CC=clang-14 cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOTTLE_FUZZ=ON -DBOTTLE_ASAN_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
