#!/usr/bin/env bash
# keydir refresh and keydir fetch -v end to end: the real keydird on loopback
# (with its WKD for keydir.test), real gpg homes (the key owner's and a
# sender's), and a fake lying server (fake_keyserver.py).
#   client_refresh_test.sh BUILD_DIR DATA_DIR
# The owner adds a subkey and extends the expiry of one key and revokes
# another, and uploads both; the sender's `keydir refresh` says what changed,
# imports nothing without --import and the verified updates with it; a key
# the directory does not hold is "not found"; a server answering another key
# or a changed subkey binding is refused, nothing imported, exit non-zero.
set -euo pipefail
B=${1:?usage: client_refresh_test.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: client_refresh_test.sh BUILD_DIR DATA_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
K="$B/keydir"
unset KEYDIR_SERVER KEYDIR_PROGRESS
export XDG_CONFIG_HOME=$T/config # no user configuration

start_keydird server --data "$T/data" --add-rate 0 --wkd-domain keydir.test
S=$U

OWNER=$T/gnupg-owner
SENDER=$T/gnupg-sender
LIAR=$T/gnupg-liar
mkdir -m 700 "$OWNER" "$SENDER" "$LIAR"
og() { GNUPGHOME=$OWNER gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@" 2>/dev/null; }
sg() { GNUPGHOME=$SENDER gpg --batch --quiet "$@" 2>/dev/null; }
lg() { GNUPGHOME=$LIAR gpg --batch --quiet "$@" 2>/dev/null; }
fpr_of() { og --with-colons --list-keys "$1" | awk -F: '/^fpr/{print $10; exit}'; }
# The expiry date of the primary key in the colon listing on stdin.
expiry_of() { awk -F: '/^pub/{print $7; exit}' | { read -r e; [ -n "$e" ] && date -u -d "@$e" +%F || echo never; }; }

# --- the keys: alice (will get a subkey and a later expiry), bob (will be
#     revoked), dave (stays as he is), carol (never uploaded) ------------------
for who in alice bob carol dave; do
  og --quick-gen-key "${who^} <$who@keydir.test>" ed25519 sign 1y
done
A=$(fpr_of alice@keydir.test)
BO=$(fpr_of bob@keydir.test)
C=$(fpr_of carol@keydir.test)
D=$(fpr_of dave@keydir.test)
og --export "$A" >"$T/alice-old.pgp"
og --export "$A" "$BO" "$C" "$D" | sg --import
for f in "$A" "$BO" "$D"; do
  og --export --armor "$f" >"$T/$f.asc"
  check "upload of the original $f" 0 "$("$K" upload --server "$S" "$T/$f.asc" >/dev/null 2>&1; echo $?)"
done
OLD_EXPIRY=$(og --with-colons --list-keys "$A" | expiry_of)

# The owner's changes, uploaded.
og --quick-add-key "$A" cv25519 encr 2y
og --quick-set-expire "$A" 3y
NEW_SUB=$(og --with-colons --list-keys "$A" | awk -F: '/^sub/{getline; print $10; exit}')
NEW_EXPIRY=$(og --with-colons --list-keys "$A" | expiry_of)
sed 's/^:-----/-----/' "$OWNER/openpgp-revocs.d/$BO.rev" | og --import
for f in "$A" "$BO"; do
  og --export --armor "$f" >"$T/$f.asc"
  check "upload of the updated $f" 0 "$("$K" upload --server "$S" "$T/$f.asc" >/dev/null 2>&1; echo $?)"
done
og --export "$A" >"$T/alice-new.pgp"

# --- refresh without --import: the report, the keyring untouched ----------
sg --with-colons --list-keys >"$T/sender-before"
rc=0
GNUPGHOME=$SENDER "$K" refresh --server "$S" --wkd-host "$S" >"$T/out" 2>"$T/err" || rc=$?
cat "$T/out"
check "refresh: exit 0" 0 "$rc"
block() { awk -v f="$1" '$1 == f {p = 1; print; next} /^[0-9A-F]/ {p = 0} p' "$T/out"; }
check "alice: new subkey" 1 "$(block "$A" | grep -c "^  new subkey $NEW_SUB (ECDH.*encrypt" || true)"
check "alice: expiry extended" 1 "$(block "$A" | grep -c "^  expiry extended from $OLD_EXPIRY to $NEW_EXPIRY\$" || true)"
check "alice: not imported" 1 "$(block "$A" | grep -c "not imported (--import" || true)"
check "bob: revoked" 1 "$(block "$BO" | grep -c '^  key revoked on ' || true)"
check "carol: not found" 1 "$(block "$C" | grep -c '^  not found on the directory$' || true)"
check "dave: unchanged" 1 "$(block "$D" | grep -c '^  unchanged$' || true)"
check "the summary" "4 keys: 2 changed, 1 unchanged, 1 not found, 0 failed; nothing imported" "$(tail -n 1 "$T/out")"
sg --with-colons --list-keys >"$T/sender-after"
check "without --import gpg's keyring is unchanged" 0 "$(cmp -s "$T/sender-before" "$T/sender-after"; echo $?)"

GNUPGHOME=$SENDER "$K" refresh --server "$S" --wkd-host "$S" --json >"$T/json" 2>/dev/null || true
check "--json: states" "changed changed not_found unchanged" \
  "$(python3 -c 'import json,sys; print(" ".join(sorted(k["state"] for k in json.load(open(sys.argv[1])))))' "$T/json")"
check "--json: alice's sources are the server and WKD" "the server WKD advanced" \
  "$(python3 -c '
import json,sys
for k in json.load(open(sys.argv[1])):
    if k["fingerprint"] == sys.argv[2]:
        print(" ".join(s.split(" (")[0] for s in k["sources"]))' "$T/json" "$A")"

check "--no-wkd: the server alone finds the subkey" "0 1" \
  "$(GNUPGHOME=$SENDER "$K" refresh --server "$S" --no-wkd >"$T/out" 2>/dev/null; echo $?) $(grep -c 'new subkey' "$T/out")"
check "-v: each lookup on stderr" 1 \
  "$(GNUPGHOME=$SENDER "$K" refresh -v --server "$S" --wkd-host "$S" >/dev/null 2>"$T/err"; grep -c "server: GET $S/pks/lookup?op=get&options=mr&search=0x$C" "$T/err")"

# --- --keyring FILE: no gpg needed ----------------------------------------
check "--keyring FILE" "0 1" \
  "$("$K" refresh --server "$S" --no-wkd --keyring "$T/alice-old.pgp" >"$T/out" 2>/dev/null; echo $?) $(grep -c "new subkey $NEW_SUB" "$T/out")"
check "--keyring with --import: usage error" 2 \
  "$("$K" refresh --server "$S" --keyring "$T/alice-old.pgp" --import >/dev/null 2>&1; echo $?)"

# --- --import: the verified updates go into gpg ----------------------------
rc=0
GNUPGHOME=$SENDER "$K" refresh --server "$S" --wkd-host "$S" --import >"$T/out" 2>"$T/err" || rc=$?
check "--import: exit 0" 0 "$rc"
check "--import: says what was imported" "2 2" \
  "$(grep -c '^  imported into gpg$' "$T/out") $(tail -n 1 "$T/out" | grep -o '[0-9]* imported into gpg' | cut -d' ' -f1)"
check "--import: gpg shows alice's new subkey" 1 \
  "$(sg --with-colons --list-keys "$A" | grep -c "^fpr:::::::::$NEW_SUB:" || true)"
check "--import: gpg shows alice's new expiry" "$NEW_EXPIRY" "$(sg --with-colons --list-keys "$A" | expiry_of)"
check "--import: gpg shows bob revoked" r "$(sg --with-colons --list-keys "$BO" | awk -F: '/^pub/{print $2; exit}')"
check "after --import: nothing left to import" "4 keys: 0 changed, 3 unchanged, 1 not found, 0 failed; nothing imported" \
  "$(GNUPGHOME=$SENDER "$K" refresh --server "$S" --wkd-host "$S" 2>/dev/null | tail -n 1)"

# --- a lying server: refused, nothing imported, non-zero exit ---------------
lg --import <"$T/alice-old.pgp"
lg --with-colons --list-keys >"$T/liar-before"
FAKE_PID=""
serve() { # MODE FILE: fake_keyserver.py answering every request the same way; FU its URL
  [ -z "$FAKE_PID" ] || stop_pid "$FAKE_PID"
  : >"$T/fake.port"
  python3 "$HERE/fake_keyserver.py" 0 "$1" "$2" >"$T/fake.port" 2>"$T/fake.err" &
  FAKE_PID=$!
  PIDS+=("$FAKE_PID")
  wait_for test -s "$T/fake.port" || { cat "$T/fake.err"; echo "FAIL  the fake server did not start"; exit 1; }
  FU=http://127.0.0.1:$(head -n 1 "$T/fake.port")
}
liar() { # WANT_EXIT PATTERN NAME: refresh --import in the liar's home against FU
  local rc=0
  GNUPGHOME=$LIAR "$K" refresh --server "$FU" --no-wkd --import >"$T/out" 2>"$T/err" || rc=$?
  check "$3: exit $1" "$1" "$rc"
  check "$3: the reason" 1 "$(grep -cE -- "$2" "$T/out" || true)"
  check "$3: nothing imported" 1 "$(grep -c '^  nothing imported$' "$T/out" || true)"
  lg --with-colons --list-keys >"$T/liar-after"
  check "$3: gpg's keyring is unchanged" 0 "$(cmp -s "$T/liar-before" "$T/liar-after"; echo $?)"
}
serve wrongkey "$T/$D.asc"
liar 6 "^  error: the server .*: the answer holds key $D, which is not the fingerprint $A" "another key"
# The updated key with its new subkey's binding changed (one bit of the
# signature value): a plain fetch would leave the subkey out; refresh refuses.
python3 - "$T/alice-new.pgp" "$T/alice-tampered.pgp" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
def packets(d):
    i = 0
    while i < len(d):
        ctb, start = d[i], i
        if ctb & 0x40:
            tag, o1 = ctb & 0x3F, d[i + 1]
            if o1 < 192: n, i = o1, i + 2
            elif o1 < 224: n, i = ((o1 - 192) << 8) + d[i + 2] + 192, i + 3
            else: n, i = int.from_bytes(d[i + 2:i + 6], "big"), i + 6
        else:
            tag, lt = (ctb >> 2) & 0x0F, ctb & 3
            w = {0: 1, 1: 2, 2: 4}[lt]
            n, i = int.from_bytes(d[i + 1:i + 1 + w], "big"), i + 1 + w
        yield tag, i, i + n
        i += n
pk = list(packets(data))
last_sub = max(k for k, p in enumerate(pk) if p[0] == 14)
tag, body, end = pk[last_sub + 1]
assert tag == 2
data[end - 1] ^= 0x01
open(sys.argv[2], "wb").write(bytes(data))
PY
serve body "$T/alice-tampered.pgp"
liar 4 "^  error: the server .*: the answer holds key $A with a subkey $NEW_SUB whose self-signature does not verify" "a changed subkey binding"
check "the changed binding: a plain fetch leaves the subkey out (exit 0)" 0 \
  "$("$K" fetch --server "$FU" "$A" >/dev/null 2>&1; echo $?)"
serve error /dev/null
liar 3 "^  error: the server .*: HTTP 500: database on fire" "a failing server"
check "connection refused: exit 3, reported per key" "3 1" \
  "$("$K" refresh --server http://127.0.0.1:1 --no-wkd --keyring "$T/alice-old.pgp" >"$T/out" 2>/dev/null; echo $?) $(grep -c '^  error: the server .*cannot connect' "$T/out")"

# --- keydir fetch -v ----------------------------------------------------------
WK="$S/.well-known/openpgpkey/keydir.test/hu/"
rc=0
"$K" fetch -v --server "$S" --wkd-host "$S" alice@keydir.test >/dev/null 2>"$T/err" || rc=$?
check "fetch -v (the server's WKD): exit 0" 0 "$rc"
check "fetch -v: the WKD advanced URL" 1 "$(grep -c "^keydir: WKD advanced: GET $WK" "$T/err")"
check "fetch -v: which step answered" 1 "$(grep -c '^keydir: WKD advanced: 1 key for alice@keydir.test, checked: the answer comes from WKD advanced$' "$T/err")"
rc=0
"$K" fetch -v --server "$S" --wkd-host https://127.0.0.1:1 alice@keydir.test >/dev/null 2>"$T/err" || rc=$?
check "fetch -v (no WKD host): exit 0" 0 "$rc"
check "fetch -v: WKD advanced failed to connect" 1 "$(grep -c '^keydir: WKD advanced: cannot connect: .*; trying the next source$' "$T/err")"
check "fetch -v: WKD direct failed to connect" 1 "$(grep -c '^keydir: WKD direct: cannot connect: .*; trying the next source$' "$T/err")"
check "fetch -v: then the server" 1 "$(grep -c "^keydir: server: GET $S/pks/lookup?op=get&options=mr&search=alice%40keydir.test$" "$T/err")"
check "fetch -v: the server answered" 1 "$(grep -c '^keydir: server: 1 key for the address alice@keydir.test, checked: the answer comes from the server$' "$T/err")"
rc=0
"$K" fetch -v --server "$S" --wkd-host "$S" nobody@keydir.test >/dev/null 2>"$T/err" || rc=$?
check "fetch -v of an unknown address: exit 1" 1 "$rc"
check "fetch -v: WKD advanced 404" 1 "$(grep -c '^keydir: WKD advanced: HTTP 404: no key for nobody@keydir.test there$' "$T/err")"
check "fetch -v: WKD direct 404" 1 "$(grep -c '^keydir: WKD direct: HTTP 404: no key for nobody@keydir.test there$' "$T/err")"
check "fetch -v: the server has none" 1 "$(grep -c '^keydir: no key for address nobody@keydir.test from .*: HTTP 404' "$T/err")"
check "fetch -v by fingerprint: WKD skipped" "0 1" \
  "$("$K" fetch -v --server "$S" "$A" >/dev/null 2>"$T/err"; echo $?) $(grep -c "^keydir: WKD: skipped (the fingerprint $A is not an e-mail address)$" "$T/err")"
check "fetch -v --no-wkd: WKD skipped" "0 1" \
  "$("$K" fetch -v --no-wkd --server "$S" alice@keydir.test >/dev/null 2>"$T/err"; echo $?) $(grep -c '^keydir: WKD: skipped (--no-wkd)$' "$T/err")"
check "fetch without -v: no step lines" "0 0" \
  "$("$K" fetch --server "$S" --wkd-host "$S" alice@keydir.test >/dev/null 2>"$T/err"; echo $?) $(grep -c 'GET ' "$T/err" || true)"
serve wrongkey "$T/$D.asc"
rc=0
"$K" fetch -v --wkd-host "$FU" alice@keydir.test >"$T/out" 2>"$T/err" || rc=$?
check "fetch -v, a WKD host answering another key: exit 6, empty stdout" "6 0" "$rc $(wc -c <"$T/out")"
check "fetch -v: why the answer was refused" 1 \
  "$(grep -c "^keydir: WKD advanced: the answer was refused: the answer holds key $D, which is not the address alice@keydir.test asked for: the answer holds no user ID with alice@keydir.test" "$T/err")"
check "fetch -v: the server skipped" 1 "$(grep -c '^keydir: server: skipped (no --server and no KEYDIR_SERVER)$' "$T/err")"

# --- progress for a slow step -------------------------------------------------
serve slow /dev/null
rc=0
KEYDIR_PROGRESS=1 "$K" fetch --timeout 3 --server "$FU" "$A" >/dev/null 2>"$T/err" || rc=$?
check "a slow server: timed out, exit 3" 3 "$rc"
check "progress after 1 s" 1 "$(grep -c "^keydir: trying $FU/pks/lookup?op=get&options=mr&search=0x$A (1 s)$" "$T/err")"
check "progress after 2 s" 1 "$(grep -c "^keydir: trying $FU/pks/lookup?.* (2 s)$" "$T/err")"
check "no progress when standard error is no terminal" 0 \
  "$("$K" fetch --timeout 2 --server "$FU" "$A" >/dev/null 2>"$T/err" || true; grep -c 'trying' "$T/err" || true)"

finish "all refresh and fetch -v checks passed"
