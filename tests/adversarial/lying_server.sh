#!/usr/bin/env bash
# The lying server (issue #16 part 7, and part 1 on the client side): a fake
# key server on loopback (tests/integration/fake_keyserver.py) answers
# `keydir search`, `fetch` and `upload` with hostile index lines, a
# certificate that carries the requested fingerprint only as a subkey (the
# squat made by make_attack_keys), two certificates, another certificate,
# garbage JSON, escape sequences, and endless, oversized or trickling bodies.
# Each time keydir must exit non-zero with a message, print nothing it did
# not check, and never abort or dump core (exit 134 or a signal = failure).
#   lying_server.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
K="$B/keydir"
FAKE="$(cd "$(dirname "$0")/../integration" && pwd)/fake_keyserver.py"
unset KEYDIR_SERVER
export XDG_CONFIG_HOME=$T/config  # no user configuration
ulimit -c 0

mkdir -p "$T/keys"
"$TOOLS/make_attack_keys" "$T/keys"
VFPR=$(cat "$T/keys/victim.fpr")
ESC=$(printf '\033')

# serve MODE [FILE]: a fake server answering every request the same way
# (fake_keyserver.py MODE); sets FU, its base URL.
FAKE_PID=""
serve() {
  [ -n "$FAKE_PID" ] && unserve
  : >"$T/fake.port"
  python3 "$FAKE" 0 "$1" "${2:-/dev/null}" >"$T/fake.port" 2>"$T/fake.err" &
  FAKE_PID=$!
  PIDS+=("$FAKE_PID")
  wait_for test -s "$T/fake.port" || { cat "$T/fake.err"; echo "the fake server did not start"; exit 1; }
  FU=http://127.0.0.1:$(head -n 1 "$T/fake.port")
}
unserve() {
  stop_pid "$FAKE_PID"
  FAKE_PID=""
}

# client WANT_EXIT PATTERN ARGS...: keydir ARGS (60 s at most). Prints what
# it answered; checks the exit code, that it is no crash (< 128), that stderr
# holds PATTERN (grep -E; "-": nothing to look for) and no raw escape character, and that stdout is
# empty (ALLOW_STDOUT=1: may hold text, but no raw escape character).
client() {
  local want=$1 pattern=$2
  shift 2
  local rc=0
  timeout 60 "$K" "$@" >"$T/out" 2>"$T/err" || rc=$?
  answered "keydir $1" "exit $rc; stderr: $(cat "$T/err")"
  check "  no abort, no signal (exit < 128)" 1 "$([ "$rc" -lt 128 ] && echo 1 || echo 0)"
  check "  exit $want" "$want" "$rc"
  if [ "$pattern" != - ]; then
    check "  a message: $pattern" 1 "$(grep -qE -- "$pattern" "$T/err" && echo 1 || echo 0)"
  fi
  check "  no raw escape character on the terminal" 0 "$(cat "$T/out" "$T/err" | grep -c "$ESC" || true)"
  if [ "${ALLOW_STDOUT:-0}" != 1 ]; then
    check "  nothing on stdout" 0 "$(wc -c <"$T/out")"
  fi
}

# --- keydir search: hostile machine-readable index lines -------------------
long=$(printf 'r%.0s' $(seq 20000))
i=0
while IFS='|' read -r title line; do
  i=$((i + 1))
  attack "search answered with $title"
  printf "$line" >"$T/index$i"
  answered "the server" "$(head -c 120 "$T/index$i" | cat -v)"
  serve "body:200:text/plain" "$T/index$i"
  client 4 "index answer is malformed: line [0-9]+" search --server "$FU" victim@example.org
