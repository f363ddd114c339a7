#!/usr/bin/env bash
# Misses against the ceiling: `op=get` of fingerprints that are not in the
# store, on keydird and on nginx serving the same corpus as static files
# (../shared/bench/ceiling-up.sh: its 404 is one failed stat), in alternated
# rounds of wrk (2 threads, 32 connections, keep-alive), then the system
# calls each makes per miss (strace -c -f on the server during a short run).
#   tests/bench/miss_ceiling.sh BUILD_DIR [CORPUS_DIR]
# ROUNDS=5 DURATION=8s; BASE_BUILD=DIR adds the keydird of another build (an
# earlier one) to each round; STRACE=0 skips the system call count;
# KEYDIRD_ARGS adds options to `keydird serve` (e.g. "--access-log off");
# KIND=hit asks for the corpus's own keys instead (op=get by fingerprint,
# 200), to check that what makes misses cheaper does not slow hits.
# keydird runs as an operator would start it (no access log; nginx has its
# access log off too), on a store of the corpus. Prints one Markdown table:
# median and range of req/s per server, the ratio of the medians to nginx,
# and system calls per request.
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
CORPUS=${2:-/tmp/keydir-corpus}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../.." && pwd)/shared/bench
[ -d "$SHARED" ] || { echo "miss_ceiling: $SHARED is absent: this benchmark needs ../shared/bench" >&2; exit 2; }
command -v wrk >/dev/null || { echo "miss_ceiling: needs wrk" >&2; exit 2; }
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8s}
STRACE=${STRACE:-1}
if [ ! -f "$CORPUS/all.pgp" ]; then
  # make-corpus.sh reads every keyring in /usr/share/keyrings: without
  # debian-keyring it finds only the archive's few keys.
  dpkg-query -W -f='${Status}' debian-keyring 2>/dev/null | grep -q "install ok installed" ||
    echo "miss_ceiling: debian-keyring is not installed: the corpus will hold only the archive's keys" >&2
  bash "$SHARED/make-corpus.sh" "$CORPUS" >/dev/null
fi
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash "$SHARED/ceiling-down.sh" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A URL PID
serve() {  # serve NAME BUILD
  local port
  port=$(free_port)
  [ -d "$T/store-$1" ] || cp -a "$T/store" "$T/store-$1"  # one server per store
  # shellcheck disable=SC2086
  "$2/keydird" serve --listen "127.0.0.1:$port" --data "$T/store-$1" ${KEYDIRD_ARGS:-} >"$T/serve-$1.log" 2>&1 &
  PID[$1]=$!
  PIDS+=("$!")
  for _ in $(seq 100); do grep -q serving "$T/serve-$1.log" && break; sleep 0.1; done
  URL[$1]=http://127.0.0.1:$port
}

"$B/keydird" import --threads 2 --data "$T/store" "$CORPUS/all.pgp" >/dev/null 2>&1
KIND=${KIND:-miss}
case $KIND in
  miss) LIST=$CORPUS/misses.txt WANT=404 ;;
  hit) LIST=$CORPUS/fingerprints.txt WANT=200 ;;
  *) echo "miss_ceiling: KIND is miss or hit" >&2; exit 2 ;;
esac
sed 's|^|127.0.0.1 /pks/lookup?op=get\&options=mr\&search=0x|' "$LIST" >"$T/misses.list"
NAMES=(keydird)
serve keydird "$B"
if [ -n "${BASE_BUILD:-}" ]; then
  serve base "$(cd "$BASE_BUILD" && pwd)"
  NAMES+=(base)
fi
bash "$SHARED/ceiling-up.sh" "$CORPUS" >/dev/null
URL[nginx]=http://127.0.0.1:${CEILING_PORT:-21380}
PID[nginx]=$(cat "${CEILING_DIR:-/tmp/keydir-ceiling}/nginx.pid")
NAMES+=(nginx)

