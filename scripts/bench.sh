#!/usr/bin/env bash
# bench.sh: the figures of docs/performance.md in one run (about 1–2 minutes
# on 2 cores). `make bench` builds bin/ first, then runs this. It builds a
# hello-world Go program with the client's flags (the floor), the fake Entra
# ID and the harness (internal/bench/cmd/runbench), which prints one table.
# BENCH_ARGS passes flags to the harness, e.g. BENCH_ARGS="-runs 500 -duration 5s".
# BENCH_OUT, if set, also writes the table to that file.
# BENCH_PROFILE=DIR also profiles: the daemon is rebuilt with -tags
# benchprofile (net/http/pprof on loopback) and CPU profiles of it at 8
# clients, strace and inittrace of one client run go to DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

for b in bin/entra-helper bin/entra-helperd; do
	[ -x "$b" ] || { echo "bench.sh: $b is missing: run make bench (it builds bin/ first)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/entra-helper-bench-bin.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "bench: building hello-world (-trimpath -ldflags \"-s -w\"), rawtoken, fake-entra, the floor and the harness" >&2
"$GO" build -trimpath -ldflags '-s -w' -o "$tmp/hello" ./internal/bench/cmd/hello
# The floor of a token request: raw system calls, built like the client.
CGO_ENABLED=0 "$GO" build -trimpath -ldflags '-s -w' -o "$tmp/rawtoken" ./internal/bench/cmd/rawtoken
"$GO" build -o "$tmp/fake-entra" ./internal/entratest/cmd/fake-entra
"$GO" build -o "$tmp/runbench" ./internal/bench/cmd/runbench
"$GO" build -o "$tmp/floor" ./internal/bench/cmd/floor

bindir=bin
prof=()
if [ -n "${BENCH_PROFILE:-}" ]; then
	echo "bench: BENCH_PROFILE=$BENCH_PROFILE: a daemon with -tags benchprofile (pprof on loopback) in place of bin/entra-helperd" >&2
	bindir="$tmp/bin"
	mkdir -p "$bindir"
	cp bin/entra-helper "$bindir/"
	"$GO" build -trimpath -ldflags '-s -w' -tags benchprofile -o "$bindir/entra-helperd" ./cmd/entra-helperd
	prof=(-profile "$BENCH_PROFILE")
fi

out=()
[ -n "${BENCH_OUT:-}" ] && out=(-out "$BENCH_OUT")
# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
"$tmp/runbench" -bin "$bindir" -fake "$tmp/fake-entra" -hello "$tmp/hello" -floor "$tmp/floor" \
	-raw-token "$tmp/rawtoken" "${out[@]}" "${prof[@]}" ${BENCH_ARGS:-}
