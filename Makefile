# entra-helper: `make build`, `make demo`, `make test`; see README.md.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin

.PHONY: all build test test-unit lint cross demo bench soak fuzz package clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/entra-helper ./cmd/entra-helper
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/entra-helperd ./cmd/entra-helperd

# Every test, the keyring ones against a real Secret Service (gnome-keyring on
# a private D-Bus session), with the race detector; then lint and cross builds.
test: lint cross
	scripts/with-keyring.sh env ENTRA_HELPER_REQUIRE_KEYRING=1 $(GO) test -race -count=1 -timeout 10m ./...

# The tests without the Secret Service harness (keyring tests skip).
test-unit:
	$(GO) test -race ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Both binaries must build and vet for macOS and Windows too.
cross:
	@for p in darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do \
		echo "vet $$p"; GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./cmd/... ./ipc/... ./daemon/... ./store/... || exit 1; \
	done

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
