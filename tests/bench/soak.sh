#!/usr/bin/env bash
# Soak: keydird under mixed load (op=get, op=index, uploads) for DURATION
# seconds (default 300); peak RSS sampled every second, compared at 1 minute
# and at the end (target: within 10%), errors counted.
#   tests/bench/soak.sh BUILD_DIR CORPUS_DIR [DURATION]
# CORPUS_DIR as ../shared/bench/make-corpus.sh makes it (all.pgp, keys/,
# fingerprints.txt, emails.txt).
set -euo pipefail
B=$(cd "${1:?usage: soak.sh BUILD_DIR CORPUS_DIR [DURATION]}" && pwd)
CORPUS=${2:?usage}
DURATION=${3:-300}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$T"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/keydird" import --data "$T/data" "$CORPUS/all.pgp" >/dev/null 2>&1
"$B/keydird" serve --listen "127.0.0.1:$PORT" --data "$T/data" --add-rate 0 \
  --access-log "$T/access.log" >"$T/server.log" 2>&1 &
SPID=$!
PIDS+=("$SPID")
sleep 1
U=http://127.0.0.1:$PORT
# Mixed requests for wrk: gets by fingerprint, index by address, misses.
python3 - "$CORPUS" >"$T/paths" <<'PY'
import sys
c = sys.argv[1]
fprs = [l.strip() for l in open(f"{c}/fingerprints.txt") if l.strip()]
mails = [l.split()[-1] for l in open(f"{c}/emails.txt") if l.strip()]
for i, f in enumerate(fprs):
    print(f"keys /pks/lookup?op=get&options=mr&search=0x{f}")
    if i < len(mails):
        print(f"keys /pks/lookup?op=index&options=mr&search={mails[i].replace('@', '%40')}")
    print(f"keys /pks/lookup?op=get&options=mr&search=0x{'0' * 8}{f[8:]}")
PY
wrk -t1 -c8 -d"${DURATION}s" -s "$HERE/paths.lua" "$U" -- "$T/paths" >"$T/wrk.out" 2>&1 &
PIDS+=($!)
# Uploads: the corpus's keys again and again (merges), one at a time.
( while :; do
    for f in "$CORPUS"/keys/*.asc; do
      curl -s -o /dev/null -w '%{http_code}\n' --data-urlencode "keytext@$f" "$U/pks/add" || echo 000
    done
  done ) >"$T/uploads" &
UPID=$!
PIDS+=("$UPID")
rss() { awk '/VmHWM/ {print $2}' "/proc/$SPID/status"; }
cur() { awk '/VmRSS/ {print $2}' "/proc/$SPID/status"; }
: >"$T/rss"
for s in $(seq "$DURATION"); do
  sleep 1
  echo "$s $(cur) $(rss)" >>"$T/rss"
done
kill "$UPID" 2>/dev/null || true
sleep 1
at60=$(awk '$1 == 60 {print $2}' "$T/rss")
atend=$(tail -n 1 "$T/rss" | awk '{print $2}')
peak=$(tail -n 1 "$T/rss" | awk '{print $3}')
line=$(sed -n 's/^RESULT //p' "$T/wrk.out")
ups=$(grep -c . "$T/uploads")
bad=$(grep -vc '^200$' "$T/uploads" || true)
python3 - "$at60" "$atend" "$peak" "$line" "$ups" "$bad" "$DURATION" <<'PY'
import json, sys
at60, atend, peak, line, ups, bad, dur = sys.argv[1:]
at60, atend, peak = int(at60), int(atend), int(peak)
w = json.loads(line)
growth = (atend - at60) / at60 * 100
print(f"| soak, {int(dur)} s | lookups {w['rps']:,.0f} req/s, p99 {w['p99_us'] / 1000:.1f} ms, "
      f"statuses {w['status']}, socket errors {w['socket_errors']} | uploads {int(ups):,} "
      f"({int(bad)} not 200) | RSS at 1 min {at60 / 1024:.0f} MiB, at the end {atend / 1024:.0f} MiB "
      f"({growth:+.1f}%), peak {peak / 1024:.0f} MiB |")
ok = abs(growth) <= 10 and w["socket_errors"] == 0 and int(bad) == 0
print("soak: " + ("ok" if ok else "NOT OK"))
sys.exit(0 if ok else 1)
PY
