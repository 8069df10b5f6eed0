#!/usr/bin/env bash
# fuzz.sh [TIME]: runs every fuzz target of the project for TIME (default 30s)
# each. New crashers land in the package's testdata/fuzz/<Target>/ and are
# replayed by every later `go test` run, so the corpus is kept in the repo.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-30s}
status=0
while IFS= read -r line; do
	file=${line%%:*}
	target=$(sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"${line#*:}")
	pkg=./$(dirname "$file")
	echo "== $pkg $target ($time)"
	if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$time"; then
		status=1
	fi
done < <(git ls-files '*_test.go' | xargs grep -H '^func Fuzz' | sort)
exit $status
