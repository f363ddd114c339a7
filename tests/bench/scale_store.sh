#!/usr/bin/env bash
# The scale benchmark: N synthetic certificates (10 million for
# the published figures) from generation to a mixed load, in one sitting.
#   tests/bench/scale_store.sh BUILD_DIR N [N_SMALL]
#   e.g. tests/bench/scale_store.sh build 10000000 10000
# Steps (one Markdown table row per figure, with the command behind it):
#   1. generate N certificates with gen_certs (both cores; cached in
#      $WORK/certs-N-SEED/ once complete), and the first N_SMALL of the same
#      set, and fresh certificates for the uploads of step 6
#   2. keydird import of the dump (time, keys/s, peak RSS, store size against
#      the dump's size; the final compaction timed apart from its stderr line)
#   3. keydird check --expect (every fingerprint stored) and check --deep
#   4. keydird recon rebuild and recon status (the prefix tree)
#   5. HKP lookups with ../shared/bench/hkp-load.sh: the hot set (the first
#      N_SMALL certificates) on the big and on the small store, and a cold set
#      (COLD_SAMPLE lines drawn uniformly from the whole set, fixed seed) on
#      the big store after the page cache is dropped and keydird restarted
#   6. a mixed load (wrk, tests/bench/mixed_load.lua: 95% lookups from the
#      cold set, 4% misses, 1% uploads) for MIXED_SECONDS, keydird's RSS
#      sampled every RSS_EVERY seconds
#   7. with SKS=1: `sks build` of the same dump files (SKS_TIMEOUT)
#   8. clean up the stores (KEEP=1 keeps them); the dump stays (CLEAN_DUMP=1)
# A JSON summary of every figure goes to $WORK/summary.json.
# Environment (defaults): WORK=/tmp/keydir-scale SEED=42 MIX=realistic
#   GEN_THREADS=2 PER_FILE=100000 GEN_ARGS="--rsa-multi-prime" (gen_certs
#   flags, e.g. --rsa-pool 4; part of the set's identity) THREADS=2 (import) DEEP_CHECK=1
#   DURATION=10s RUNS=3 WARMUP=2s QUIET_MAX=20 (hkp-load.sh) COLD_SAMPLE=100000
#   DROP_CACHES=1 (needs root; drops the whole machine's page cache)
#   MIXED_SECONDS=600 MIXED_CONNS=16 RSS_EVERY=10 UPLOAD_CERTS=20000 DISK_EVERY=30
#   SERVE_ARGS="" (more flags for every keydird serve) SKS=0 SKS_TIMEOUT=10800
#   STEPS="import check recon lookups mixed sks" (the steps to run after the
#   generation; a run without import uses the stores a KEEP=1 run left and
#   adds its figures to that run's: a 10M run can span several sessions)
#   GEN_ONLY=0 (1: make the sets and stop; a stopped generation goes on
#   where it was at the next run) KEEP=0 CLEAN_DUMP=0 GEN_CERTS=BUILD_DIR/gen_certs KEYDIRD=BUILD_DIR/keydird
# MIX=realistic needs a gen_certs whose --help offers --mix; with an older
# one (or MIX=ed25519) the set is Ed25519 certificates from `--out FILE`, and
# the table says so.
# Exit status: 0, 1 when a step failed, 77 when SKIP_WITHOUT_SHARED=1 and
# ../shared/bench is absent (the smoke test).
set -euo pipefail
B=${1:?usage: scale_store.sh BUILD_DIR N [N_SMALL]}
N=${2:?usage: scale_store.sh BUILD_DIR N [N_SMALL]}
NS=${3:-10000}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../.." && pwd)/shared/bench
WORK=${WORK:-/tmp/keydir-scale}
SEED=${SEED:-42}
MIX=${MIX:-realistic}
GEN_THREADS=${GEN_THREADS:-2}
# Unset: multi-prime RSA-3072/4096 pool keys (signing 2-3 times faster, the
# public keys as large); GEN_ARGS="" makes the two-prime set.
GEN_ARGS=${GEN_ARGS---rsa-multi-prime}
PER_FILE=${PER_FILE:-100000}
THREADS=${THREADS:-2}
DEEP_CHECK=${DEEP_CHECK:-1}
DURATION=${DURATION:-10s}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2s}
QUIET_MAX=${QUIET_MAX:-20}
COLD_SAMPLE=${COLD_SAMPLE:-100000}
DROP_CACHES=${DROP_CACHES:-1}
MIXED_SECONDS=${MIXED_SECONDS:-600}
MIXED_CONNS=${MIXED_CONNS:-16}
RSS_EVERY=${RSS_EVERY:-10}
DISK_EVERY=${DISK_EVERY:-30}
UPLOAD_CERTS=${UPLOAD_CERTS:-20000}
SERVE_ARGS=${SERVE_ARGS:-}
SKS=${SKS:-0}
SKS_TIMEOUT=${SKS_TIMEOUT:-10800}
KEEP=${KEEP:-0}
CLEAN_DUMP=${CLEAN_DUMP:-0}
GEN_CERTS=${GEN_CERTS:-$B/gen_certs}
KEYDIRD=${KEYDIRD:-$B/keydird}
LOAD=$SHARED/hkp-load.sh

