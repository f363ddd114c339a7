#!/usr/bin/env bash
# Harvesting a verified directory's addresses through its transparency log.
# The attack: walk the public entry bundles (/log/tile/entries/...), collect
# every certificate's fingerprint, then look each one up by fingerprint (no
# rate limit) to read every published address. In verified and managed mode
# the log names certificates by a blinded fingerprint (HMAC-SHA-256 keyed by
# the log's salt), so the walk yields nothing to look up:
# 1. keydird serve --mode verified (a real SMTP sink: python3-aiosmtpd),
#    addresses confirmed through the mailed links, a key never confirmed, a
#    deletion: no certificate's fingerprint (primary or subkey) nor its key
#    ID appears anywhere in the log's bytes (entry bundles, hash tiles,
#    checkpoint); each entry's field is the blinded fingerprint, recomputed
#    here with Python's hmac from the header's salt.
# 2. The owner and the sender lose nothing: `keydir fetch --audit` by address
#    and by fingerprint succeed; `keydir monitor ADDRESS --allow FPR` is quiet
#    about the owner's key and names it in clear, and ALERTs (exit 9) for a
#    substitute key published for her address, naming it by its blinded id;
#    /log/entry/<fingerprint> still answers for a fingerprint one knows; the
#    oracle (when Go is there) checks the log with its own HMAC.
# 3. In open mode (everything public anyway) entries carry clear fingerprints.
#   log_harvest.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3 # Debian's, which has aiosmtpd
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "missing python3-aiosmtpd: run deploy/setup.sh"; exit 1; }
command -v gpg >/dev/null || { echo "log_harvest: gpg is missing"; exit 1; }
K="$B/keydir"
D=example.org
unset KEYDIR_SERVER KEYDIR_PROGRESS
export XDG_CONFIG_HOME=$T/config
export XDG_STATE_HOME=$T/state

start_smtp_sink
token_now() {
  grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | xargs -r ls -t | head -n 1 |
    xargs -r grep -o "/$2/[a-z0-9]*" | head -n 1 | sed "s|/$2/||"
}
has_token() { [ -n "$(token_now "$1" "$2")" ]; }
json_get() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

