# RingFormat - `make demo` runs the demo, `make test` runs every test.

SWIFT ?= swift

.PHONY: all build demo test test-swift clean

all: build

build:
	$(SWIFT) build

demo:
	$(SWIFT) build -c release --product ringctl
	./scripts/demo.sh

test: test-swift

test-swift:
	$(SWIFT) build --build-tests
	$(SWIFT) test

clean:
	rm -rf .build