if [ ! -f "$LOAD" ] && [ "${SKIP_WITHOUT_SHARED:-0}" = 1 ]; then
  echo "SKIP: $SHARED (hkp-load.sh) is absent"
  exit 77
fi
for t in "$GEN_CERTS" "$KEYDIRD"; do
  [ -x "$t" ] || { echo "no executable $t" >&2; exit 1; }
done
mkdir -p "$WORK"
FIG=$WORK/figures.tsv
STEPS=" ${STEPS:-import check recon lookups mixed sks} "
has_step() { [[ "$STEPS" == *" $1 "* ]]; }
# A run that imports starts the figures afresh; one that does not adds to them.
if has_step import || [ ! -f "$FIG" ]; then : >"$FIG"; fi
SERVER_PID=
SAMPLER_PID=
DISK_SAMPLER_PID=
on_exit() {
  [ -z "$SAMPLER_PID" ] || kill "$SAMPLER_PID" 2>/dev/null || true
  [ -z "$DISK_SAMPLER_PID" ] || kill "$DISK_SAMPLER_PID" 2>/dev/null || true
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
}
trap on_exit EXIT

now() { echo "$EPOCHREALTIME"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "" }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }
du_bytes() { du -sb "$@" 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PEAK_DISK=0
DISK_SAMPLER_PID=
# note_disk: the space $WORK takes now, and the largest the sampler saw.
note_disk() {
  local d
  d=$(du_bytes "$WORK")
  [ "$d" -le "$PEAK_DISK" ] || PEAK_DISK=$d
  if [ -s "$WORK/disk-samples.txt" ]; then
    d=$(sort -n "$WORK/disk-samples.txt" | tail -1)
    [ "$d" -le "$PEAK_DISK" ] || PEAK_DISK=$d
  fi
}
# During an import (whose store is largest before its final compaction) and
# sks build, du of $WORK every DISK_EVERY seconds.
disk_sampler_start() {
  (while :; do du_bytes "$WORK" >>"$WORK/disk-samples.txt"; sleep "$DISK_EVERY"; done) &
  DISK_SAMPLER_PID=$!
}
disk_sampler_stop() {
  [ -n "$DISK_SAMPLER_PID" ] || return 0
  kill "$DISK_SAMPLER_PID" 2>/dev/null || true
  wait "$DISK_SAMPLER_PID" 2>/dev/null || true
  DISK_SAMPLER_PID=
  note_disk
}

# warn_space BYTES WHAT: a warning when the file system of $WORK has less free.
warn_space() {
  local avail
  avail=$(df -B1 --output=avail "$WORK" | tail -1)
  if [ "$avail" -lt "$1" ]; then
    echo "WARNING: $2 may need $(mib "$1") MiB; $WORK has $(mib "$avail") MiB free" >&2
  fi
}

# fig KEY VALUE UNIT COMMAND: one table row and one line of the summary.
fig() {
  printf '| %s | %s | %s | `%s` |\n' "$1" "$2" "$3" "$4"
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$FIG"
}
step() { echo; echo "### $*"; echo; echo "| figure | value | unit | command |"; echo "|---|---|---|---|"; }

echo "# keydir scale benchmark: N=$N N_SMALL=$NS seed=$SEED ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "machine: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo), keydird $("$KEYDIRD" --version 2>/dev/null | head -1)"