cpu_ticks() {  # cpu_ticks PID... -> user+system clock ticks of these processes
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
server_pids() {  # the processes that answer: keydird, or nginx's workers
  if [ "$1" = nginx ]; then pgrep -P "${PID[nginx]}" | tr '\n' ' '; else echo "${PID[$1]}"; fi
}
run() {  # run NAME SECONDS -> RESULT json line, with the server's CPU ms per 1,000 requests
  local pids c0 c1 out
  pids=$(server_pids "$1")
  # shellcheck disable=SC2086
  c0=$(cpu_ticks $pids)
  out=$(wrk -t2 -c32 -d"$2" -s "$HERE/paths.lua" "${URL[$1]}" -- "$T/misses.list" | sed -n 's/^RESULT //p')
  # shellcheck disable=SC2086
  c1=$(cpu_ticks $pids)
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); s=float(sys.argv[3][:-1]); d["cpu_ms_per_1k"]=(int(sys.argv[2])*1000/100)/(d["rps"]*s/1000); print(json.dumps(d))' \
    "$out" "$((c1 - c0))" "$2"
}
for n in "${NAMES[@]}"; do
  r=$(run "$n" 2s)
  python3 -c 'import json,sys; s=json.loads(sys.argv[1])["status"]; sys.exit(0 if list(s) == [sys.argv[2]] else 1)' "$r" "$WANT" ||
    { echo "miss_ceiling: $n answered something other than $WANT: $r" >&2; exit 1; }
done
for _ in $(seq "$ROUNDS"); do
  for n in "${NAMES[@]}"; do
    echo "$n $(run "$n" "$DURATION")" >>"$T/results"
  done
done

# System calls per request: strace counts every thread of the server (nginx:
# its workers) during a 4 s run; strace slows the server, the count per
# request stays.
if [ "$STRACE" = 1 ] && command -v strace >/dev/null; then
  for n in "${NAMES[@]}"; do
    pids=$(server_pids "$n")
    args=()
    for p in $pids; do args+=(-p "$p"); done
    strace -c -f "${args[@]}" -o "$T/strace-$n.txt" 2>/dev/null &
    sp=$!
    sleep 1
    r=$(run "$n" 4s)
    kill -INT "$sp"
    wait "$sp" 2>/dev/null || true
    echo "$n $r $(awk '/ total$/ {print $4}' "$T/strace-$n.txt")" >>"$T/strace"
    awk -v n="$n" '/^ *[0-9]/ && $NF != "total" {print n, $NF, $4}' "$T/strace-$n.txt" >>"$T/strace-top"
  done
fi

python3 - "$T/results" "$T/strace" "$T/strace-top" "$ROUNDS" "$DURATION" "$KIND" \
  "$(wc -l <"$CORPUS/fingerprints.txt")" "$(wc -l <"$T/misses.list")" <<'EOF'
import json, os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    rows.setdefault(name, []).append(json.loads(js))
calls, top, nreq = {}, {}, {}
if os.path.exists(sys.argv[2]):
    for line in open(sys.argv[2]):
        name, rest = line.split(" ", 1)
        js, total = rest.rsplit(" ", 1)
        d = json.loads(js)
        reqs = d["rps"] * 4
        nreq[name] = reqs or 1
        calls[name] = int(total) / nreq[name]
    for line in open(sys.argv[3]):
        name, call, n = line.split()
        top.setdefault(name, []).append((call, int(n)))
med = {n: statistics.median(r["rps"] for r in rs) for n, rs in rows.items()}
# The machine's speed drifts between rounds (a shared VM): each round's
# servers ran back to back, so the ratio is the median of the rounds' ratios.
ratio = {n: statistics.median(a["rps"] / b["rps"] for a, b in zip(rs, rows["nginx"])) for n, rs in rows.items()}
kind = "misses" if sys.argv[6] == "miss" else "hits"
print(f"Corpus: {sys.argv[7]} keys; {sys.argv[8]} requests in the rotation.")
print()
print(f"| server | {kind}, req/s (median of {sys.argv[4]} runs of {sys.argv[5]}; range) | against nginx (median of the rounds' ratios) | server CPU per 1,000 {kind} | p99 | socket errors | system calls per request |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
for n, rs in rows.items():
    v = [r["rps"] for r in rs]
    p99 = statistics.median(r["p99_us"] for r in rs) / 1000
    errs = sum(r["socket_errors"] for r in rs)
    c = ""
    if n in calls:
        per = sorted(top.get(n, []), key=lambda x: -x[1])[:6]
        share = ", ".join(f"{k} {cnt / nreq[n]:.2f}" for k, cnt in per if cnt / nreq[n] >= 0.05)
        c = f"{calls[n]:.1f} ({share})"
    cpu = statistics.median(r["cpu_ms_per_1k"] for r in rs)
    print(f"| {n} | {med[n]:,.0f} ({min(v):,.0f}–{max(v):,.0f}) | {ratio[n]:.2f}× | {cpu:.1f} ms | {p99:.1f} ms | {errs} | {c} |")
EOF
