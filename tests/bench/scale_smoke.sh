#!/usr/bin/env bash
# The CI smoke run of tests/bench/scale_store.sh: every step at a
# small size (3,000 certificates, a hot set of 500, a 10 s mixed load, no
# SKS) in a temporary folder, split in two runs (STEPS, KEEP=1 between them),
# then one ok/FAIL line per check: every figure
# is a number, the store holds every certificate, the lookups and the mixed
# load gave only the expected statuses and no socket errors.
#   tests/bench/scale_smoke.sh BUILD_DIR [GEN_CERTS]
# Skips (exit 77) without ../shared/bench or wrk. The page cache is not
# dropped (the machine is shared), and hkp-load.sh's quiet gate is off.
set -euo pipefail
B=${1:?usage: scale_smoke.sh BUILD_DIR [GEN_CERTS]}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../.." && pwd)/shared/bench
if [ ! -f "$SHARED/hkp-load.sh" ]; then
  echo "SKIP: $SHARED/hkp-load.sh is absent (the lookup steps need it)"
  exit 77
fi
command -v wrk >/dev/null || { echo "SKIP: wrk is not installed"; exit 77; }
source "$HERE/../support/harness.sh"
use_temp_dir
N=3000
NS=500
out=$T/out.txt
rc=0
GEN=${2:-$B/gen_certs}
# A small pool of RSA keys: generating the default pool takes a minute.
GEN_ARGS=
if "$GEN" --help 2>&1 | grep -q -- --rsa-pool; then GEN_ARGS="--rsa-pool 4"; fi
# In two runs, as a 10M run split over two sessions would be: the import
# and the checks, the stores kept; then the rest on those stores.
scale() { # STEPS KEEP
  WORK=$T/work GEN_CERTS=$GEN GEN_ARGS=$GEN_ARGS SEED=7 MIXED_SECONDS=10 MIXED_CONNS=4 RSS_EVERY=2 DISK_EVERY=0.2 \
    DURATION=2s WARMUP=1s RUNS=1 QUIET_MAX=100 COLD_SAMPLE=1000 UPLOAD_CERTS=200 PER_FILE=1000 \
    DROP_CACHES=0 SKS=0 STEPS="$1" KEEP=$2 \
    bash "$HERE/scale_store.sh" "$B" "$N" "$NS" >>"$out" 2>&1
}
scale "import check" 1 || rc=$?
check "scale_store.sh STEPS='import check' KEEP=1 exits 0" 0 "$rc"
check "the stores are kept" 2 "$(ls -d "$T"/work/data-* 2>/dev/null | wc -l)"
scale "recon lookups mixed" 0 || rc=$?
cat "$out"
check "scale_store.sh STEPS='recon lookups mixed' on those stores exits 0" 0 "$rc"
check "the second run used the kept stores" 1 "$(grep -c '^### 2. import: skipped' "$out" || true)"
check "the stores are removed after it (KEEP=0)" 0 "$(ls -d "$T"/work/data-* 2>/dev/null | wc -l)"
[ -f "$T/work/summary.json" ] || { echo "FAIL  no summary.json"; exit 1; }

# One line "CHECK name expected actual" per check, from the summary.
while read -r _ name want got; do
  check "$name" "$want" "$got"
done < <(python3 - "$T/work/summary.json" "$N" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
f = {k: v["value"] for k, v in s["figures"].items()}
n = int(sys.argv[2])
def num(k):
    return isinstance(f.get(k), (int, float))
required = ["gen_seconds", "gen_keys_per_s", "dump_mib", "import_seconds", "import_keys_per_s",
            "import_before_compaction_seconds", "import_compaction_seconds", "import_peak_rss_mib",
            "store_mib", "store_vs_dump", "check_seconds", "check_deep_seconds",
            "recon_rebuild_seconds", "recon_status_seconds", "recon_elements", "disk_peak_mib",
            "mixed_rps", "mixed_p50_ms", "mixed_p99_ms", "mixed_rss_first_mib",
            "mixed_rss_max_mib", "mixed_rss_last_mib"]
for w in ("hot_big", "hot_small", "cold_big"):
    for c in ("fpr", "keyid", "email", "miss"):
        required += [f"{w}_{c}_rps", f"{w}_{c}_p50_ms", f"{w}_{c}_p99_ms"]
for c in ("fpr", "keyid", "email", "miss"):
    required += [f"hot_ratio_{c}", f"cold_ratio_{c}"]
for k in required:
    print("CHECK", f"{k}_is_a_number", True, num(k) and f[k] >= 0)
print("CHECK", "recon_elements_is_N", n, f.get("recon_elements"))
for w in ("hot_big", "hot_small", "cold_big"):
    for c in ("fpr", "keyid", "email", "miss"):
        print("CHECK", f"{w}_{c}_only_expected_status", 0, f.get(f"{w}_{c}_unexpected_status"))
        print("CHECK", f"{w}_{c}_no_socket_errors", 0, f.get(f"{w}_{c}_socket_errors"))
        print("CHECK", f"{w}_{c}_rps_positive", True, num(f"{w}_{c}_rps") and f[f"{w}_{c}_rps"] > 0)
print("CHECK", "mixed_no_socket_errors", 0, f.get("mixed_socket_errors"))
print("CHECK", "mixed_lookups_all_200", 0, f.get("mixed_lookups_not_200"))
print("CHECK", "mixed_misses_all_404", 0, f.get("mixed_misses_not_404"))
print("CHECK", "mixed_uploads_all_200", 0, f.get("mixed_uploads_not_200"))
print("CHECK", "mixed_every_reply_has_a_kind", 0, f.get("mixed_unknown_replies"))
print("CHECK", "mixed_has_lookups", True, f.get("mixed_lookups_200", 0) > 0)
print("CHECK", "mixed_has_misses", True, f.get("mixed_misses_404", 0) > 0)
print("CHECK", "mixed_has_uploads", True, f.get("mixed_uploads_200", 0) > 0)
print("CHECK", "mixed_uploads_stored_new", True, f.get("mixed_uploads_new", 0) > 0)
print("CHECK", "mixed_rss_sampled", True, f.get("mixed_rss_samples", 0) >= 2)
PY
)
check "stores removed (KEEP=0)" "" "$(ls -d "$T"/work/data-* 2>/dev/null || true)"
finish "scale benchmark smoke: all checks passed"
