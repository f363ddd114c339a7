#!/usr/bin/env bash
# Side by side, one sitting, same corpus: Debian's `sks build` (no signature
# checked) and `keydird import` (every self-signature verified) on the
# Debian keyring corpus that ../shared/bench/make-corpus.sh makes.
#   tests/bench/sks_compare.sh [BUILD_DIR]
# Needs (as root it installs them): sks, debian-keyring, hyperfine, gnupg.
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=$(cd "$HERE/../../.." && pwd)/shared/bench
if [ ! -d "$SHARED" ]; then
  echo "sks_compare: $SHARED is absent; this comparison needs ../shared/bench" >&2
  exit 2
fi
for p in sks debian-keyring hyperfine; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    [ "$(id -u)" -eq 0 ] || { echo "sks_compare: install $p first" >&2; exit 2; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
  }
done
CORPUS=${CORPUS:-/tmp/keydir-corpus}
[ -f "$CORPUS/all.pgp" ] || bash "$SHARED/make-corpus.sh" "$CORPUS" >/dev/null
NK=$(wc -l < "$CORPUS/fingerprints.txt")
echo "corpus: $NK keys, $(du -h "$CORPUS/all.pgp" | cut -f1) ($CORPUS/all.pgp)"
RUNS=${RUNS:-3} bash "$SHARED/sks-build-bench.sh" "$CORPUS" 2>/dev/null | grep -E 'sks build|DB size'
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
hyperfine --runs "${RUNS:-3}" --warmup 1 --export-json "$W/keydir.json" \
  --prepare "rm -rf $W/data" "$B/keydird import --threads 2 --data $W/data $CORPUS/all.pgp" \
  >/dev/null 2>&1
python3 - "$W/keydir.json" "$NK" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["results"][0]; nk = int(sys.argv[2])
print(f"keydird import: {nk} keys, median {d['median']:.3f} s (min {d['min']:.3f}, max {d['max']:.3f}, "
      f"n={len(d['times'])}) -> {nk / d['median']:.0f} keys/s median")
PY
"$B/keydird" import --threads 2 --data "$W/data" "$CORPUS/all.pgp" 2>/dev/null | sed -n '1,12p'
du -sh "$W/data" | sed 's/^/keydir data size: /'