# ---------------------------------------------------------------- 1. generate
MODE=ed25519
if [ "$MIX" != ed25519 ] && "$GEN_CERTS" --help 2>&1 | grep -q -- '--mix'; then MODE=$MIX; fi
# gen_set DIR COUNT FIRST SEED: certificates FIRST..FIRST+COUNT-1 of the set
# in DIR/keys-*.pgp, their lists in DIR/corpus; DIR/complete when done
# (holds the generation time and command). Skipped when DIR/complete names
# the same command. The realistic mix is made one dump file at a time (each
# a --first/--count run, its lists in DIR/part-NNNNN), so a long generation
# that is stopped goes on where it was the next time. The RSA pool keys are
# kept in $WORK/rsa-pool: made once (minutes of CPU), read by every part.
gen_set() {
  local dir=$1 count=$2 first=$3 seed=$4 t0 t1
  local args=(--count "$count" --seed "$seed" --corpus-dir "$dir/corpus" --corpus-every 1)
  if [ "$MODE" = ed25519 ]; then
    # The old generator: one file, Ed25519 only, no --first: a fresh set comes
    # from another seed.
    args+=(--out "$dir/keys-00000.pgp")
  else
    # shellcheck disable=SC2206
    args+=(--mix "$MODE" --first "$first" --out-dir "$dir" --per-file "$PER_FILE" $GEN_ARGS)
  fi
  GEN_CMD="gen_certs ${args[*]}"
  if [ -f "$dir/complete" ] && grep -qxF "command $GEN_CMD" "$dir/complete"; then
    echo "(cached: $dir)" >&2
    return
  fi
  if [ "$MODE" = ed25519 ]; then
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    t0=$(now)
    "$GEN_CERTS" "${args[@]}" >"$dir/gen.log" 2>&1 || { echo "gen_certs failed:"; tail "$dir/gen.log"; exit 1; }
    t1=$(now)
    printf 'mode %s\nseconds %s\ncommand %s\n' "$MODE" "$(secs "$t0" "$t1")" "$GEN_CMD" >"$dir/complete"
    return
  fi
  # Parts already made by this same command are kept.
  if [ ! -f "$dir/command" ] || [ "$(cat "$dir/command")" != "$GEN_CMD" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "$GEN_CMD" >"$dir/command"
  fi
  local end=$((first + count)) lo hi n part
  for ((lo = first; lo < end; lo = hi)); do
    n=$((lo / PER_FILE))
    hi=$(((n + 1) * PER_FILE))
    [ "$hi" -le "$end" ] || hi=$end
    part=$dir/part-$(printf '%05d' "$n")
    [ -f "$part/done" ] && continue
    rm -rf "$part"
    mkdir -p "$part/out"
    t0=$(now)
    # shellcheck disable=SC2206
    "$GEN_CERTS" --mix "$MODE" --seed "$seed" --first "$lo" --count $((hi - lo)) \
      --threads "$GEN_THREADS" --out-dir "$part/out" --per-file "$PER_FILE" \
      --corpus-dir "$part" --corpus-every 1 --rsa-cache "$WORK/rsa-pool" $GEN_ARGS \
      >"$part/gen.log" 2>&1 ||
      { echo "gen_certs failed:"; tail "$part/gen.log"; exit 1; }
    t1=$(now)
    mv "$part"/out/keys-*.pgp "$dir/"
    echo "$(secs "$t0" "$t1")" >"$part/done"
    echo "(generated certificates $lo..$((hi - 1)) in $(cat "$part/done") s)" >&2
  done
  mkdir -p "$dir/corpus"
  for f in fingerprints.txt keyids.txt emails.txt; do
    cat "$dir"/part-*/"$f" >"$dir/corpus/$f"
  done
  cp "$(ls -d "$dir"/part-* | head -1)/misses.txt" "$dir/corpus/misses.txt"
  local total
  # (awk reads each file: a part made before the files ended in a newline
  # has none)
  total=$(awk '{s += $1} END {printf "%.2f", s}' "$dir"/part-*/done)
  printf 'mode %s\nseconds %s\ncommand %s\n' "$MODE" "$total" "$GEN_CMD" >"$dir/complete"
}
step "1. generation (mode: $MODE)"
warn_space $((N * 1300 * 3)) "the dump and the store (about 1.2 KB a certificate of the realistic mix, the store 1.7 times that)"
BIG=$WORK/certs-$N-$SEED
SMALL=$WORK/certs-$NS-$SEED
FRESH=$WORK/fresh-$N-$SEED-$UPLOAD_CERTS
gen_set "$BIG" "$N" 0 "$SEED"
gen_set "$SMALL" "$NS" 0 "$SEED"
if [ "$MODE" = ed25519 ]; then gen_set "$FRESH" "$UPLOAD_CERTS" 0 $((SEED + 1)); else gen_set "$FRESH" "$UPLOAD_CERTS" "$N" "$SEED"; fi
if [ "${GEN_ONLY:-0}" = 1 ]; then
  echo "GEN_ONLY=1: the sets are in $BIG, $SMALL and $FRESH"
  exit 0
fi
BIG_FILES=("$BIG"/keys-*.pgp)
SMALL_FILES=("$SMALL"/keys-*.pgp)
gen_s=$(sed -n 's/^seconds //p' "$BIG/complete")
dump_bytes=$(du_bytes "${BIG_FILES[@]}")
fig gen_mode "$MODE" "" "$(sed -n 's/^command //p' "$BIG/complete")"
fig gen_seconds "$gen_s" s "$(sed -n 's/^command //p' "$BIG/complete")"
fig gen_keys_per_s "$(div "$N" "$gen_s")" keys/s "N / gen_seconds"
fig dump_files "${#BIG_FILES[@]}" files "ls $BIG/keys-*.pgp"
fig dump_mib "$(mib "$dump_bytes")" MiB "du -sb $BIG/keys-*.pgp"
[ "$(head -1 "$BIG/corpus/fingerprints.txt")" = "$(head -1 "$SMALL/corpus/fingerprints.txt")" ] ||
  echo "WARNING: the small set does not start like the big one (seed $SEED): the hot sets differ" >&2
note_disk

# ---------------------------------------------------------------- 2. import
# import_store NAME DATA FILES...: timed import; sets IMP_* variables.
import_store() {
  local name=$1 data=$2 log t0 t1 tc rc
  shift 2
  log=$WORK/import-$name.log
  rm -rf "$data"
  disk_sampler_start
  t0=$(now)
  set +e
  /usr/bin/time -v -o "$WORK/import-$name.time" "$KEYDIRD" import --threads "$THREADS" --data "$data" "$@" 2>&1 |
    while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done >"$log"
  rc=${PIPESTATUS[0]}
  set -e
  t1=$(now)
  disk_sampler_stop
  [ "$rc" = 0 ] || { echo "import of $name failed (exit $rc):"; tail -20 "$log"; exit 1; }
  IMP_S=$(secs "$t0" "$t1")
  tc=$(awk '/compacting/ { print $1; exit }' "$log")
  if [ -n "$tc" ]; then IMP_NOCOMPACT_S=$(secs "$t0" "$tc"); IMP_COMPACT_S=$(secs "$tc" "$t1"); else IMP_NOCOMPACT_S=$IMP_S; IMP_COMPACT_S=0; fi
  IMP_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/import-$name.time")
  IMP_LINE=$(grep -o 'imported [0-9]* certificates, [0-9]*/s.*' "$log" | tail -1)
}
DATA=$WORK/data-$N
DATA_SMALL=$WORK/data-$NS
if has_step import; then
  step "2. import ($THREADS threads)"
  CMD="/usr/bin/time -v keydird import --threads $THREADS --data $DATA $BIG/keys-*.pgp"
  warn_space $((dump_bytes * 2)) "the import (the store was 1.7 times the dump at 3,000 certificates)"
  import_store big "$DATA" "${BIG_FILES[@]}"
  store_bytes=$(du_bytes "$DATA")
  fig import_seconds "$IMP_S" s "$CMD"
  fig import_keys_per_s "$(div "$N" "$IMP_S")" keys/s "N / import_seconds"
  fig import_before_compaction_seconds "$IMP_NOCOMPACT_S" s "$CMD (until its \"compacting\" line)"
  fig import_compaction_seconds "$IMP_COMPACT_S" s "$CMD (after its \"compacting\" line; 0: none)"
  fig import_keys_per_s_before_compaction "$(div "$N" "$IMP_NOCOMPACT_S")" keys/s "N / import_before_compaction_seconds"
  fig import_peak_rss_mib "$(awk -v k="$IMP_RSS_KB" 'BEGIN { printf "%.0f", k / 1024 }')" MiB "$CMD (Maximum resident set size)"
  fig store_mib "$(mib "$store_bytes")" MiB "du -sb $DATA"
  fig store_vs_dump "$(div "$store_bytes" "$dump_bytes")" ratio "store_mib / dump_mib"
  echo "keydird said: $IMP_LINE"
  note_disk
  import_store small "$DATA_SMALL" "${SMALL_FILES[@]}"
  fig small_import_seconds "$IMP_S" s "keydird import --threads $THREADS --data $DATA_SMALL $SMALL/keys-*.pgp"
  note_disk
else
  for d in "$DATA" "$DATA_SMALL"; do
    [ -d "$d" ] || { echo "no store $d: run the import step first (with KEEP=1)"; exit 1; }
  done
  echo "### 2. import: skipped, the stores of an earlier run (KEEP=1) are used"
fi

# ---------------------------------------------------------------- 3. check
if has_step check; then
  step "3. check"
  t0=$(now)
  "$KEYDIRD" check --data "$DATA" --expect "$BIG/corpus/fingerprints.txt" >"$WORK/check.log" 2>&1 ||
    { echo "keydird check failed:"; tail -20 "$WORK/check.log"; exit 1; }
  fig check_seconds "$(secs "$t0" "$(now)")" s "keydird check --data $DATA --expect $BIG/corpus/fingerprints.txt"
  echo "keydird said: $(tail -1 "$WORK/check.log")"
  if [ "$DEEP_CHECK" = 1 ]; then
    t0=$(now)
    "$KEYDIRD" check --deep --data "$DATA" >"$WORK/check-deep.log" 2>&1 ||
      { echo "keydird check --deep failed:"; tail -20 "$WORK/check-deep.log"; exit 1; }
    t1=$(now)
    fig check_deep_seconds "$(secs "$t0" "$t1")" s "keydird check --deep --data $DATA"
    fig check_deep_keys_per_s "$(div "$N" "$(secs "$t0" "$t1")")" keys/s "N / check_deep_seconds"
  fi
fi

# ---------------------------------------------------------------- 4. recon
if has_step recon; then
  step "4. recon prefix tree"
  t0=$(now)
  "$KEYDIRD" recon rebuild --data "$DATA" >"$WORK/recon-rebuild.log" 2>&1 ||
    { echo "keydird recon rebuild failed:"; cat "$WORK/recon-rebuild.log"; exit 1; }
  fig recon_rebuild_seconds "$(secs "$t0" "$(now)")" s "keydird recon rebuild --data $DATA"
  t0=$(now)
  "$KEYDIRD" recon status --json --data "$DATA" >"$WORK/recon-status.json" 2>"$WORK/recon-status.err" ||
    { echo "keydird recon status failed:"; cat "$WORK/recon-status.err"; exit 1; }
  fig recon_status_seconds "$(secs "$t0" "$(now)")" s "keydird recon status --json --data $DATA (reads the whole tree)"
  read -r elements nodes depth < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["elements"], d["nodes"], d["depth"])' "$WORK/recon-status.json")
  fig recon_elements "$elements" elements "keydird recon status --json --data $DATA"
  fig recon_nodes "$nodes" nodes "keydird recon status --json --data $DATA"
  fig recon_depth "$depth" levels "keydird recon status --json --data $DATA"