done <<LINES
a non-numeric creation date (the old abort)|info:1:1\npub:$VFPR:1:2048:x::\n
a number beyond 64 bits|pub:$VFPR:1:2048:99999999999999999999999::\n
a key length of 99999999 bits|pub:$VFPR:1:99999999:1700000000::\n
a negative algorithm|pub:$VFPR:-1:2048:1700000000::\n
a NUL octet in a field|pub:$VFPR:1:20\\x0048:1700000000::\n
a NUL octet in a user ID|pub:$VFPR:1:2048:1700000000::\nuid:Victim\\000<victim@example.org>:::\n
too many fields|pub:$VFPR:1:2048:1700000000:0:r:x:y:z\n
too few fields|pub\n
an empty key|pub::1:2048:1700000000::\n
a key that is not hex|pub:ZZ${VFPR:2}:1:2048:1700000000::\n
a uid before any pub|uid:Victim <victim@example.org>:::\npub:$VFPR\n
an overlong line|pub:$VFPR:1:2048:1700000000::$long\n
index version 2|info:2:1\npub:$VFPR\n
LINES

attack "search answered with terminal escape sequences in a user ID"
printf 'pub:%s:22:255:1700000000::\nuid:Victim %%1B]0;owned%%07%%1B[2J %%C2%%9B2J %%E2%%80%%AE<victim@example.org>:::\n' \
  "$VFPR" >"$T/index-esc"
serve "body:200:text/plain" "$T/index-esc"
ALLOW_STDOUT=1 client 0 - search --server "$FU" victim@example.org
answered "printed" "$(tail -n 1 "$T/out")"
check "  the escapes are shown as \\x1B" 1 "$(grep -c 'Victim \\x1B\]0;owned\\x07\\x1B\[2J \\xC2\\x9B2J \\xE2\\x80\\xAE<victim' "$T/out")"

attack "search answered with an error whose reason carries escape sequences"
printf '{"error":"no such key\\u001b]0;owned\\u0007\\u001b[2J"}' >"$T/json-error"
serve "body:400:application/json" "$T/json-error"
client 5 'HTTP 400: no such key\\x1B\]0;owned\\x07\\x1B\[2J' search --server "$FU" victim

attack "search answered with garbage (no index line at all)"
printf '{"keys": [[[[[[[[' >"$T/garbage-json"
serve "body:200:application/json" "$T/garbage-json"
client 1 "nothing found" search --server "$FU" victim

# --- keydir fetch: a certificate that is not (only) the one asked for ------
attack "fetch by fingerprint answered with the squat (the victim's primary key as the attacker's subkey)"
serve body "$T/keys/squat.pgp"
client 6 "carries the fingerprint $VFPR only as a subkey" fetch --server "$FU" "$VFPR"
client 6 "only as a subkey" fetch --vks --server "$FU" "$VFPR"
client 6 "only as a subkey" fetch --server "$FU" "0x${VFPR:24}"
attack "the same with --subkey (the squatted subkey proves no possession)"
client 6 "does not prove possession" fetch --subkey --server "$FU" "$VFPR"
client 6 "does not prove possession" fetch --subkey --server "$FU" "0x${VFPR:24}"

attack "fetch by the v6 fingerprint answered with the v6 squat"
serve body "$T/keys/squat6.pgp"
client 6 "only as a subkey" fetch --server "$FU" "$(cat "$T/keys/victim6.fpr")"

attack "fetch answered with two certificates: the victim's and the squat"
cat "$T/keys/victim.pgp" "$T/keys/squat.pgp" >"$T/two.pgp"
serve body "$T/two.pgp"
client 6 "holds 2 keys" fetch --server "$FU" "$VFPR"
client 6 "holds 2 keys" fetch --server "$FU" "0x${VFPR:24}"

attack "fetch answered with another certificate"
serve body "$T/keys/victim6.pgp"
client 6 "holds key $(cat "$T/keys/victim6.fpr"), which is not the fingerprint $VFPR" \
  fetch --server "$FU" "$VFPR"

attack "a WKD host answers the squat for the victim's address"
serve body "$T/keys/squat.pgp"
client 6 "WKD .*is not the address victim@example.org" fetch --wkd-host "$FU" victim@example.org

attack "fetch --vks answered with garbage JSON"
printf '{"key_fpr": "%s", "keytext": [[[[' "$VFPR" >"$T/garbage.json"
serve "body:200:application/json" "$T/garbage.json"
client 4 "not a valid key" fetch --vks --server "$FU" "$VFPR"

