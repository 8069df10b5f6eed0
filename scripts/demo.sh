#!/usr/bin/env bash
# demo.sh: entra-helper's main job end to end against the built-in fake Entra
# ID, in a throwaway HOME. Run it through `make demo`, which provides a private
# Secret Service (scripts/with-keyring.sh) and builds bin/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/bin

work=$(mktemp -d "${TMPDIR:-/tmp}/entra-helper-demo.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
export XDG_RUNTIME_DIR=$work/run
mkdir -p "$HOME" "$XDG_CONFIG_HOME/entra-helper" "$XDG_RUNTIME_DIR"
chmod 0700 "$XDG_RUNTIME_DIR"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Start a fake Entra ID (TLS on loopback, its own CA)"
go build -o "$work/fake-entra" ./internal/entratest/cmd/fake-entra
go build -o "$work/dbx-sdk-call" ./internal/demo/dbxcall
go build -o "$work/az-sdk-call" ./internal/demo/azcall
client_id=12a34b56-789c-0d12-e3fa-b456789c0123
head -c 24 /dev/urandom | base64 | tr -d '\n' >"$work/sp-secret"
"$work/fake-entra" -app "$client_id" -secret-file "$work/sp-secret" -ca-out "$work/ca.pem" \
	>"$work/fake-entra.json" 2>"$work/fake-entra.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$work/fake-entra.json" ] && break; sleep 0.05; done
authority=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$work/fake-entra.json")
tenant=$(sed -n 's/.*"tenant":"\([^"]*\)".*/\1/p' "$work/fake-entra.json")
echo "authority $authority, tenant $tenant"

step "Write a config with one service-principal profile (no secret in it)"
port=$(( 20000 + RANDOM % 20000 ))
cat >"$XDG_CONFIG_HOME/entra-helper/config.toml" <<EOF
default_profile = "sp"

[daemon]
metadata_listen = "127.0.0.1:$port"
identity_listen = "127.0.0.1:$((port + 1))"

[profiles.sp]
flow = "client-secret"
tenant = "$tenant"
client_id = "$client_id"
authority_host = "$authority"
databricks_host = "https://adb-1234567890123456.7.azuredatabricks.net"
EOF
cat "$XDG_CONFIG_HOME/entra-helper/config.toml"

step "Start entra-helperd (the keychain is a private gnome-keyring)"
export SSL_CERT_FILE=$work/ca.pem
"$bin/entra-helperd" 2>"$work/daemon.log" &
pids+=($!)
export ENTRA_HELPER_NO_AUTOSTART=1
for _ in $(seq 1 100); do "$bin/entra-helper" status >/dev/null 2>&1 && break; sleep 0.05; done

step "Sign the service principal in: the secret goes through stdin into the keychain"
echo '$ entra-helper login -p sp --secret-stdin < secret-file'
"$bin/entra-helper" login -p sp --secret-stdin <"$work/sp-secret"

step "Get a token (the bare token is what scripts use; shortened here)"
echo '$ entra-helper token -p sp | cut -c1-40'
"$bin/entra-helper" token -p sp | cut -c1-40
echo '$ entra-helper token -p sp -o json   (token elided)'
"$bin/entra-helper" token -p sp -o json | sed 's/"access_token":"[^"]*"/"access_token":"…"/'

step "Decode it"
echo '$ entra-helper token -p sp | entra-helper inspect --verify -'
"$bin/entra-helper" token -p sp | "$bin/entra-helper" inspect --verify -

step "The Databricks hook: the SDKs' metadata-service auth, answered by the daemon"
echo '$ entra-helper databricks env -p sp'
"$bin/entra-helper" databricks env -p sp | sed 's#\(127\.0\.0\.1:[0-9]*/\)[^/]*/#\1<secret>/#'
eval "$("$bin/entra-helper" databricks env -p sp)"
echo '$ a Go program using the Databricks SDK (auth_type = metadata-service) signs a request:'
"$work/dbx-sdk-call"

step "The Azure SDK hook: a managed identity on loopback, answered by the daemon"
echo '$ entra-helper azure env -p sp   (header value elided)'
"$bin/entra-helper" azure env -p sp | sed 's/^\(export IDENTITY_HEADER=\).*/\1…/'
eval "$("$bin/entra-helper" azure env -p sp)"
echo '$ a Go program with azidentity.NewDefaultAzureCredential (no other configuration) gets tokens:'
"$work/az-sdk-call" -resource https://management.core.windows.net/
"$work/az-sdk-call" -resource 2ff814a6-3304-4ab8-85cb-cd0e6f879c1d
echo '$ the same with ManagedIdentityCredential and the profile'"'"'s client ID:'
"$work/az-sdk-call" -credential managed -client-id "$client_id" -resource https://management.core.windows.net/
echo '$ an unknown client ID is refused at once:'
"$work/az-sdk-call" -credential managed -client-id 00000000-0000-0000-0000-000000000000 2>&1 | grep -o 'Identity not found[^;]*' | head -1 || true
echo '$ entra-helper azure env -p sp --terraform   (path secret elided)'
"$bin/entra-helper" azure env -p sp --terraform | sed 's#\(/imds/\)[^/]*/#\1<secret>/#'
unset IDENTITY_ENDPOINT IDENTITY_HEADER

step "Status"
"$bin/entra-helper" status

step "No secret or token was written to HOME or the logs"
secret=$(cat "$work/sp-secret")
token=$("$bin/entra-helper" token -p sp)
header=$("$bin/entra-helper" azure env -p sp --shell sh | sed -n "s/^export IDENTITY_HEADER='\{0,1\}\([^']*\)'\{0,1\}$/\1/p")
if grep -rqF -e "$secret" -e "$token" -e "$header" "$HOME" "$work/daemon.log"; then
	echo "FOUND a secret or token outside the keychain" >&2
	exit 1
fi
echo "checked $(find "$HOME" -type f | wc -l) files under HOME and the daemon log: clean"
