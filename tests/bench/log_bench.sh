#!/usr/bin/env bash
# The transparency log's costs (docs/performance.md, "The transparency log"):
#   log_bench.sh BUILD DUMP FINGERPRINTS [ENTRIES...]
# BUILD: folder of keydird, keydir, tlog_bench (KEYDIR_BENCH=ON); DUMP: a
# keyring to import (e.g. keys-00000.pgp of scale_store.sh's realistic set);
# FINGERPRINTS: fingerprints of certificates in it, one a line (its
# fingerprints.txt). ENTRIES: sizes for tlog_bench (default 1000000).
# BASE_BUILD=DIR also imports DUMP with an earlier keydird (before the log),
# alternating runs, for the import comparison; MORE_BUILDS="LABEL=DIR ..."
# adds more keydirds to the alternation. RUNS (2), DURATION (10s).
# IMPORT_ONLY=1 stops after the imports; STORES=DIR puts the imported stores
# there (e.g. /dev/shm: a tmpfs takes the disk out of the comparison).
# Prints one JSON line per figure (an import's wall and CPU seconds, user
# plus system, and its peak RSS); the machine should be otherwise idle.
set -euo pipefail
B=${1:?usage: log_bench.sh BUILD DUMP FINGERPRINTS [ENTRIES...]}
DUMP=${2:?}
FPRS=${3:?}
shift 3
ENTRIES=("${@:-1000000}")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
RUNS=${RUNS:-2}
DURATION=${DURATION:-10s}

STORES=${STORES:-$T}
import_figures() {  # KEYDIRD DATA: "seconds":wall,"cpu_seconds":user+sys,"peak_rss_kib":N
  if ! /usr/bin/time -f '%e %U %S %M' -o "$T/time" "$1" import --data "$2" "$DUMP" >"$T/import.out" 2>&1; then
    echo "log_bench.sh: $1 import failed:" >&2
    tail -3 "$T/import.out" >&2
    exit 1
  fi
  awk '{ printf "\"seconds\":%s,\"cpu_seconds\":%.2f,\"peak_rss_kib\":%s", $1, $2 + $3, $4 }' "$T/time"
}
# The builds compared, alternated run by run: LABEL=DIR each.
COMPARE=(${BASE_BUILD:+base=$BASE_BUILD} ${MORE_BUILDS:-} head=$B)
for run in $(seq "$RUNS"); do
  for c in "${COMPARE[@]}"; do
    label=${c%%=*}
    rm -rf "$STORES/log-bench-$label"
    echo "{\"figure\":\"import\",\"build\":\"$label\",\"run\":$run,$(import_figures "${c#*=}/keydird" "$STORES/log-bench-$label")}"
    [ "$label" = head ] || rm -rf "$STORES/log-bench-$label"
  done
done
if [ "${IMPORT_ONLY:-0}" = 1 ]; then
  rm -rf "$STORES/log-bench-head"
  exit 0
fi
mv "$STORES/log-bench-head" "$T/head" 2>/dev/null || true
s=$(date +%s.%N)
"$B/keydird" log verify --data "$T/head" >"$T/verify.out"
e=$(date +%s.%N)
echo "{\"figure\":\"log verify\",\"seconds\":$(python3 -c "print(round($e - $s, 2))"),\"result\":\"$(tail -1 "$T/verify.out" | cut -c1-60)\"}"

# Lookups by fingerprint, without and with proofs.
start_keydird head --data "$T/head"
awk '{print "127.0.0.1 /pks/lookup?op=get&options=mr&search=0x" $1}' "$FPRS" | head -100000 >"$T/paths"
for run in $(seq "$RUNS"); do
  for proof in 0 1; do
    r=$(KEYDIR_LOG_PROOF=$proof wrk -t2 -c32 -d"$DURATION" -s "$HERE/paths.lua" "$U" -- "$T/paths" |
      sed -n 's/^RESULT //p')
    echo "{\"figure\":\"lookup by fingerprint\",\"proofs\":$proof,\"run\":$run,\"result\":$r}"
  done
done
curl -s -D "$T/h" -o /dev/null -H 'Keydir-Log-Proof: 1' "$U/pks/lookup?op=get&search=0x$(head -1 "$FPRS")"
echo "{\"figure\":\"proof headers\",\"bytes\":$(grep -i '^keydir-log-' "$T/h" | wc -c)}"

# A monitor's first run walks the whole log; the next one reads nothing new.
export XDG_STATE_HOME=$T/state
for which in first next; do
  s=$(date +%s.%N)
  "$B/keydir" monitor --server "$U" nobody@example.org >/dev/null
  e=$(date +%s.%N)
  echo "{\"figure\":\"monitor\",\"run\":\"$which\",\"seconds\":$(python3 -c "print(round($e - $s, 2))")}"
done
stop_keydird

for n in "${ENTRIES[@]}"; do
  echo "{\"figure\":\"tlog_bench\",\"result\":$("$B/tlog_bench" "$T/tlog-$n" "$n")}"
  rm -rf "$T/tlog-$n"
done
