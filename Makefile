# RingFormat - `make demo` runs the demo, `make test` runs every test.
#
#   make lib                  libringformat.so with its Swift runtime linked in (.build-abi/release)
#   make install PREFIX=DIR   headers, library and pkg-config file under DIR (default /usr/local)

SHELL   := /bin/bash
SWIFT   ?= swift
CC      ?= cc
PREFIX  ?= /usr/local
VERSION := 1.0.0

ABI_SCRATCH := .build-abi
LIB         := $(ABI_SCRATCH)/release/libringformat.so
HEADER      := Sources/CRingABI/include/ringformat.h
ABI_FLAGS   := -c release --product ringformat --scratch-path $(ABI_SCRATCH) \
               -Xswiftc -static-stdlib -Xlinker -soname=libringformat.so \
               -Xlinker --version-script=$(CURDIR)/Sources/CRingABI/build/ringformat.map
CTEST_FLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -ISources/CRingABI/include -Iinterop/c

.PHONY: all build bootstrap lib demo test test-swift test-c test-python test-interop test-interop-long fuzz bench install clean

all: build

build:
	$(SWIFT) build

lib:
	$(SWIFT) build $(ABI_FLAGS)

demo: lib
	$(SWIFT) build -c release --product ringctl
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	@[ -x .venv/bin/python ] || python3 -m venv .venv
	.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps .
	./scripts/demo.sh

test: bootstrap test-swift test-c test-python test-interop

bootstrap:
	./scripts/bootstrap.sh

test-swift:
	$(SWIFT) build --build-tests
	$(SWIFT) test

# The C ABI: the library's symbols and dependencies, the dlopen tests, a C
# program built against an installed copy with pkg-config, and C <-> Swift
# processes on one ring file.
# Also: every read API against a racing producer process (test_race), fork semantics
# (test_fork) and a hostile peer scribbling the file (hostile_peer, built with ASan).
# RING_RACE_LONG=1 runs their long versions (test-interop-long does).
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
test-c: lib
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/test_abi Tests/c/test_abi.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	$(CC) $(CTEST_FLAGS) -o build/test_race Tests/c/test_race.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_fork Tests/c/test_fork.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -O1 $(ASAN_FLAGS) -o build/hostile_peer Tests/c/hostile_peer.c -ldl -lpthread
	$(SWIFT) build --product ringctl
	./scripts/test_c.sh $(LIB) build/test_abi build/ring_peer .build/debug/ringctl build/test_race build/test_fork build/hostile_peer

# ringpy: pip install . into .venv, a wheel in a fresh virtualenv, then pytest.
test-python: lib
	$(SWIFT) build --product ringctl
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	./scripts/test_python.sh

# Cross-language and crash tests (ringpy from test-python's .venv): the 9-pair
# Swift/C/Python matrix under both policies and 200 SIGKILLs of producers and consumers.
# `make test-interop-long` runs the long versions.
MATRIX_COUNT ?= 5000
KILLS ?= 200
RINGCTL ?= .build/debug/ringctl
START ?= 4294963200
test-interop: lib
	$(SWIFT) build --product ringctl
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	@[ -x .venv/bin/python ] || ./scripts/test_python.sh --collect-only -q > /dev/null
	RINGFORMAT_LIB=$(CURDIR)/$(LIB) ./interop/run_matrix.py --ringctl $(RINGCTL) \
	    --c-peer build/ring_peer --python .venv/bin/python --count $(MATRIX_COUNT) --initial-position $(START)
	./interop/kill_test.py $(RINGCTL) --kills $(KILLS)
	$(SWIFT) build --product ring-fuzz
	.build/debug/ring-fuzz interop/fuzz/corpus
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# libFuzzer (with AddressSanitizer) over open + read-everything of arbitrary ring files,
# starting from interop/fuzz/corpus. `make fuzz FUZZ_SECONDS=3600` fuzzes for an hour;
# a crash leaves its input in build/fuzz (add it to the corpus once fixed).
FUZZ_SECONDS ?= 60
fuzz:
	$(SWIFT) build --product ring-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	@rm -rf build/fuzz && mkdir -p build/fuzz/corpus && cp interop/fuzz/corpus/* build/fuzz/corpus/
	cd build/fuzz && ../../.build-fuzz/debug/ring-fuzz -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 corpus 2>&1 \
	    | grep -E "^(INFO: Loaded|#[0-9]+[[:space:]]+(INITED|DONE))|stat::number_of_executed_units|ERROR|SUMMARY|==[0-9]+=="; \
	    test $${PIPESTATUS[0]} -eq 0

test-interop-long:
	$(SWIFT) build -c release --product ringctl
	$(MAKE) test-interop RINGCTL=.build/release/ringctl MATRIX_COUNT=1000000 KILLS=1000 FUZZ_SECONDS=1800
	$(CC) $(CTEST_FLAGS) -o build/test_race Tests/c/test_race.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -O1 $(ASAN_FLAGS) -o build/hostile_peer Tests/c/hostile_peer.c -ldl -lpthread
	RING_RACE_LONG=1 build/test_race $(LIB)
	RING_RACE_LONG=1 build/hostile_peer $(LIB)
	RING_RACE_LONG=1 RINGFORMAT_LIB=$(CURDIR)/$(LIB) RING_PEER=$(CURDIR)/build/ring_peer \
	    .venv/bin/python -m pytest Tests/python/test_race.py -q -p no:cacheprovider

# Benchmarks (never part of the tests): Swift, C and ringpy with its peers in one run;
# writes bench/results/{results.json,results.md,throughput.png}. BENCH_RUNS=3 by default.
BENCH_RUNS ?= 3
bench: lib
	$(SWIFT) build -c release --product ring-bench
	@mkdir -p build
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -ISources/CRingABI/include -o build/ring_bench_c bench/c/ring_bench.c -ldl
	rm -rf build/wheel && python3 -m pip wheel -q --disable-pip-version-check --no-deps -w build/wheel .
	./bench/python/setup_venv.sh build/wheel/ringpy-*.whl
	.venv-bench/bin/python -m pip install -q --disable-pip-version-check matplotlib
	.venv-bench/bin/python bench/run_all.py --ring-bench .build/release/ring-bench --c-bench build/ring_bench_c \
	    --lib $(LIB) --python .venv-bench/bin/python --runs $(BENCH_RUNS)

install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libringformat.so
	install -m 0644 $(HEADER) $(DESTDIR)$(PREFIX)/include/ringformat.h
	install -m 0644 $(dir $(HEADER))ringformat_layout.h $(DESTDIR)$(PREFIX)/include/ringformat_layout.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' Sources/CRingABI/build/ringformat.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringformat.pc

clean:
	rm -rf .build $(ABI_SCRATCH) build .venv
