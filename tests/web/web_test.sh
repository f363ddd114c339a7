#!/usr/bin/env bash
# The web pages end to end: the real keydird on a free loopback port with a
# temporary data folder, in open, verified and managed mode (one server
# each), and headless Chromium (Debian's) driven by playwright-core
# (installed by deploy/setup.sh into tests/web/node_modules). Screenshots of
# every page and error page at 1280 and 375 px go to ARTIFACT_DIR.
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
SERVER_PIDS=()
cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
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
# An ordinary key for the verified-mode upload (its address to confirm).
GNUPGHOME=$T/g gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  'Pat Person <pat@keydir.test>' ed25519 default never 2>/dev/null
GNUPGHOME=$T/g gpg --armor --export pat@keydir.test >"$T/pat.asc"

# serve NAME MODE ARGS...: keydird on a free loopback port with a data folder
# $T/NAME holding the test keys, its store in MODE ("open", "verified",
# "managed DOMAIN"); sets URL.
serve() {
  local name=$1 mode=$2
  shift 2
  "$B/keydird" import --data "$T/$name" "$DATA"/gpg-*.asc >/dev/null 2>&1 || true
  if [ "$mode" != open ]; then
    # shellcheck disable=SC2086
    "$B/keydird" admin set-mode ${mode%% *} $( [ "${mode#* }" != "$mode" ] && echo --domain "${mode#* }") \
      --data "$T/$name" >"$T/$name-mode.log" 2>&1 || { cat "$T/$name-mode.log"; exit 1; }
  fi
  "$B/keydird" serve --listen 127.0.0.1:0 --data "$T/$name" --add-rate 0 "$@" >"$T/$name.log" 2>&1 &
  SERVER_PIDS+=($!)
  for _ in $(seq 100); do grep -q "serving" "$T/$name.log" && break; sleep 0.1; done
  local port
  port=$(sed -n 's/.*serving.*:\([0-9]*\)$/\1/p' "$T/$name.log")
  [ -n "$port" ] || { cat "$T/$name.log"; echo "$name server did not start"; exit 1; }
  URL="http://127.0.0.1:$port"
  echo "keydird ($name) on $URL"
}
rc=0
run() {  # run NAME ARGS...: pages_test.mjs against the server NAME
  local name=$1
  shift
  (cd "$HERE" && timeout 600 node pages_test.mjs "$@") || {
    rc=1
    echo "--- $name server log"
    tail -n 30 "$T/$name.log"
  }
}
# A mail relay nobody listens on: verified mode needs one to start (managed
# mode by operator token mails nothing and needs none); mails fail (503).
SMTP=(--smtp-url smtp://127.0.0.1:9 --smtp-from keys@keydir.test)
MULTI=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA

serve open open --wkd-domain keydir.test
run open open "$URL" "$ART" "$T/mallory.asc" "$FPR"

# Verified: the imported keys have no published address (none confirmed).
serve verified verified --mode verified --wkd-domain keydir.test "${SMTP[@]}"
run verified verified "$URL" "$ART" "$MULTI" "$T/pat.asc"

# Managed by operator token, with whom to ask; a token guess limit of one.
printf '%s\n' 0123456789abcdef0123456789abcdef0123456789abcdef >"$T/tokens"
chmod 600 "$T/tokens"
serve managed "managed keydir.test" --mode managed --wkd-domain keydir.test --operator-token-file "$T/tokens" \
  --contact "the IT desk, it@keydir.test" --auth-rate 1 --auth-burst 1
run managed managed "$URL" "$ART" "$MULTI" "the IT desk, it@keydir.test"
exit "$rc"
