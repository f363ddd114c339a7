#!/usr/bin/env bash
# Crash test for the key store, with the real binaries: `keydird import` is
# killed with SIGKILL at random points, five times; after each kill the store
# reopens, `keydird check` finds it consistent, and every certificate the
# import acknowledged (--ack: written after each durable batch) is there.
# Then the import runs to the end and everything is stored exactly once.
#   crash_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: crash_test.sh BUILD_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Five files of new certificates: each round is killed while writing new keys.
PER=8000
N=$((5 * PER))
for round in 1 2 3 4 5; do
  "$B/gen_certs" --count $PER --seed $round --v6-every 7 --out "$T/certs-$round.pgp"
done

# A kill before the first acknowledgement leaves nothing to expect (seen on
# the slower sanitizer build).
touch "$T/acked"
for round in 1 2 3 4 5; do
  "$B/keydird" import --data "$T/data" --ack "$T/acked" --threads 2 "$T/certs-$round.pgp" \
    >/dev/null 2>&1 &
  pid=$!
  # The kill lands 0.2 s to 1.4 s into the import: a random moment is the
  # point of the test (no condition to wait for), so these sleeps stay.
  sleep "0.$((RANDOM % 10 + 2))"
  [ $((RANDOM % 2)) -eq 0 ] && sleep 0.$((RANDOM % 5))
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  acked=$(grep -c . "$T/acked" 2>/dev/null || true)
  if [ ! -e "$T/data/CURRENT" ] && [ "$acked" = 0 ]; then
    echo "round $round: killed before the store existed; nothing acknowledged"
    continue
  fi
  if ! "$B/keydird" check --data "$T/data" --expect "$T/acked" >"$T/check.out"; then
    cat "$T/check.out"
    echo "crash test: round $round: store inconsistent or acknowledged keys lost"
    exit 1
  fi
  echo "round $round: killed after $acked acknowledged; $(tail -n 1 "$T/check.out")"
done

"$B/keydird" import --data "$T/data" "$T"/certs-*.pgp >"$T/final.out" 2>/dev/null
"$B/keydird" check --data "$T/data" --deep --expect "$T/acked" | tail -n 1
count=$("$B/keydird" stats --data "$T/data" | awk '/^certificates/ {print $2}')
if [ "$count" != "$N" ]; then
  echo "crash test: expected $N certificates, found $count"
  exit 1
fi

# Usage and failure exit codes of keydird.
set +e
"$B/keydird" >/dev/null 2>&1; [ $? -eq 2 ] || { echo "keydird without a command must exit 2"; exit 1; }
"$B/keydird" check --data "$T/nothing-here" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "keydird" "$T/err" || { echo "check of a missing store must fail with a message"; exit 1; }
"$B/keydird" dump --data "$T/data" --out "$T/data" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || { echo "dump into a non-empty folder must fail"; exit 1; }
set -e
echo "crash test: passed ($N certificates, 5 kills)"
