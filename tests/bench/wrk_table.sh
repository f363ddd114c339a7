# shellcheck shell=bash
# Sourced by the load scripts: one Markdown table of wrk runs, a row a case.
#   wrk_table BASE_URL LIST_DIR CASE...
# Each CASE is a file LIST_DIR/CASE of "HOST PATH" lines (paths.lua); each is
# warmed 2 s, then measured for DURATION (10s) with THREADS (2) and CONNS (32).
wrk_table() {
  local base=$1 dir=$2 c line
  shift 2
  printf '| case | req/s | p50 µs | p99 µs | socket errors | statuses |\n|---|---:|---:|---:|---:|---|\n'
  for c in "$@"; do
    wrk -t"${THREADS:-2}" -c"${CONNS:-32}" -d2s -s "$HERE/paths.lua" "$base" -- "$dir/$c" >/dev/null 2>&1 || true
    line=$(wrk -t"${THREADS:-2}" -c"${CONNS:-32}" -d"${DURATION:-10s}" -s "$HERE/paths.lua" "$base" -- "$dir/$c" | sed -n 's/^RESULT //p')
    python3 - "$c" "$line" <<'PY'
import json, sys
j = json.loads(sys.argv[2])
print(f"| {sys.argv[1]} | {j['rps']:,.0f} | {j['p50_us']} | {j['p99_us']} | {j['socket_errors']} | {j['status']} |")
PY
  done
}
