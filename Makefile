# Ponder: `make run` opens Ponder, `make test` runs the tests. Both install the Debian
# packages Ponder links against when they are missing (with sudo when not root).

DEBIAN_PACKAGES := pkg-config libncurses-dev libopenblas-dev libjpeg-dev libpng-dev tmux curl python3-venv
SWIFT ?= swift
ARGS ?=

.PHONY: run test test-server build deps fuzz fuzz-images bench-tokenizer clean

deps:
	@command -v $(SWIFT) >/dev/null 2>&1 || { echo "Swift 6 is required: install the toolchain from swift.org and put swift on PATH." >&2; exit 1; }
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release --product ponder

run: build
	@"$$($(SWIFT) build -c release --show-bin-path)/ponder" $(ARGS)

# The TUI tests run on their own: they wait for the app's background tasks, which would queue
# behind the CPU-bound engine tests on the two-thread cooperative pool.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --filter TUITests
	$(SWIFT) test --skip-build --skip TUITests
	$(MAKE) test-server

# The remote model against a real vLLM on 127.0.0.1 (installed into .build-server on first use).
test-server:
	$(SWIFT) build --build-tests
	Scripts/server/test_server.sh

fuzz:
	Scripts/fuzz-gguf.sh $(or $(SECONDS),300)

fuzz-images:
	Scripts/fuzz-images.sh $(or $(SECONDS),180) all

bench-tokenizer: build
	python3 Scripts/bench_tokenizer.py

clean:
	rm -rf .build .build-fuzz .build-fuzz-images .build-server
