#!/usr/bin/env bash
# Store benchmarks at several sizes: for each N, generate N certificates,
# measure the pure validation rate (keydird import --verify-only, 2 threads),
# the import rate, peak memory and database size, then point lookups straight
# from the store (store_bench, one thread, warm cache).
#   tests/bench/store_bench.sh [BUILD_DIR] [N...]     (default: 10000 100000 1000000)
# Scratch data goes to $WORK (default /tmp/keydir-store-bench); nothing to git.
set -euo pipefail
B=${1:-build}
shift || true
SIZES=${*:-10000 100000 1000000}
WORK=${WORK:-/tmp/keydir-store-bench}
mkdir -p "$WORK"
printf '| certificates | validation (2 threads) | import | import / validation | peak RSS | on disk | row cache | by fingerprint | by key ID | by e-mail | p99 (fpr / keyid / email) |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|\n'
for N in $SIZES; do
  certs="$WORK/certs-$N.pgp"
  [ -f "$certs" ] || "$B/gen_certs" --count "$N" --seed 42 --out "$certs"
  rm -rf "$WORK/data-$N" "$WORK/verify"
  v=$("$B/keydird" import --verify-only --threads 2 --data "$WORK/verify" "$certs" 2>/dev/null \
      | sed -n 's/.*(\([0-9]*\)\/s).*/\1/p')
  /usr/bin/time -v "$B/keydird" import --threads 2 --data "$WORK/data-$N" "$certs" \
    >"$WORK/import.out" 2>"$WORK/time.out"
  i=$(sed -n 's/.*(\([0-9]*\)\/s).*/\1/p' "$WORK/import.out")
  rss=$(awk '/Maximum resident/ {printf "%.0f MiB", $6/1024}' "$WORK/time.out")
  disk=$(du -sm "$WORK/data-$N" | awk '{print $1 " MiB"}')
  ratio=$(python3 -c "print(f'{$i/$v:.2f}')")
  for rc in 0 1024; do
    KEYDIR_BENCH_ROW_CACHE_MB=$rc KEYDIR_BENCH_DATA="$WORK/data-$N" "$B/store_bench" \
      --benchmark_format=json >"$WORK/lookup-$N-$rc.json" 2>/dev/null
    read -r f k e pf pk pe < <(python3 - "$WORK/lookup-$N-$rc.json" <<'PY'
import json, sys
b = {x["name"].split("/")[0]: x for x in json.load(open(sys.argv[1]))["benchmarks"]}
r = lambda n: f'{b[n]["lookups/s"]/1000:.0f}k/s'
p = lambda n: f'{b[n]["p99_us"]:.1f}µs'
print(r("BM_ByFingerprint"), r("BM_ByKeyId"), r("BM_ByEmail"),
      p("BM_ByFingerprint"), p("BM_ByKeyId"), p("BM_ByEmail"))
PY
)
    if [ "$rc" = 0 ]; then
      printf '| %s | %s/s | %s/s | %s | %s | %s | none | %s | %s | %s | %s / %s / %s |\n' \
        "$N" "$v" "$i" "$ratio" "$rss" "$disk" "$f" "$k" "$e" "$pf" "$pk" "$pe"
    else
      printf '| | | | | | | %s MiB | %s | %s | %s | %s / %s / %s |\n' \
        "$rc" "$f" "$k" "$e" "$pf" "$pk" "$pe"
    fi
  done
done
