#!/usr/bin/env bash
# The web pages end to end: the real keydird on a free loopback port with a
# temporary data folder, and headless Chromium (Debian's) driven by
# playwright-core (installed by deploy/setup.sh into tests/web/node_modules).
#   web_test.sh BUILD_DIR DATA_DIR ARTIFACT_DIR
set -euo pipefail
B=${1:?usage: web_test.sh BUILD_DIR DATA_DIR ARTIFACT_DIR}
DATA=${2:?usage: web_test.sh BUILD_DIR DATA_DIR ARTIFACT_DIR}
ART=${3:?usage: web_test.sh BUILD_DIR DATA_DIR ARTIFACT_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$ART"
ART=$(cd "$ART" && pwd)
for need in node /usr/bin/chromium; do
  command -v "$need" >/dev/null || { echo "missing $need: run deploy/setup.sh"; exit 1; }
done
[ -d "$HERE/node_modules/playwright-core" ] ||
  { echo "missing playwright-core in $HERE/node_modules: run deploy/setup.sh"; exit 1; }

T=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  GNUPGHOME=$T/g gpgconf --kill all 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# A key whose user ID carries markup (gpg takes it as it is).
mkdir -m 700 "$T/g"
GNUPGHOME=$T/g gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  'Mallory <script>alert(1)</script> <mallory@keydir.test>' ed25519 default never 2>/dev/null
GNUPGHOME=$T/g gpg --armor --export >"$T/mallory.asc"
FPR=$(GNUPGHOME=$T/g gpg --with-colons --list-keys | awk -F: '/^fpr/{print $10; exit}')

"$B/keydird" import --data "$T/data" "$DATA"/gpg-*.asc >/dev/null 2>&1 || true
"$B/keydird" serve --listen 127.0.0.1:0 --data "$T/data" --add-rate 0 --wkd-domain keydir.test \
  >"$T/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "serving" "$T/server.log" && break; sleep 0.1; done
PORT=$(sed -n 's/.*serving.*:\([0-9]*\)$/\1/p' "$T/server.log")
[ -n "$PORT" ] || { cat "$T/server.log"; echo "server did not start"; exit 1; }
echo "keydird on http://127.0.0.1:$PORT"
rc=0
(cd "$HERE" && timeout 300 node pages_test.mjs "http://127.0.0.1:$PORT" "$ART" "$T/mallory.asc" "$FPR") || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "--- server log"; tail -n 30 "$T/server.log"
fi
exit "$rc"