# --- keydir upload: the VKS answer (--verify) and the /pks/add answer ------------
attack "upload: the VKS answer is garbage JSON"
serve "body:200:application/json" "$T/garbage.json"
ALLOW_STDOUT=1 client 4 "the VKS answer is not a JSON object" upload --verify --server "$FU" "$T/keys/victim.pgp"

attack "upload: the VKS answer speaks of another key, with an escape in a state"
printf '{"key_fpr":"%s","token":"t","status":{"victim@example.org":"unpublished"}}' \
  "$(cat "$T/keys/victim6.fpr")" >"$T/other.json"
serve "body:200:application/json" "$T/other.json"
ALLOW_STDOUT=1 client 6 "speaks of key .*not of the key uploaded" upload --verify --server "$FU" "$T/keys/victim.pgp"
printf '{"key_fpr":"%s","token":"t","status":{"victim@example.org":"\\u001b[2J"}}' "$VFPR" >"$T/esc.json"
serve "body:200:application/json" "$T/esc.json"
ALLOW_STDOUT=1 client 4 "is not a state name" upload --verify --server "$FU" "$T/keys/victim.pgp"

attack "upload: the /pks/add answer speaks of another key, with escapes"
printf 'new %s\n  published victim@example.org\n\033[2J\033]0;owned\007\n' \
  "$(cat "$T/keys/victim6.fpr")" >"$T/add.txt"
serve "body:200:text/plain" "$T/add.txt"
ALLOW_STDOUT=1 client 4 "victim.pgp: key $VFPR: the server's answer does not mention this key" \
  upload --server "$FU" "$T/keys/victim.pgp"

attack "upload: the /pks/add answer puts an address before any key"
printf '  published victim@example.org\nnew %s\n' "$VFPR" >"$T/add.txt"
serve "body:200:text/plain" "$T/add.txt"
client 4 "victim.pgp: key $VFPR: no report: the upload answer is malformed: line 1: an address line before any key" \
  upload --server "$FU" "$T/keys/victim.pgp"

# --- bodies without end ---------------------------------------------------------
attack "search answered with an endless chunked body"
serve endless
start=$(date +%s)
client 3 "answer too large: the answer is larger than 67108864 octets" search --server "$FU" victim
answered "time" "$(($(date +%s) - start)) s"

attack "fetch answered with Content-Length 10^12"
serve hugelength
client 3 "answer too large" fetch --server "$FU" "$VFPR"

attack "fetch answered one octet a second (--timeout 3)"
serve slow
start=$(date +%s)
client 3 "timed out" fetch --timeout 3 --server "$FU" "$VFPR"
took=$(($(date +%s) - start))
answered "time" "$took s"
check "  ended by the timeout (within 10 s)" 1 "$([ "$took" -le 10 ] && echo 1 || echo 0)"
unserve

# --- the catch-all in main ----------------------------------------------------
attack "an exception nothing else catches (out of memory under ulimit -v)"
if grep -q __asan_init "$K"; then
  answered "skipped" "an ASan build cannot run under ulimit -v"
else
  # The least address space (in steps of 5 MB) in which keydir starts,
  # plus 5 MB: far less than a 16 MB input needs.
  limit=""
  for kb in $(seq 20000 5000 200000); do
    if (ulimit -v "$kb"; exec "$K" wkd-url a@example.org) >/dev/null 2>&1; then
      limit=$((kb + 5000))
      break
    fi
  done
  head -c 16000000 /dev/zero >"$T/big.bin"
  rc=0
  (ulimit -v "${limit:-60000}"; exec "$K" inspect "$T/big.bin") >"$T/out" 2>"$T/err" || rc=$?
  answered "keydir inspect (ulimit -v ${limit:-?} KB, a 16 MB input)" "exit $rc; stderr: $(cat "$T/err")"
  check "  exit 7 with one line, no abort" "7 1 keydir: internal error: out of memory" \
    "$rc $(wc -l <"$T/err") $(cat "$T/err")"
fi

finish
