#!/bin/bash
# Upload throughput of two or more keydird binaries, alternating, so that
# machine drift hits them alike: each round starts each binary on an empty
# store and runs ../shared/bench/hkp-upload.sh (PARALLEL=4) against it.
#   tests/bench/upload-ab.sh [ROUNDS] BIN...        (CORPUS=/tmp/keydir-corpus)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$HERE/../../.." && pwd)/shared/bench}
CORPUS=${CORPUS:-/tmp/keydir-corpus}
if [ ! -f "$SHARED/hkp-upload.sh" ]; then
  echo "upload-ab: $SHARED/hkp-upload.sh is absent (../shared/bench); nothing measured" >&2
  exit 0
fi
if [ ! -f "$CORPUS/all.pgp" ]; then
  echo "upload-ab: no corpus in $CORPUS (make it with $SHARED/make-corpus.sh $CORPUS)" >&2
  exit 1
fi
ROUNDS=4
if [[ ${1:-} =~ ^[0-9]+$ ]]; then ROUNDS=$1; shift; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for _ in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    port=$(free_port)
    rm -rf "$T/d"
    "$bin" serve --listen "127.0.0.1:$port" --data "$T/d" --add-rate 0 \
      --access-log "$T/a.log" >"$T/s.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q serving "$T/s.log" && break; sleep 0.1; done
    v=$(PARALLEL=4 OUTDIR=$T/up bash "$SHARED/hkp-upload.sh" "http://127.0.0.1:$port" "$CORPUS" |
      python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["keys_per_s"])')
    kill "$pid"; wait "$pid" 2>/dev/null
    echo "$bin $v"
  done
done
