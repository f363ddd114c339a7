#!/usr/bin/env bash
# Every benchmark in one sitting, one Markdown report on stdout (and in
# $OUT, default /tmp/keydir-bench-report.md): the machine and date, the core's
# verification rates, import against Debian's sks, HKP load against the nginx
# ceiling and sks on the same corpus, uploads against sks, WKD/VKS load, and
# the upload limits against real use and a flood, and the soak.
#   tests/bench/run-all.sh [BUILD_DIR] [CORPUS_DIR]
# Needs ../shared/bench (make-corpus.sh, hkp-load.sh, hkp-upload.sh, sks-up.sh,
# ceiling-up.sh) and, as root, installs debian-keyring (the corpus), sks, nginx and
# hyperfine if missing.
# About 25 minutes on 2 cores (SOAK=300; SOAK=0 skips the soak).
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
CORPUS=${2:-/tmp/keydir-corpus}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../.." && pwd)/shared/bench
[ -d "$SHARED" ] || { echo "run-all: $SHARED is absent: these benchmarks need ../shared/bench" >&2; exit 2; }
OUT=${OUT:-/tmp/keydir-bench-report.md}
# make-corpus.sh reads every keyring in /usr/share/keyrings: without
# debian-keyring it finds only the archive's few keys. sks-build-bench.sh
# times `sks build` with hyperfine.
for p in debian-keyring sks hyperfine nginx-light; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
  [ "$p" = nginx-light ] && command -v nginx >/dev/null && continue
  [ "$(id -u)" -eq 0 ] || { echo "run-all: install $p first" >&2; exit 2; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
[ -f "$CORPUS/all.pgp" ] || bash "$SHARED/make-corpus.sh" "$CORPUS" >/dev/null
T=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  SKS_BASEDIR=$T/sks bash "$SHARED/sks-down.sh" >/dev/null 2>&1 || true
  bash "$SHARED/ceiling-down.sh" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
med() { python3 -c 'import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
load_rps() {  # load_rps URL CASE -> median req/s of 3 runs
  CASES=$2 RUNS=3 DURATION=8s WARMUP=2s OUTDIR=$T/load-$RANDOM bash "$SHARED/hkp-load.sh" "$1" "$CORPUS" 2>/dev/null |
    awk -F'|' -v c="$2" '$2 ~ " "c" " {gsub(/ /, "", $4); print $4}'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() {  # serve DATA -> URL in $KU, pid in $KPID
  local port
  port=$(free_port)
  "$B/keydird" serve --listen "127.0.0.1:$port" --data "$1" --add-rate 0 \
    --access-log "$T/access-$port.log" >"$T/serve-$port.log" 2>&1 &
  KPID=$!
  PIDS+=("$KPID")
  for _ in $(seq 100); do grep -q serving "$T/serve-$port.log" && break; sleep 0.1; done
  KU=http://127.0.0.1:$port
}
{
echo "## Performance ($(date -u +%Y-%m-%d), $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo))"
echo
echo "Corpus: $(wc -l <"$CORPUS/fingerprints.txt") keys from Debian's keyrings (\`make-corpus.sh\`)."
echo
echo "| measure | keydird | Debian sks | nginx (ceiling) |"
echo "| --- | ---: | ---: | ---: |"

# Import.
t0=$(date +%s.%N)
"$B/keydird" import --threads 2 --data "$T/imp" "$CORPUS/all.pgp" >/dev/null 2>&1
imp=$(python3 -c "import time; print(time.time() - $t0)")
n=$(wc -l <"$CORPUS/fingerprints.txt")
sks_build=$( (RUNS=1 bash "$SHARED/sks-build-bench.sh" "$CORPUS" 2>/dev/null || true) | sed -n 's/.* \([0-9]*\) keys\/s median.*/\1/p')
echo "| import, keys/s | $(python3 -c "print(f'{$n/$imp:,.0f}')") | ${sks_build:-–} (no signature checked) | |"

# HKP lookups.
serve "$T/imp"
k_fpr=$(load_rps "$KU" fpr); k_miss=$(load_rps "$KU" miss); k_email=$(load_rps "$KU" email)
kill "$KPID"; wait "$KPID" 2>/dev/null || true
bash "$SHARED/ceiling-up.sh" "$CORPUS" >/dev/null 2>&1
n_fpr=$(load_rps http://127.0.0.1:21380 fpr); n_miss=$(load_rps http://127.0.0.1:21380 miss)
bash "$SHARED/ceiling-down.sh" >/dev/null 2>&1
SKS_BASEDIR=$T/sks bash "$SHARED/sks-up.sh" "$CORPUS" >/dev/null 2>&1
s_fpr=$(CONNS=16 load_rps http://127.0.0.1:21371 fpr); s_miss=$(CONNS=16 load_rps http://127.0.0.1:21371 miss)
echo "| op=get by fingerprint, req/s (wrk, 2 threads) | $k_fpr | $s_fpr | $n_fpr |"
echo "| op=get miss (404), req/s | $k_miss | $s_miss | $n_miss |"
echo "| op=index by address, req/s | $k_email | | |"

# Uploads into an empty store.
SKS_BASEDIR=$T/sks bash "$SHARED/sks-down.sh" >/dev/null 2>&1
SKS_BASEDIR=$T/sks bash "$SHARED/sks-up.sh" --empty "$CORPUS" >/dev/null 2>&1
s_up=$(PARALLEL=4 OUTDIR=$T/up-s bash "$SHARED/hkp-upload.sh" http://127.0.0.1:21371 "$CORPUS" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["keys_per_s"])')
SKS_BASEDIR=$T/sks bash "$SHARED/sks-down.sh" >/dev/null 2>&1
ups=()
for r in 1 2 3; do
  serve "$T/up-$r"
  ups+=("$(PARALLEL=4 OUTDIR=$T/up-k bash "$SHARED/hkp-upload.sh" "$KU" "$CORPUS" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["keys_per_s"])')")
  kill "$KPID"; wait "$KPID" 2>/dev/null || true
done
echo "| uploads into an empty store, keys/s (4 parallel) | $(med "${ups[@]}") | $s_up | |"
echo
# WKD and VKS.
port=$(free_port)
"$B/keydird" serve --listen "127.0.0.1:$port" --data "$T/imp" --wkd-domain debian.org \
  --access-log "$T/wkd.log" >"$T/wkd-serve.log" 2>&1 &
WPID=$!
sleep 1
bash "$HERE/wkd_vks_load.sh" "http://127.0.0.1:$port" "$CORPUS" debian.org | tail -n +2
echo
echo "Web pages (\`pages_load.sh\`):"
echo
bash "$HERE/pages_load.sh" "http://127.0.0.1:$port" "$CORPUS"
# (This block runs in a subshell, where the exit trap does not see its
# processes: each server is stopped here.)
kill "$WPID"
wait "$WPID" 2>/dev/null || true
echo
echo "Upload limits, default settings (\`upload_limits.sh\`, 30 s floods):"
echo
echo '```'
bash "$HERE/upload_limits.sh" "$B" 30
echo '```'
echo
if [ "${SOAK:-300}" != 0 ]; then
  echo "| soak | lookups | uploads | memory |"
  echo "| --- | --- | --- | --- |"
  bash "$HERE/soak.sh" "$B" "$CORPUS" "${SOAK:-300}" | grep '^|'
fi
} | tee "$OUT"
