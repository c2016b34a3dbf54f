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
	@./$(BUILD)/bottle-tui assets/examples/demo.yaml || \
	  { echo; echo "demo: the dashboard is not built yet; the demo bottle's launch plan:"; \
	    ./$(BUILD)/bottle-tui check assets/examples/demo.yaml; }

bench: setup build
	@bench/launch $(BUILD)
	@bench/run $(BUILD)

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
