#!/usr/bin/env bash
# The CI smoke run of tests/bench/miss_ceiling.sh: one round of 1 s against
# nginx on a corpus of the test keys (tests/data), misses then hits; checks
# that each table has a row per server with a number, and that every answer
# had the expected status (the script itself stops otherwise).
#   tests/bench/miss_ceiling_smoke.sh BUILD_DIR DATA_DIR
# Skips (exit 77) without ../shared/bench, nginx or wrk.
set -euo pipefail
B=${1:?usage: miss_ceiling_smoke.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: miss_ceiling_smoke.sh BUILD_DIR DATA_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../.." && pwd)/shared/bench
if [ ! -f "$SHARED/ceiling-up.sh" ]; then
  echo "SKIP: $SHARED/ceiling-up.sh is absent (the ceiling needs it)"
  exit 77
fi
for tool in wrk nginx; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "SKIP: $tool is not installed"; exit 77; }
done
export PATH=$PATH:/usr/sbin
source "$HERE/../support/harness.sh"
use_temp_dir
# A corpus in make-corpus.sh's layout, of the test keys gpg made.
C=$T/corpus
mkdir -p "$C/keys"
for f in "$DATA"/gpg-*.asc; do
  fpr=$("$B/keydir" inspect --json "$f" 2>/dev/null |
    python3 -c 'import json,sys; c=json.load(sys.stdin)["certificates"]; print(c[0]["fingerprint"] if len(c) == 1 else "")' ||
    true)
  [ -n "$fpr" ] || continue # not one certificate
  cp "$f" "$C/keys/$fpr.asc"
  echo "$fpr" >>"$C/fingerprints.txt"
  cat "$f" >>"$C/all.pgp"
done
# nginx's workers run as nobody: they read the keys through the links.
chmod 755 "$T"
chmod -R a+rX "$C"
python3 -c 'import random; r = random.Random(7); print("\n".join("%040X" % r.getrandbits(160) for _ in range(100)))' >"$C/misses.txt"
check "a corpus of the test keys" yes "$([ "$(wc -l <"$C/fingerprints.txt")" -gt 5 ] && echo yes || echo no)"
for kind in miss hit; do
  rc=0
  # A port of its own: the ceiling's default one may be in use by a run.
  CEILING_DIR=$T/ceiling CEILING_PORT=$(free_port) KIND=$kind ROUNDS=1 DURATION=1s STRACE=0 \
    bash "$HERE/miss_ceiling.sh" "$B" "$C" >"$T/$kind.txt" 2>&1 || rc=$?
  sed 's/^/   /' "$T/$kind.txt"
  check "miss_ceiling.sh KIND=$kind exits 0" 0 "$rc"
  for server in keydird nginx; do
    check "KIND=$kind: a figure for $server" yes \
      "$(grep -qE "^\| $server \| [0-9,]+ \(" "$T/$kind.txt" && echo yes || echo no)"
  done
done
finish
