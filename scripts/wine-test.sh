#!/usr/bin/env bash
# wine-test.sh: the Windows build, run for real under Wine (make test-windows).
#
# 1. Builds, in a throwaway directory, the Windows binaries (tag winetest:
#    the one Wine-only pipe work-around, see ipc/pipe_wine_windows.go) and
#    the Windows test binaries of ipc, store, daemon/..., cmd/entra-helper
#    and internal/private.
# 2. Makes a private WINEPREFIX with bcryptprimitives.dll, a forwarder of
#    ProcessPrng to advapi32.SystemFunction036 that Go's runtime needs and
#    Wine 8 lacks, assembled here from a .def file with the mingw binutils
#    (no binary is committed).
# 3. Runs the unit tests under Wine, built with an overlay of one file of
#    the standard library that makes os.RemoveAll use the deletion Wine 8
#    implements (the test binaries only; t.TempDir's clean-up needs it).
# 4. Runs the smoke test of the main job (internal/winesmoke) against the
#    Windows binaries.
# Stops its wineserver and removes everything it made, whatever happens.
#
# Needs wine64 (Debian: wine64, which puts it in /usr/lib/wine) and
# binutils-mingw-w64-x86-64.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
die() {
	echo "wine-test: $*" >&2
	exit 2
}
find_tool() {
	command -v "$1" 2>/dev/null || { [[ -x /usr/lib/wine/$1 ]] && echo "/usr/lib/wine/$1"; } || true
}
WINE=${WINE:-$(find_tool wine64)}
WINESERVER=${WINESERVER:-$(find_tool wineserver)}
[[ -n $WINE && -n $WINESERVER ]] || die "wine64 not found: apt-get install wine64"
for tool in x86_64-w64-mingw32-as x86_64-w64-mingw32-ld; do
	command -v "$tool" >/dev/null || die "$tool not found: apt-get install binutils-mingw-w64-x86-64"
done

start=$(date +%s)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/entra-helper-wine.XXXXXX")
export WINEPREFIX=$tmp/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" WINEARCH=win64
cleanup() {
	"$WINESERVER" -k 2>/dev/null || true
	"$WINESERVER" -w 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP # so that cleanup runs on these too
step() { echo "wine-test: $* ($(($(date +%s) - start))s)"; }

# The prefix is made while Go builds.
mkdir -p "$tmp/bin" "$tmp/tests" "$tmp/dll" "$tmp/overlay"
"$WINE" wineboot -i >"$tmp/wineboot.log" 2>&1 &
boot=$!

# bcryptprimitives.dll: one export, forwarded; a DllMain that says yes.
cat >"$tmp/dll/bcryptprimitives.def" <<'EOF'
LIBRARY bcryptprimitives.dll
EXPORTS
ProcessPrng = advapi32.SystemFunction036
EOF
printf '\t.text\n\t.globl DllMain\nDllMain:\n\tmovl $1, %%eax\n\tret\n' >"$tmp/dll/dllmain.s"
x86_64-w64-mingw32-as "$tmp/dll/dllmain.s" -o "$tmp/dll/dllmain.o"
x86_64-w64-mingw32-ld -shared --entry DllMain -o "$tmp/dll/bcryptprimitives.dll" \
	"$tmp/dll/dllmain.o" "$tmp/dll/bcryptprimitives.def"

# The overlay: Deleteat always takes its fallback (Wine 8 answers "invalid
# function" to FileDispositionInformationEx instead of "not supported").
goroot=$("$GO" env GOROOT)
at=$goroot/src/internal/syscall/windows/at_windows.go
sed 's/^var TestDeleteatFallback bool$/var TestDeleteatFallback = true/' "$at" >"$tmp/overlay/at_windows.go"
grep -q '^var TestDeleteatFallback = true$' "$tmp/overlay/at_windows.go" ||
	die "$at changed: update the overlay in $0"
printf '{"Replace":{"%s":"%s"}}\n' "$at" "$tmp/overlay/at_windows.go" >"$tmp/overlay/overlay.json"

step "building the Windows binaries and tests"
export GOOS=windows GOARCH=amd64 CGO_ENABLED=0
"$GO" build -tags winetest -o "$tmp/bin/" ./cmd/entra-helper ./cmd/entra-helperd
pkgs=(./ipc ./store ./internal/private ./cmd/entra-helper $("$GO" list ./daemon/...))
"$GO" test -c -tags winetest -overlay "$tmp/overlay/overlay.json" -o "$tmp/tests/" "${pkgs[@]}"
unset GOOS GOARCH CGO_ENABLED

wait "$boot" || { cat "$tmp/wineboot.log" >&2; die "wineboot failed"; }
cp "$tmp/dll/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"

step "running the unit tests under Wine"
# Two at a time: most of their time is Wine starting processes.
# Each writes its log, then its result to $2.rc (through a rename, so a
# result is there whole or not at all); errexit is off in it, so a failing
# test can never leave it without a result. A test binary that hangs past
# -test.timeout (Wine's own processes can) is killed by timeout(1).
run_unit() (
	set +e
	local dir exe rc
	dir=$("$GO" list -f '{{.Dir}}' "$1") || { echo "go list $1 failed" >"$tmp/$2.log"; echo 2 >"$tmp/$2.rc.new"; mv "$tmp/$2.rc.new" "$tmp/$2.rc"; exit; }
	exe=$tmp/tests/$(basename "$dir").test.exe
	if [[ -f $exe ]]; then
		(cd "$dir" && timeout -k 10s "$UNIT_TIMEOUT" "$WINE" "$exe" -test.count=1 -test.timeout=120s) >"$tmp/$2.log" 2>&1
		rc=$?
		((rc == 124)) && echo "wine-test: killed after $UNIT_TIMEOUT" >>"$tmp/$2.log"
	else
		rc=skip # no test files
	fi
	echo "$rc" >"$tmp/$2.rc.new"
	mv "$tmp/$2.rc.new" "$tmp/$2.rc"
)
UNIT_TIMEOUT=${UNIT_TIMEOUT:-180s}
for i in "${!pkgs[@]}"; do
	run_unit "${pkgs[$i]}" "unit$i" &
	if (($(jobs -rp | wc -l) >= 2)); then wait -n || true; fi
done
wait
failed=()
for i in "${!pkgs[@]}"; do
	rc=missing
	[[ -f $tmp/unit$i.rc ]] && rc=$(<"$tmp/unit$i.rc")
	case $rc in
	0) echo "ok   ${pkgs[$i]} (windows, under Wine)" ;;
	skip) ;;
	*)
		echo "FAIL ${pkgs[$i]} (windows, under Wine, exit $rc):"
		cat "$tmp/unit$i.log" 2>/dev/null || echo "(no output)"
		failed+=("${pkgs[$i]}")
		;;
	esac
done

step "running the smoke test under Wine"
"$WINESERVER" -k 2>/dev/null || true
if ! ENTRA_HELPER_WINE="$WINE" ENTRA_HELPER_WINESERVER="$WINESERVER" ENTRA_HELPER_WINE_BIN="$tmp/bin" \
	timeout -k 10s 6m "$GO" test -count=1 -timeout 5m ./internal/winesmoke/; then
	failed+=(smoke)
fi
step "done"
if [[ ${#failed[@]} -gt 0 ]]; then
	echo "wine-test: failed: ${failed[*]}" >&2
	exit 1
fi