fi

# ---------------------------------------------------------------- servers
# start_server DATA LOG ARGS...: keydird serve on a free port; sets SERVER_PID, PORT.
start_server() {
  local data=$1 log=$2 i
  shift 2
  PORT=$(free_port)
  # shellcheck disable=SC2086
  "$KEYDIRD" serve --listen "127.0.0.1:$PORT" --data "$data" --access-log off $SERVE_ARGS "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 6000); do
    grep -q '^keydird: serving' "$log" && curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/pks/lookup?op=stats" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "keydird serve exited:"; tail -20 "$log"; exit 1; }
    sleep 0.1
  done
  echo "keydird serve did not serve within 600 s"; tail -20 "$log"; exit 1
}
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
drop_caches() {
  if [ "$DROP_CACHES" = 1 ] && [ "$(id -u)" = 0 ]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
    CACHE_NOTE="page cache dropped"
  else
    CACHE_NOTE="page cache NOT dropped (DROP_CACHES=$DROP_CACHES, uid $(id -u))"
  fi
}
# load NAME CORPUS CASES WARMUP RUNS: hkp-load.sh against the running server;
# one row per case and figure (median over RUNS).
load() {
  local name=$1 corpus=$2 cases=$3 warmup=$4 runs=$5 out=$WORK/load-$1
  rm -rf "$out"
  CASES=$cases RUNS=$runs DURATION=$DURATION WARMUP=$warmup QUIET_MAX=$QUIET_MAX OUTDIR=$out \
    SERVER_PID=$SERVER_PID bash "$LOAD" "http://127.0.0.1:$PORT" "$corpus" >"$out.log" 2>&1 ||
    { echo "hkp-load.sh failed:"; tail -20 "$out.log"; exit 1; }
  local c cmd="CASES=\"$cases\" RUNS=$runs DURATION=$DURATION WARMUP=$warmup ../shared/bench/hkp-load.sh URL $corpus"
  for c in $cases; do
    read -r rps p50 p99 bad sock < <(python3 - "$out/load.jsonl" "$c" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if r["case"] == sys.argv[2]]
w = [r["wrk"] for r in rows]
med = lambda xs: statistics.median(xs)
want = "404" if sys.argv[2] == "miss" else "200"
bad = sum(v for r in w for k, v in r["status"].items() if k != want)
sock = sum(r["errors"][k] for r in w for k in ("connect", "read", "write", "timeout"))
print(f'{med([r["rps"] for r in w]):.0f}', f'{med([r["lat_us"]["p50"] for r in w]) / 1000:.3f}',
      f'{med([r["lat_us"]["p99"] for r in w]) / 1000:.3f}', bad, sock)
PY
)
    fig "${name}_${c}_rps" "$rps" req/s "$cmd"
    fig "${name}_${c}_p50_ms" "$p50" ms "$cmd"
    fig "${name}_${c}_p99_ms" "$p99" ms "$cmd"
    fig "${name}_${c}_unexpected_status" "$bad" replies "$cmd (not $([ "$c" = miss ] && echo 404 || echo 200))"
    fig "${name}_${c}_socket_errors" "$sock" errors "$cmd"
  done
}
val() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$FIG"; }

