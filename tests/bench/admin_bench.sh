#!/usr/bin/env bash
# What administering a verified store costs, at N certificates (one address
# each, published): the safe dump (every key reduced to its published user
# IDs), the full dump, a restore from it (every key verified again), a mode
# change (every key re-indexed), and through the admin socket of a running
# server: a round trip (`stats`) and an online backup.
#   tests/bench/admin_bench.sh [BUILD_DIR] [N]        (default: build 100000)
# Scratch data goes to $WORK (default /tmp/keydir-admin-bench); nothing to git.
set -euo pipefail
B=${1:-build}
N=${2:-100000}
WORK=${WORK:-/tmp/keydir-admin-bench}
mkdir -p "$WORK"
certs="$WORK/certs-$N.pgp"
[ -f "$certs" ] || "$B/gen_certs" --count "$N" --seed 42 --out "$certs"
rm -rf "$WORK/data" "$WORK/safe" "$WORK/full" "$WORK/restored" "$WORK/backup"

# seconds CMD...: wall-clock seconds of one command (its output discarded).
seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
rate() { python3 -c "print(f'{$N / $1:,.0f}/s')"; }

printf '| operation (%s certificates, verified mode) | time | rate |\n|---|---|---|\n' "$N"
s=$(seconds "$B/keydird" import --mode verified --publish-addresses --threads 2 --data "$WORK/data" "$certs")
printf '| `import --mode verified --publish-addresses` | %s s | %s |\n' "$s" "$(rate "$s")"
s=$(seconds "$B/keydird" dump --data "$WORK/data" --out "$WORK/safe")
printf '| `dump` (published user IDs only) | %s s | %s |\n' "$s" "$(rate "$s")"
s=$(seconds "$B/keydird" dump --full --data "$WORK/data" --out "$WORK/full")
printf '| `dump --full` | %s s | %s |\n' "$s" "$(rate "$s")"
s=$(seconds "$B/keydird" restore --data "$WORK/restored" --from "$WORK/full")
printf '| `restore` (verifies every key) | %s s | %s |\n' "$s" "$(rate "$s")"
s=$(seconds "$B/keydird" admin set-mode open --yes --data "$WORK/restored")
printf '| `admin set-mode open --yes` (re-indexes every key) | %s s | %s |\n' "$s" "$(rate "$s")"

"$B/keydird" serve --listen 127.0.0.1:0 --data "$WORK/data" --mode verified \
  --smtp-url smtp://127.0.0.1:1 --smtp-from bench@example.org --access-log off >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q serving "$WORK/serve.log" && break; sleep 0.1; done
t0=$(date +%s.%N)
for _ in $(seq 100); do "$B/keydird" stats --data "$WORK/data" >/dev/null; done
t1=$(date +%s.%N)
printf '| `stats` through the admin socket (process start included) | %s ms | |\n' \
  "$(python3 -c "print(f'{($t1 - $t0) * 10:.1f}')")"
s=$(seconds "$B/keydird" backup --data "$WORK/data" --out "$WORK/backup")
printf '| `backup` through the admin socket (checkpoint + token key) | %s s | |\n' "$s"
