# entra-helper: `make build`, `make demo`, `make test`; see README.md.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin

.PHONY: all build test test-allocs test-unit test-windows lint cross demo bench soak fuzz package clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/entra-helper ./cmd/entra-helper
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/entra-helperd ./cmd/entra-helperd

# Wine's loader: Debian's wine64 package puts it in /usr/lib/wine.
WINE ?= $(shell command -v wine64 2>/dev/null || { test -x /usr/lib/wine/wine64 && echo /usr/lib/wine/wine64; })

# Every test, the keyring ones against a real Secret Service (gnome-keyring on
# a private D-Bus session), with the race detector, after lint and cross
# builds, and the allocation guards again without it (test-allocs);
# then, where Wine is installed, the Windows build under Wine.
test: lint cross
	scripts/with-keyring.sh env ENTRA_HELPER_REQUIRE_KEYRING=1 $(GO) test -race -count=1 -timeout 10m ./...
	$(MAKE) --no-print-directory test-allocs
	@if [ -n "$(WINE)" ]; then $(MAKE) --no-print-directory test-windows; \
	else echo "test-windows skipped: no wine64 (apt-get install wine64 binutils-mingw-w64-x86-64)"; fi

# The Windows binaries and unit tests under Wine, with a smoke test of the
# main job (see scripts/wine-test.sh and docs/install.md).
test-windows:
	WINE=$(WINE) scripts/wine-test.sh

# The allocation guards of the hot paths (TestCodecAllocs and the like),
# which skip under -race (internal/allocguard): counted without it.
ALLOC_PKGS := ./ipc/ ./daemon/ ./daemon/endpoint/
test-allocs:
	$(GO) test -count=1 -run 'Allocs$$' $(ALLOC_PKGS)

# The tests without the Secret Service harness (keyring tests skip).
test-unit:
	$(GO) test -race ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The whole tree, tests included, must vet for macOS and Windows too, and
# every package's tests must build for macOS (-exec true: built, not run).
cross:
	@for p in darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do \
		echo "vet $$p"; GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... || exit 1; \
	done
	@echo "test binaries darwin/arm64"; GOOS=darwin GOARCH=arm64 $(GO) test -exec true -count=1 ./... >/dev/null

# The main job end to end against the built-in fake Entra ID.
demo: build
	scripts/with-keyring.sh scripts/demo.sh

# Figures for docs/performance.md.
bench: build
	scripts/bench.sh

# Simulated days of renewals for 5 min, 10 min, 60–90 min and 24 h lifetimes on a
# fake clock: Entra calls per planned renewal interval (the table in
# docs/performance.md); a few seconds, behind -soak so `make test` stays lean.
soak:
	$(GO) test ./daemon/broker/ -run TestSoak -count=1 -v -soak

# Each fuzz target for FUZZTIME (default 30s); the corpus is kept in testdata/fuzz.
FUZZTIME ?= 30s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

package:
	scripts/package.sh

clean:
	rm -rf $(BIN) dist