# Keys: one GNUPGHOME each; FPR (primary), ALL (primary and subkeys).
declare -A FPR ALL
newkey() {
  local who=$1 uid=$2 g
  g=$(mktemp -d "$T/gnupg-$who.XXXX")
  chmod 700 "$g"
  GNUPGHOME=$g gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
    "$uid" ed25519 default never 2>/dev/null
  FPR[$who]=$(GNUPGHOME=$g gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
  ALL[$who]=$(GNUPGHOME=$g gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10}' | paste -sd' ')
  GNUPGHOME=$g gpg --armor --export "${FPR[$who]}" >"$T/$who.asc" 2>/dev/null
  "$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
    "$T/$who.asc" >"$T/$who.json"
}
newkey alice "Alice <alice@$D>"
newkey bob "Bob <bob@$D>"
newkey ceo "CEO <ceo@$D>"                # uploaded, never confirmed
newkey mallory "Alice <alice@$D>"        # a substitute key for alice@
newkey dave "Dave <dave@$D>"             # confirmed, then deleted by the operator
echo "   keys: alice ${FPR[alice]} bob ${FPR[bob]} ceo ${FPR[ceo]} mallory ${FPR[mallory]} dave ${FPR[dave]}"

upload() { curl -s -H 'Content-Type: application/json' --data-binary "@$T/$1.json" "$U/vks/v1/upload" >"$T/$1.up"; }
# confirm WHO ADDRESS: uploads WHO's key, asks for the mail, follows its link.
confirm() {
  local who=$1 addr=$2 before
  before=$(token_now "$addr" verify || true)
  upload "$who"
  http_status "$U/vks/v1/request-verify" -H 'Content-Type: application/json' \
    --data "{\"token\": \"$(json_get "$T/$who.up" "d['token']")\", \"addresses\": [\"$addr\"]}" >/dev/null
  new_token() { local t; t=$(token_now "$addr" verify || true); [ -n "$t" ] && [ "$t" != "$before" ]; }
  wait_for new_token || true
  check "$who confirms $addr through the mailed link" 200 \
    "$(http_status "$U/verify/$(token_now "$addr" verify)" -X POST)"
}

# walk URL OUT: every byte of the log a harvester can read (the checkpoint,
# every entry bundle and hash tile) into OUT; the entries, one hex line each,
# into OUT.entries.
walk() {
  "$PY" - "$1" "$2" <<'EOF'
import sys, urllib.request
base, out = sys.argv[1], sys.argv[2]
get = lambda p: urllib.request.urlopen(base + "/log/" + p, timeout=20).read()
cp = get("checkpoint")
size = int(cp.decode().split("\n")[1])
def path(n, w):
    s = "%03d" % (n % 1000)
    while n >= 1000:
        n //= 1000
        s = "x%03d/%s" % (n % 1000, s)
    return s + ("" if w == 256 else ".p/%d" % w)
blob, entries = [cp], []
for level, width in (("entries", size), ("0", size), ("1", size // 256)):
    for n in range((width + 255) // 256):
        w = min(256, width - n * 256)
        b = get("tile/%s/%s" % (level, path(n, w)))
        blob.append(b)
        while level == "entries" and b:
            k = b[0] << 8 | b[1]
            entries.append(b[2:2 + k])
            b = b[2 + k:]
open(out, "wb").write(b"".join(blob))
open(out + ".entries", "w").write("".join(e.hex() + "\n" for e in entries))
EOF
}
# clear_in FILE FPR...: how many of the fingerprints, or their key IDs (the
# last 8 octets of a v4 fingerprint), appear in FILE's bytes.
clear_in() {
  "$PY" - "$@" <<'EOF'
import sys
blob = open(sys.argv[1], "rb").read()
n = 0
for f in sys.argv[2:]:
    b = bytes.fromhex(f)
    for needle in (b, b[-8:]):
        if needle in blob:
            print("   in clear: %s (%s)" % (needle.hex(), "fingerprint" if needle == b else "key ID"), file=sys.stderr)
            n += 1
print(n)
EOF
}
# blinded ENTRIES_FILE FPR: the field a scrypt log writes for FPR (v4),
# computed here from entry 0's salt, as "04" and hex.
blinded() {
  "$PY" - "$1" "$2" <<'EOF'
import hashlib, hmac, sys
header = bytes.fromhex(open(sys.argv[1]).readline())
assert header[1] == 0 and header[18] == 2, "entry 0 is no scrypt header"
salt = header[22:54]
vfpr = bytes([4]) + bytes.fromhex(sys.argv[2])
print("04" + hmac.new(salt, b"keydir fingerprint v1\n" + vfpr, hashlib.sha256).digest()[:20].hex())
EOF
}
# fields ENTRIES_FILE: the version and fingerprint field of every entry but
# the header, "04..." hex, one a line.
fields() { tail -n +2 "$1" | cut -c37-78; }

# ---------------------------------------------------------------------------
attack "1. walk a verified directory's log for fingerprints to look up"
start_keydird verified --mode verified --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from "keys@$D" \
  --add-rate 0 --wkd-domain "$D"
confirm alice "alice@$D"
confirm bob "bob@$D"
confirm dave "dave@$D"
upload ceo
check "admin delete (dave)" 0 "$("$B/keydird" admin delete --data "$T/verified" "${FPR[dave]}" >/dev/null 2>&1; echo $?)"
tree_size() { curl -sf "$U/log/checkpoint" | sed -n 2p; }
walk "$U" "$T/log1"
check "the log's header is scrypt (scheme 2)" 02 "$(head -n 1 "$T/log1.entries" | cut -c37-38)"
answered "log size" "$(tree_size) entries, $(wc -c <"$T/log1") octets walked"
everyone="${ALL[alice]} ${ALL[bob]} ${ALL[ceo]} ${ALL[dave]}"
check "no fingerprint or key ID of any stored certificate or subkey in the log" 0 "$(clear_in "$T/log1" $everyone)"
for who in alice bob dave; do
  check "$who's entries carry the blinded fingerprint (Python's hmac)" 1 \
    "$(fields "$T/log1.entries" | grep -c "^$(blinded "$T/log1.entries" "${FPR[$who]}")\$" | awk '{print ($1 > 0)}')"
done
check "the harvester's lookup of a blinded field finds nothing" 404 \
  "$(http_status "$U/pks/lookup?op=get&search=0x$(fields "$T/log1.entries" | tail -n 1 | cut -c3-)")"
check "/log/entry/<fingerprint> answers for a fingerprint one knows" 200 \
  "$(http_status "$U/log/entry/04$(echo "${FPR[alice]}" | tr 'A-F' 'a-f')")"

# ---------------------------------------------------------------------------
attack "2. the owner and the sender keep their checks"
audit() { # EXIT NAME ARGS...: keydir fetch --audit ARGS
  local want=$1 name=$2 rc=0
  shift 2
  "$K" fetch --audit --no-wkd --server "$U" "$@" >"$T/out" 2>"$T/err" || rc=$?
  check "$name: exit $want" "$want" "$rc"
  if [ "$rc" != "$want" ]; then sed 's/^/      /' "$T/err"; fi
}
audit 0 "fetch --audit by address" "alice@$D"
check "by address: one certificate audited" 1 "$(grep -c '^keydir: audited: 1 certificate(s)' "$T/err" || true)"
audit 0 "fetch --audit by fingerprint" "${FPR[bob]}"
XDG_STATE_HOME=$T/state-fresh audit 0 "fetch --audit by fingerprint, first use" "${FPR[alice]}"
VA=04$(echo "${FPR[alice]}" | tr 'A-F' 'a-f')
mon() { # EXIT NAME ARGS...: keydir monitor ARGS
  local want=$1 name=$2 rc=0
  shift 2
  "$K" monitor --server "$U" "$@" >"$T/mout" 2>"$T/merr" || rc=$?
  check "$name: exit $want" "$want" "$rc"
  if [ "$rc" != "$want" ]; then sed 's/^/      /' "$T/merr" "$T/mout"; fi
}
mon 0 "monitor --allow alice: her key is no alert" --allow "${FPR[alice]}" "alice@$D"
answered "monitor" "$(cat "$T/mout")"
check "her key is named in clear (it is on the allow-list)" 1 \
  "$(grep -c " $VA alice@$D published (entry [0-9]*)\$" "$T/mout" || true)"
# The substitute: a key with alice@'s address, confirmed (her mailbox, or
# the directory, is the attacker's).
confirm mallory "alice@$D"
walk "$U" "$T/log2"
check "after the substitution: still no fingerprint in clear" 0 \
  "$(clear_in "$T/log2" $everyone ${ALL[mallory]})"
BM=$(blinded "$T/log2.entries" "${FPR[mallory]}")
mon 9 "monitor --allow alice: the substitute key is an ALERT" --allow "${FPR[alice]}" "alice@$D"
answered "monitor" "$(cat "$T/mout")"
check "the ALERT names the substitute by its blinded id, and says how to see it" 1 \
  "$(grep -c "^ALERT alice@$D bound to blinded:$BM at entry [0-9]* ([0-9T:Z-]*): .*keydir fetch --audit alice@$D" "$T/mout" || true)"
check "and only it" 1 "$(grep -c '^ALERT' "$T/mout" || true)"
mon 0 "monitor again: quiet" --allow "${FPR[alice]}" "alice@$D"
check "nothing new: nothing printed" 0 "$(cat "$T/mout" | wc -c)"
XDG_STATE_HOME=$T/state-mon2 mon 9 "monitor, a fresh state: the whole log" --allow "${FPR[alice]}" "alice@$D"
check "fresh state: alice's entry in clear, the substitute's ALERT" "1 1" \
  "$(grep -c " $VA alice@$D published" "$T/mout") $(grep -c "^ALERT alice@$D bound to blinded:$BM " "$T/mout")"
audit 0 "fetch --audit by address: both keys" "alice@$D"
check "both certificates audited" 1 "$(grep -c '^keydir: audited: 2 certificate(s)' "$T/err" || true)"
audit 0 "fetch --audit of the substitute by its fingerprint" "${FPR[mallory]}"

# The oracle, when it can be built: the log against Go's own HMAC.
rc=0
bash "$HERE/../transparency/build_oracle.sh" "$T/bin" >"$T/oracle-build.log" 2>&1 || rc=$?
if [ "$rc" = 0 ]; then
  known=$(echo "${FPR[alice]} ${FPR[bob]} ${FPR[mallory]} ${FPR[ceo]} ${FPR[dave]}" | tr ' ' ,)
  rc=0
  "$T/bin/keydir-log-oracle" --url "$U" --full --lookups --fingerprints "$known" >"$T/oracle.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || sed 's/^/      | /' "$T/oracle.out"
  check "the oracle accepts the log" 0 "$rc"
  check "the oracle: no fingerprint in clear, 5 by their blinded form" 1 \
    "$(grep -c '^ok   blinded: none of the 5 fingerprints given appears in clear; 5 of them' "$T/oracle.out" || true)"
else
  echo "   (keydir-log-oracle not built: $(tail -1 "$T/oracle-build.log"))"
fi
stop_keydird
"$B/keydird" log verify --data "$T/verified" >"$T/verify.out" 2>&1 && rc=0 || rc=$?
answered "keydird log verify" "$(cat "$T/verify.out")"
check "keydird log verify: the store and its blinded entries agree" 0 "$rc"

# ---------------------------------------------------------------------------
attack "3. open mode: everything is public, entries keep clear fingerprints"
start_keydird open --add-rate 0
check "upload bob's key (open mode)" 200 \
  "$(http_status "$U/pks/add" --data-urlencode "keytext@$T/bob.asc")"
walk "$U" "$T/log3"
check "the log's header is HMAC (scheme 1)" 01 "$(head -n 1 "$T/log3.entries" | cut -c37-38)"
check "bob's entry carries his fingerprint in clear" \
  "04$(echo "${FPR[bob]}" | tr 'A-F' 'a-f')" "$(fields "$T/log3.entries" | tail -n 1)"
stop_keydird

finish
