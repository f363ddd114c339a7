#!/usr/bin/env bash
# Keep-alive use under load: how many TCP connections the server accepted
# (the kernel's TcpPassiveOpens, all of loopback) for how many requests, in
# one ../shared/bench/hkp-load.sh run.   tests/bench/keepalive.sh URL [CORPUS] [CASE] [CONNS]
# A server that keeps connections open accepts about CONNS (wrk's 32); one
# that closes each answers one request per connection.
set -euo pipefail
URL=${1:?usage: keepalive.sh URL [CORPUS_DIR] [CASE] [CONNS]}
CORPUS=${2:-/tmp/keydir-corpus}
CASE=${3:-fpr}
CONNS=${4:-32}
LOAD=$(cd "$(dirname "$0")/../../.." && pwd)/shared/bench/hkp-load.sh
[ -f "$LOAD" ] || { echo "keepalive: ../shared/bench/hkp-load.sh is absent: nothing measured" >&2; exit 0; }
command -v nstat >/dev/null || { echo "keepalive: nstat (iproute2) is missing" >&2; exit 1; }
opens() { nstat -az TcpPassiveOpens | awk '/TcpPassiveOpens/ {print $2}'; }
before=$(opens)
out=$(CASES=$CASE RUNS=1 DURATION=5s WARMUP=0 CONNS=$CONNS OUTDIR=$(mktemp -d) bash "$LOAD" "$URL" "$CORPUS" 2>&1)
after=$(opens)
# The statuses column: "200:594278 404:12".
reqs=$(echo "$out" | awk -F'|' -v c="$CASE" '$2 ~ " "c" " {print $9}' |
  grep -oE ':[0-9]+' | tr -d : | awk '{n += $1} END {print n + 0}')
echo "$URL $CASE: $reqs requests over $((after - before)) new connections"