# Cold lists: COLD_SAMPLE lines of each list of the whole set, uniformly,
# reproducibly (shuf with a seeded random stream); the misses as they are.
seeded() { openssl enc -aes-256-ctr -pass "pass:$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null; }
COLD=$WORK/cold-$N-$SEED-$COLD_SAMPLE
if [ ! -f "$COLD/complete" ]; then
  mkdir -p "$COLD"
  i=0
  for f in fingerprints.txt keyids.txt emails.txt; do
    i=$((i + 1))
    shuf -n "$COLD_SAMPLE" --random-source=<(seeded "$SEED-$i") "$BIG/corpus/$f" >"$COLD/$f"
  done
  cp "$BIG/corpus/misses.txt" "$COLD/misses.txt"
  touch "$COLD/complete"
fi

# ---------------------------------------------------------------- 5. lookups
if has_step lookups && [ -f "$LOAD" ]; then
  step "5. lookups (hot: the first $NS certificates; cold: $COLD_SAMPLE random ones of $N)"
  HOT=$SMALL/corpus
  start_server "$DATA" "$WORK/serve-big.log"
  load hot_big "$HOT" "fpr keyid email miss" "$WARMUP" "$RUNS"
  stop_server
  start_server "$DATA_SMALL" "$WORK/serve-small.log"
  load hot_small "$HOT" "fpr keyid email miss" "$WARMUP" "$RUNS"
  stop_server
  for c in fpr keyid email miss; do
    fig "hot_ratio_${c}" "$(div "$(val "hot_big_${c}_rps")" "$(val "hot_small_${c}_rps")")" "big/small" "hot_big_${c}_rps / hot_small_${c}_rps"
  done
  # Cold: before each case the page cache is dropped and keydird restarted,
  # no warm-up, one run, so no case warms the next.
  for c in fpr keyid email miss; do
    drop_caches
    start_server "$DATA" "$WORK/serve-cold.log"
    load cold_big "$COLD" "$c" 0 1
    stop_server
  done
  echo "cold runs: $CACHE_NOTE before each case"
  for c in fpr keyid email miss; do
    fig "cold_ratio_${c}" "$(div "$(val "cold_big_${c}_rps")" "$(val "hot_big_${c}_rps")")" "cold/hot" "cold_big_${c}_rps / hot_big_${c}_rps"
  done
else
  step "5. lookups: SKIPPED ($(has_step lookups && echo "$LOAD is absent" || echo "not in STEPS"))"
fi
note_disk

# ---------------------------------------------------------------- 6. mixed load
if has_step mixed; then
  step "6. mixed load: ${MIXED_SECONDS} s, $MIXED_CONNS connections (95% lookups of the cold set, 4% misses, 1% uploads)"
  UPLOADS=$WORK/uploads-$N-$SEED-$UPLOAD_CERTS.txt
  if [ ! -s "$UPLOADS" ]; then
    # one url-encoded form body (keytext=<armored certificate>) a line
    python3 - "$UPLOADS" "$FRESH"/keys-*.pgp <<'PY'
import base64, sys, urllib.parse

def crc24(data):
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF

def packet_starts(buf):  # (tag, offset) of every packet
    i = 0
    while i < len(buf):
        start, h = i, buf[i]
        if h & 0x40:
            tag, o = h & 0x3F, buf[i + 1]
            i += 2
            if o < 192: ln = o
            elif o < 224: ln, i = ((o - 192) << 8) + buf[i] + 192, i + 1
            else: ln, i = int.from_bytes(buf[i:i + 4], "big"), i + 4  # 255: 4-byte length
        else:
            tag, w = (h >> 2) & 0x0F, (1, 2, 4)[h & 3]
            ln, i = int.from_bytes(buf[i + 1:i + 1 + w], "big"), i + 1 + w
        i += ln
        yield tag, start

with open(sys.argv[1], "w") as out:
    for f in sys.argv[2:]:
        buf = open(f, "rb").read()
        starts = [s for tag, s in packet_starts(buf) if tag == 6] + [len(buf)]
        for a, b in zip(starts, starts[1:]):
            d = buf[a:b]
            b64 = base64.b64encode(d).decode()
            body = "\n".join(b64[j:j + 64] for j in range(0, len(b64), 64))
            arm = ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + body + "\n=" +
                   base64.b64encode(crc24(d).to_bytes(3, "big")).decode() +
                   "\n-----END PGP PUBLIC KEY BLOCK-----\n")
            out.write("keytext=" + urllib.parse.quote_plus(arm) + "\n")
