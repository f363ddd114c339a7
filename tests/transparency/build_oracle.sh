#!/usr/bin/env bash
# Builds keydir-log-oracle (tests/transparency/oracle), the independent
# checker of keydird's transparency log, into OUTDIR, offline, with Debian's
# golang-go and golang-golang-x-mod-dev (golang.org/x/mod/sumdb/{tlog,note}).
#   build_oracle.sh OUTDIR [--test]   (--test: also runs the oracle's Go unit tests)
# Exit 77 ("skipped: ...") when Go or the package is missing.
set -euo pipefail
OUT=${1:?usage: build_oracle.sh OUTDIR [--test]}
SRC=$(cd "$(dirname "$0")/oracle" && pwd)
GOSRC=/usr/share/gocode/src/golang.org/x/mod/sumdb

# Debian's go on PATH (golang-go), else a versioned one (golang-1.23-go).
GO=$(command -v go || ls -d /usr/lib/go-*/bin/go 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$GO" ] || { echo "skipped: no go (Debian package golang-go)"; exit 77; }
[ -f "$GOSRC/tlog/tlog.go" ] && [ -f "$GOSRC/note/note.go" ] ||
  { echo "skipped: no $GOSRC/{tlog,note} (Debian package golang-golang-x-mod-dev)"; exit 77; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W=$(mktemp -d)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
# GOPATH mode: the Debian sources are the only dependency; no module proxy,
# no toolchain download, the build cache in the temporary folder.
export GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOTOOLCHAIN=local GOFLAGS= \
  GOCACHE=$W/cache GOTMPDIR=$W CGO_ENABLED=0
cd "$SRC"
if [ "${2:-}" = --test ]; then
  "$GO" vet . && "$GO" test -count=1 .
fi
"$GO" build -trimpath -o "$OUT/keydir-log-oracle" .
echo "built $OUT/keydir-log-oracle ($("$GO" version | cut -d' ' -f3))"
