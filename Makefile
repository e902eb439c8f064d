# duoscope — setup, build, run, test.
#   make run    installs what is missing, builds, and opens the explorer on the bundled model
#   make test   installs what is missing, builds, and runs the whole test suite
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libncursesw5-dev tmux pkg-config
MODEL ?= sample-models/duo-12L
TEXT ?= sample-models/texts/quotes.txt

.PHONY: deps build release run test bench sample-model study clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

build: deps
	swift build

release: deps
	swift build -c release

run: release
	.build/release/duoscope explore $(MODEL) $(TEXT)

test: deps
	set -o pipefail; swift test --disable-swift-testing 2>&1 | tee .build-test.log
	@scripts/test-summary.sh .build-test.log

bench: release
	.build/release/duoscope bench $(MODEL) --seconds 2

sample-model: deps
	scripts/train-sample-model.sh

study: release
	scripts/study-sample-model.sh

clean:
	rm -rf .build