PY
  fi
  if command -v wrk >/dev/null; then
    drop_caches
    start_server "$DATA" "$WORK/serve-mixed.log" --add-rate 0 --add-burst 1000000
    MIXED_PID=$SERVER_PID
    rss() { awk '/^VmRSS/ { printf "%.0f\n", $2 / 1024 }' "/proc/$MIXED_PID/status" 2>/dev/null; }
    : >"$WORK/mixed-rss.txt"
    (while kill -0 "$MIXED_PID" 2>/dev/null; do rss >>"$WORK/mixed-rss.txt"; sleep "$RSS_EVERY"; done) &
    SAMPLER_PID=$!
    CMD="wrk -t$MIXED_CONNS -c$MIXED_CONNS -d${MIXED_SECONDS}s --timeout 5s -s tests/bench/mixed_load.lua URL -- cold/{fingerprints,keyids,emails,misses}.txt uploads.txt $MIXED_CONNS (keydird serve --add-rate 0 --add-burst 1000000: no upload limit)"
    wrk -t"$MIXED_CONNS" -c"$MIXED_CONNS" -d"${MIXED_SECONDS}s" --timeout 5s -s "$HERE/mixed_load.lua" \
      "http://127.0.0.1:$PORT" -- "$COLD/fingerprints.txt" "$COLD/keyids.txt" "$COLD/emails.txt" \
      "$COLD/misses.txt" "$UPLOADS" "$MIXED_CONNS" >"$WORK/mixed-wrk.txt" 2>&1 || { echo "wrk failed:"; cat "$WORK/mixed-wrk.txt"; exit 1; }
    rss >>"$WORK/mixed-rss.txt"
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
    SAMPLER_PID=
    stop_server
    grep -q '^RESULT ' "$WORK/mixed-wrk.txt" || { echo "wrk gave no RESULT:"; cat "$WORK/mixed-wrk.txt"; exit 1; }
    while IFS=$'\t' read -r k v u; do fig "$k" "$v" "$u" "$CMD"; done < <(
      python3 - "$WORK/mixed-wrk.txt" "$WORK/mixed-rss.txt" "$(wc -l <"$UPLOADS")" <<'PY'
import json, sys
r = json.loads([l for l in open(sys.argv[1]) if l.startswith("RESULT ")][-1][7:])
rss = [int(x) for x in open(sys.argv[2]).read().split()]
a, s = r["answers"], r["sent"]
def other(kind, want):
    return sum(v for k, v in a.items() if k.startswith(kind + " ") and k != f"{kind} {want}")
rows = [
    ("mixed_rps", f'{r["rps"]:.0f}', "req/s"),
    ("mixed_p50_ms", f'{r["lat_us"]["p50"] / 1000:.3f}', "ms"),
    ("mixed_p99_ms", f'{r["lat_us"]["p99"] / 1000:.3f}', "ms"),
    ("mixed_max_ms", f'{r["lat_us"]["max"] / 1000:.3f}', "ms"),
    ("mixed_requests", r["requests"], "requests"),
    ("mixed_lookups_200", a.get("lookup 200", 0), "replies"),
    ("mixed_misses_404", a.get("miss 404", 0), "replies"),
    ("mixed_uploads_200", a.get("upload 200", 0), "replies"),
    ("mixed_uploads_new", r["upload_new"], "certificates"),
    ("mixed_upload_list", sys.argv[3], "certificates (then re-uploads)"),
    ("mixed_lookups_not_200", other("lookup", 200), "replies"),
    ("mixed_misses_not_404", other("miss", 404), "replies"),
    ("mixed_uploads_not_200", other("upload", 200), "replies"),
    ("mixed_unknown_replies", sum(v for k, v in a.items() if k.startswith("unknown ")), "replies"),
    ("mixed_socket_errors", r["socket_errors"], "errors"),
    ("mixed_rss_first_mib", rss[0] if rss else "", "MiB"),
    ("mixed_rss_max_mib", max(rss) if rss else "", "MiB"),
    ("mixed_rss_last_mib", rss[-1] if rss else "", "MiB"),
    ("mixed_rss_samples", len(rss), "samples"),
]
for k, v, u in rows:
    print(f"{k}\t{v}\t{u}")
PY
    )
    echo "status by kind: $(grep '^RESULT ' "$WORK/mixed-wrk.txt" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()[7:]); print(r["answers"], "sent", r["sent"])')"
    echo "mixed run: $CACHE_NOTE before it"
  else
    echo "SKIPPED: wrk is not installed"
  fi
  note_disk
