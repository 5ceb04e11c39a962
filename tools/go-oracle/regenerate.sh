#!/usr/bin/env bash
# Regenerate tests/data/gojson_oracle.json with the local Go toolchain (stdlib only, offline).
# Usage: tools/go-oracle/regenerate.sh   (from anywhere; needs go and python3 with hypothesis)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$here" && go vet ./... && go build -o "$tmp/oracle" .)
go_version="$(go version)"
python3 "$here/gen_cases.py" cases > "$tmp/cases.json"
"$tmp/oracle" < "$tmp/cases.json" > "$tmp/results.json"
python3 "$here/gen_cases.py" table "$go_version" < "$tmp/results.json" > "$root/tests/data/gojson_oracle.json"
echo "wrote $root/tests/data/gojson_oracle.json ($go_version)"
