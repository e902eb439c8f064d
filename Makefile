# duoscope — setup, build, run, test.
#   make run    installs what is missing, builds, and opens the explorer on the bundled model
#   make test   installs what is missing, builds, and runs the whole test suite
#   make fuzz   libFuzzer + ASan harnesses for every parser, FUZZ_SECONDS each (default 600); make fuzz-ci: 30 s each
#   make sanitize  the test suite under AddressSanitizer, then ThreadSanitizer (docs/reliability.md)
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libopenblas-dev libncursesw5-dev tmux pkg-config
# Tests run optimised (the numeric tests are 10-50x slower in a debug build) with testability on,
# so @testable imports work; the package itself carries no unsafe flags.
TEST_FLAGS := -c release -Xswiftc -enable-testing --disable-swift-testing
MODEL ?= sample-models/duo-12L
TEXT ?= sample-models/texts/quotes.txt

.PHONY: deps build release run test lint bench sample-model study clean fuzz-build fuzz fuzz-ci sanitize sanitize-asan sanitize-tsan

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

test: deps lint
	set -o pipefail; swift test $(TEST_FLAGS) 2>&1 | tee .build-test.log
	@scripts/test-summary.sh .build-test.log

# Formatting (.swift-format) and the 140-column limit, which swift-format cannot enforce on string literals.
lint:
	swift format lint --strict -r Sources Tests
	@! LC_ALL=C.UTF-8 grep -rnP --include='*.swift' '^.{141,}' Sources Tests || { echo "lines over 140 characters"; exit 1; }

bench: release
	.build/release/duoscope bench $(MODEL) --seconds 2

sample-model: deps
	scripts/train-sample-model.sh

study: release
	scripts/study-sample-model.sh

clean:
	rm -rf .build

# --- Reliability: fuzzing and sanitizers (docs/reliability.md) ---
# One libFuzzer + AddressSanitizer binary holding every source of DuoSupport, DuoTokenizer and DuoEngine
# and Fuzz/Harness.swift in one module named DuoEngine, so the harness reaches internal APIs (their imports
# of each other are under #if canImport); DUOFUZZ_TARGET picks the harness. FUZZ_SRC lists the three
# folders, base first; it can point at another copy of them.
FUZZ_SRC ?= Sources/DuoSupport Sources/DuoTokenizer Sources/DuoEngine
FUZZ_SECONDS ?= 600
FUZZ_CI_SECONDS ?= 30
FUZZ_TARGETS ?= safetensors config index tokenizer router policy text
FUZZ_BIN ?= .build-fuzz/duofuzz
FUZZ_SWIFTFLAGS := -sanitize=fuzzer,address -parse-as-library -O -wmo -swift-version 5 -module-name DuoEngine -package-name duoscope \
	-I Sources/CBLAS -I Sources/CKernels $(addprefix -Xcc ,$(shell pkg-config --cflags openblas 2>/dev/null)) \
	$(shell pkg-config --libs openblas 2>/dev/null || echo -lopenblas)

fuzz-build: deps
	@mkdir -p $(dir $(FUZZ_BIN))
	swiftc $(FUZZ_SWIFTFLAGS) $$(find $(FUZZ_SRC) -name '*.swift' | sort) Fuzz/Harness.swift -o $(FUZZ_BIN) 2>&1 \
	  | { grep -v "ld.gold: warning: Cannot export local symbol '__asan" || true; }; test $${PIPESTATUS[0]} -eq 0

fuzz: fuzz-build
	DUOFUZZ_BIN=$(FUZZ_BIN) Fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-ci:
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

# The test suite under ASan and TSan, each in its own build folder. The explorer's tmux-driven
# terminal tests (duoscopeCLITests.ExplorerTerminalTests) are skipped: they drive the
# duoscope binary inside tmux with wall-clock waits and send it SIGSEGV on purpose (docs/reliability.md).
SANITIZE_SKIP ?= duoscopeCLITests.ExplorerTerminalTests
# Under TSan only: the full-disk test sets `ulimit -f 400`, and the TSan runtime itself dies of SIGBUS
# under that limit (a 9-line Swift program with no duoscope code does too; docs/reliability.md).
SANITIZE_TSAN_SKIP ?= duoscopeCLITests.TrainCommandTests/testCheckpointWriteFailureIsCleanError
sanitize: sanitize-asan sanitize-tsan

SANITIZE_TEST := swift test $(TEST_FLAGS) $(addprefix --skip ,$(SANITIZE_SKIP))
# Leak checking is off: ASan is here for memory errors (LeakSanitizer is not part of `make sanitize`).
SANITIZE_ASAN_OPTIONS ?= detect_leaks=0
SANITIZE_TSAN_OPTIONS ?= suppressions=$(CURDIR)/Fuzz/tsan.supp

sanitize-asan: deps
	mkdir -p .build-asan; set -o pipefail; ASAN_OPTIONS=$(SANITIZE_ASAN_OPTIONS) \
	  $(SANITIZE_TEST) --sanitize=address --scratch-path .build-asan 2>&1 | tee .build-asan/test.log
	@scripts/test-summary.sh .build-asan/test.log

sanitize-tsan: deps
	mkdir -p .build-tsan; set -o pipefail; TSAN_OPTIONS="$(SANITIZE_TSAN_OPTIONS)" \
	  $(SANITIZE_TEST) $(addprefix --skip ,$(SANITIZE_TSAN_SKIP)) --sanitize=thread --scratch-path .build-tsan 2>&1 | tee .build-tsan/test.log
	@scripts/test-summary.sh .build-tsan/test.log