fi

# ---------------------------------------------------------------- 7. sks build
if [ "$SKS" = 1 ] && has_step sks; then
  step "7. sks build (timeout ${SKS_TIMEOUT} s)"
  if command -v sks >/dev/null; then
    S=$WORK/sks
    rm -rf "$S"
    mkdir -p "$S/etc/sks" "$S/var/lib/sks"
    printf 'hostname: localhost\npagesize: 16\nptree_pagesize: 16\n' >"$S/etc/sks/sksconf"
    warn_space $((dump_bytes * 8)) "sks build (its database was 8 times the dump at 2,000 certificates)"
    CMD="cd $S && timeout $SKS_TIMEOUT sks -basedir $S build $BIG/keys-*.pgp -n 10 -cache 100 -stdoutlog"
    disk_sampler_start
    t0=$(now)
    rc=0
    (cd "$S" && timeout "$SKS_TIMEOUT" sks -basedir "$S" build "${BIG_FILES[@]}" -n 10 -cache 100 -stdoutlog) \
      >"$WORK/sks-build.log" 2>&1 || rc=$?
    t1=$(now)
    disk_sampler_stop
    s=$(secs "$t0" "$t1")
    fig sks_build_seconds "$s" s "$CMD"
    fig sks_build_exit "$rc" "exit status (124: timed out)" "$CMD"
    # Each "Loading keys...done" is one batch of -n 10 files.
    batches=$(grep -c 'Loading keys\.\.\.done' "$WORK/sks-build.log" || true)
    files=$((batches * 10 > ${#BIG_FILES[@]} ? ${#BIG_FILES[@]} : batches * 10))
    keys=$(du_bytes "${BIG_FILES[@]:0:$files}" | awk -v d="$dump_bytes" -v n="$N" '{ printf "%d", d > 0 ? n * $1 / d : 0 }')
    [ "$rc" = 0 ] && keys=$N
    fig sks_build_keys "$keys" "keys loaded (timed out: estimated from the files done)" "$CMD"
    fig sks_build_keys_per_s "$(div "$keys" "$s")" keys/s "sks_build_keys / sks_build_seconds"
    fig import_vs_sks_build "$(div "$(val import_keys_per_s)" "$(val sks_build_keys_per_s)")" ratio "import_keys_per_s / sks_build_keys_per_s"
    fig sks_db_mib "$(mib "$(du_bytes "$S/var/lib/sks")")" MiB "du -sb $S/var/lib/sks"
    note_disk
    [ "$KEEP" = 1 ] || rm -rf "$S"
  else
    echo "SKIPPED: sks is not installed"
  fi
fi

# ---------------------------------------------------------------- 8. clean up
step "8. disk"
note_disk
fig disk_peak_mib "$(mib "$PEAK_DISK")" MiB "du -sb $WORK (largest after each step, and every $DISK_EVERY s during imports and sks build)"
if [ "$KEEP" != 1 ]; then rm -rf "$DATA" "$DATA_SMALL" "$WORK"/load-*; fi
if [ "$CLEAN_DUMP" = 1 ]; then rm -rf "$BIG" "$SMALL" "$FRESH" "$COLD" "$UPLOADS"; fi
python3 - "$FIG" "$WORK/summary.json" "$N" "$NS" "$SEED" "$MODE" <<'PY'
import json, sys
figs = {}
for line in open(sys.argv[1]):
    k, v, unit, cmd = line.rstrip("\n").split("\t")
    try:
        v = int(v)
    except ValueError:
        try:
            v = float(v)
        except ValueError:
            pass
    figs[k] = {"value": v, "unit": unit, "command": cmd}
json.dump({"n": int(sys.argv[3]), "n_small": int(sys.argv[4]), "seed": int(sys.argv[5]),
           "mix": sys.argv[6], "figures": figs}, open(sys.argv[2], "w"), indent=1)
PY
echo
echo "summary: $WORK/summary.json"
