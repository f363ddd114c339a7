#!/usr/bin/env bash
# HKP lookup throughput against stores of different sizes, alternating, so
# that drift of the machine hits every store alike.
#   tests/bench/scale_load.sh BUILD_DIR ROUNDS NAME:DATA_DIR:CORPUS_DIR...
# e.g. tests/bench/scale_load.sh build 3 \
#        10k:/tmp/keydir-store-bench/data-10000:/tmp/c10k \
#        1M:/tmp/keydir-store-bench/data-1000000:/tmp/c1m
# Stores come from tests/bench/store_bench.sh; CORPUS_DIR from
# `gen_certs --corpus-dir` (fingerprints.txt, keyids.txt, emails.txt,
# misses.txt). Each round starts the server, warms every case for 2 s, then
# runs ../shared/bench/hkp-load.sh (8 s per case). Prints one table line per
# store, round and case; take the median over the rounds. SERVE_ARGS adds
# flags to `keydird serve` (e.g. SERVE_ARGS="--answer-cache-mb 0").
set -euo pipefail
B=${1:?usage: scale_load.sh BUILD_DIR ROUNDS NAME:DATA:CORPUS...}
ROUNDS=${2:?usage}
shift 2
LOAD=$(cd "$(dirname "$0")/../../.." && pwd)/shared/bench/hkp-load.sh
[ -f "$LOAD" ] || { echo "../shared/bench/hkp-load.sh is absent: nothing to measure with"; exit 1; }
PORT=${PORT:-11476}
for round in $(seq "$ROUNDS"); do
  for spec in "$@"; do
    IFS=: read -r name data corpus <<<"$spec"
    "$B/keydird" serve --listen "127.0.0.1:$PORT" --data "$data" \
      --row-cache-mb 1024 --access-log /dev/null ${SERVE_ARGS:-} >/dev/null 2>&1 &
    pid=$!
    sleep 2
    CASES="fpr keyid email miss" RUNS=1 DURATION=2s WARMUP=2s OUTDIR=$(mktemp -d) \
      bash "$LOAD" "http://127.0.0.1:$PORT" "$corpus" >/dev/null 2>&1
    CASES="fpr keyid email miss" RUNS=1 DURATION=8s WARMUP=0 OUTDIR=$(mktemp -d) SERVER_PID=$pid \
      bash "$LOAD" "http://127.0.0.1:$PORT" "$corpus" 2>&1 |
      grep '^| [a-z]' | grep -v '^| case' | sed "s/^/$name round $round /"
    kill "$pid"
    wait "$pid" || true
  done
done
