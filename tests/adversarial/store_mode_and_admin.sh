#!/usr/bin/env bash
# The publishing mode lives in the store, and every way out of the store
# (wkd-export, dump, dump --full, restore, import, the admin commands online
# and offline) keeps what the owners did not publish withheld.
#   1. the withheld address: a CEO's key uploaded by someone else, never
#      confirmed, stays out of wkd-export and the safe dump (online and
#      offline), while the full backup keeps it; an owner-unpublished and an
#      operator-unpublished address are out too; each exported WKD file is
#      byte for byte the live answer
#   2. safe dump -> import into a fresh verified store publishes nothing
#   3. full dump -> restore -> full dump: identical; the restored store
#      answers every lookup as the original
#   4. serve --mode open on the verified store is refused; set-mode without
#      --yes, and with --dry-run, changes nothing; the audit log records
#      set-mode only when done
#   5. offline import into the verified store: no address without
#      --publish-addresses, published with it; both in the audit log
#   6. the admin socket refuses another user, even when the file mode is
#      loosened (SO_PEERCRED); no TCP port for administration
#   7. clear errors of the admin commands; --data before or after the
#      subcommand
# keydird in verified mode with a real SMTP sink (Debian's python3-aiosmtpd).
#   store_mode_and_admin.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3  # Debian's, which has aiosmtpd
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "missing python3-aiosmtpd: run deploy/setup.sh"; exit 1; }
NBDIR=""
CLEANUP+=('[ -n "$NBDIR" ] && rm -rf "$NBDIR"')  # (the gpg agents of $T/gnupg-*: the harness)
K="$B/keydird"
D=example.org
WKS=$(gpgconf --list-dirs libexecdir)/gpg-wks-client

# The SMTP sink: every message lands in $T/mail/new.
start_smtp_sink
mails_to() { grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | wc -l; }
# The token of the newest /verify/ or /manage/ link mailed to $1 (waits for it).
token_now() {
  grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | xargs -r ls -t | head -n 1 |
    xargs -r grep -o "/$2/[a-z0-9]*" | head -n 1 | sed "s|/$2/||"
}
has_token() { [ -n "$(token_now "$1" "$2")" ]; }
last_token() {
  wait_for has_token "$1" "$2" || true
  token_now "$1" "$2"
}
json_get() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# serve_verified NAME ARGS...: keydird serve on $T/NAME with the mail relay
# and the WKD of $D (the mode comes from ARGS or the store).
serve_verified() {
  local name=$1
  shift
  start_keydird "$name" --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from "keys@$D" \
    --add-rate 0 --wkd-domain "$D" "$@"
}
# rc CMD...: the exit code of CMD, its stdout and stderr in $T/out and $T/err.
rc() { "$@" >"$T/out" 2>"$T/err" && echo 0 >"$T/rc" || echo $? >"$T/rc"; cat "$T/rc"; }
wkd_hash() { "$WKS" --print-wkd-hash "$1" | cut -d' ' -f1; }

# Keys: one per person, ed25519, each in its own GNUPGHOME.
declare -A FPR
newkey() {
  local who=$1 uid=$2
  local g
  g=$(mktemp -d "$T/gnupg-$who.XXXX")
  chmod 700 "$g"
  GNUPGHOME=$g gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
    "$uid" ed25519 default never 2>/dev/null
  FPR[$who]=$(GNUPGHOME=$g gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
  GNUPGHOME=$g gpg --armor --export "${FPR[$who]}" >"$T/$who.asc" 2>/dev/null
  "$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
    "$T/$who.asc" >"$T/$who.json"
}
newkey ceo "CEO <ceo@$D>"          # uploaded by an attacker, never confirmed
newkey alice "Alice <alice@$D>"    # confirms
newkey bob "Bob <bob@$D>"          # confirms, then unpublishes through a manage link
newkey carol "Carol <carol@$D>"    # confirms, then the operator unpublishes her address
newkey dave "Dave <dave@$D>"       # imported offline without --publish-addresses
newkey erin "Erin <erin@$D>"       # imported offline with --publish-addresses
echo "keys: ceo ${FPR[ceo]} alice ${FPR[alice]} bob ${FPR[bob]} carol ${FPR[carol]}"

upload() { curl -s -H 'Content-Type: application/json' --data-binary "@$T/$1.json" "$U/vks/v1/upload" >"$T/$1.up"; }
# confirm WHO: uploads WHO's key, asks for the mail, follows its link.
confirm() {
  local who=$1
  upload "$who"
  http_status "$U/vks/v1/request-verify" -H 'Content-Type: application/json' \
    --data "{\"token\": \"$(json_get "$T/$who.up" "d['token']")\", \"addresses\": [\"$who@$D\"]}" >/dev/null
  check "$who confirms $who@$D through the mailed link" 200 \
    "$(http_status "$U/verify/$(last_token "$who@$D" verify)" -X POST)"
  check "$who@$D is published" 200 "$(http_status "$U/vks/v1/by-email/$who@$D")"
}

# ---------------------------------------------------------------------------
attack "1. the withheld address: an anonymous upload of the CEO's key"
serve_verified vs --mode verified
VS_LOG=$T/vs.log
upload ceo
answered "VKS upload of CEO's key" "$(json_get "$T/ceo.up" "d['status']")"
check "the CEO's address is unpublished after the upload" "{'ceo@$D': 'unpublished'}" \
  "$(json_get "$T/ceo.up" "d['status']")"
confirm alice
confirm bob
confirm carol
sleep 0.3  # a grace period for a mail that must not come (nothing to wait for)
check "no mail went to the CEO" 0 "$(mails_to "ceo@$D")"
check "ceo@$D is not found (VKS)" 404 "$(http_status "$U/vks/v1/by-email/ceo@$D")"
check "ceo@$D is not found (HKP)" 404 "$(http_status "$U/pks/lookup?op=get&search=ceo@$D")"

# bob unpublishes through a manage link; the operator unpublishes carol online.
check "bob asks for a manage link" 200 "$(http_status "$U/manage" --data "email=bob@$D")"
check "bob unpublishes bob@$D" 200 \
  "$(http_status "$U/manage/$(last_token "bob@$D" manage)" --data "address=bob@$D")"
check "admin unpublish carol@$D through the running server" 0 \
  "$(rc "$K" admin unpublish --data "$T/vs" "${FPR[carol]}" "carol@$D")"
answered "admin unpublish (online)" "$(cat "$T/out" "$T/err")"
check "the server ran it (its log names the admin socket)" 1 \
  "$(grep -c 'admin socket: uid 0: admin unpublish' "$VS_LOG" || true)"
for who in bob carol; do
  check "$who@$D is no longer found" 404 "$(http_status "$U/vks/v1/by-email/$who@$D")"
done

# export_checks WHEN DIR: what wkd-export, dump and dump --full wrote in DIR.
export_checks() {
  local when=$1 dir=$2 who h f
  for who in ceo bob carol; do
    h=$(wkd_hash "$who@$D")
    check "$when: wkd-export has no file for $who@$D" 0 \
      "$(find "$dir/wkd" -name "$h" | wc -l)"
    check "$when: the safe dump does not contain $who@$D" 0 \
      "$(cat "$dir"/dump/*.pgp | grep -ac "$who@$D" || true)"
    check "$when: the full dump does contain $who@$D" 1 \
      "$(grep -aqs "$who@$D" "$dir"/full/* && echo 1 || echo 0)"
  done
  h=$(wkd_hash "alice@$D")
  check "$when: wkd-export has alice's file in both layouts" 2 "$(find "$dir/wkd" -name "$h" | wc -l)"
  check "$when: the safe dump contains alice@$D" 1 \
    "$(grep -aqs "alice@$D" "$dir"/dump/*.pgp && echo 1 || echo 0)"
  check "$when: the safe dump holds no CEO user ID at all" 0 \
    "$(cat "$dir"/dump/*.pgp | grep -ac 'CEO' || true)"
  check "$when: the export's hu/ files are alice's only" 2 "$(find "$dir/wkd" -path '*/hu/*' -type f | wc -l)"
}
# export_all DIR: wkd-export, dump and dump --full of the store vs into DIR.
export_all() {
  mkdir -p "$1"
  check "wkd-export ($(basename "$1"))" 0 "$(rc "$K" wkd-export --data "$T/vs" --domain "$D" --out "$1/wkd")"
  answered "wkd-export" "$(cat "$T/out" "$T/err")"
  check "dump ($(basename "$1"))" 0 "$(rc "$K" dump --data "$T/vs" --out "$1/dump")"
  answered "dump" "$(cat "$T/out" "$T/err")"
  check "dump --full ($(basename "$1"))" 0 "$(rc "$K" dump --full --data "$T/vs" --out "$1/full")"
  answered "dump --full" "$(cat "$T/out" "$T/err")"
}

attack "1. online: wkd-export, dump and dump --full through the running server"
export_all "$T/online"
export_checks online "$T/online"
# Each exported file is the live answer for that hash, byte for byte; and
# every address the server knows is exported exactly when the live WKD has it.
wkd_live() {  # wkd_live LAYOUT HASH OUT: the status of the live WKD lookup
  if [ "$1" == direct ]; then
    curl -s -o "$3" -w '%{http_code}' -H "Host: $D" "$U/.well-known/openpgpkey/hu/$2"
  else
    curl -s -o "$3" -w '%{http_code}' -H "Host: openpgpkey.$D" "$U/.well-known/openpgpkey/$D/hu/$2"
  fi
}
for f in $(cd "$T/online/wkd" && find . -path '*/hu/*' -type f | sort); do
  layout=direct
  [[ "$f" == *"/$D/hu/"* ]] && layout=advanced
  wkd_live "$layout" "$(basename "$f")" "$T/live.bin" >/dev/null
  check "exported $f is byte for byte the live $layout WKD answer" 0 \
    "$(cmp -s "$T/live.bin" "$T/online/wkd/$f" && echo 0 || echo 1)"
done
for who in ceo alice bob carol; do
  h=$(wkd_hash "$who@$D")
  for layout in direct advanced; do
    [ "$layout" == direct ] && f=$T/online/wkd/.well-known/openpgpkey/hu/$h ||
      f=$T/online/wkd/.well-known/openpgpkey/$D/hu/$h
    check "live $layout WKD of $who@$D answers as the export has it" \
      "$([ -e "$f" ] && echo 200 || echo 404)" "$(wkd_live "$layout" "$h" "$T/live.bin")"
  done
done
curl -s -H "Host: $D" "$U/.well-known/openpgpkey/policy" >"$T/live-policy"
check "the exported policy is the live one" 0 \
  "$(cmp -s "$T/live-policy" "$T/online/wkd/.well-known/openpgpkey/policy" && echo 0 || echo 1)"
stop_keydird

attack "1. offline: the same exports from the stopped store"
export_all "$T/offline"
export_checks offline "$T/offline"
for what in wkd dump; do
  check "offline $what is identical to the online one" 0 \
    "$(diff -r "$T/online/$what" "$T/offline/$what" >/dev/null && echo 0 || echo 1)"
done
# The full dumps differ by the audit entry of the first one (a full dump is
# an audited action) and the end line's count of audit entries.
without_audit() { grep -v -e '^{"audit"' -e '^{"end"' "$1/keydir-state.jsonl"; }
check "offline full is the online one but for the audit log" 0 \
  "$(diff <(without_audit "$T/online/full") <(without_audit "$T/offline/full") >/dev/null &&
     diff <(cat "$T"/online/full/*.pgp) <(cat "$T"/offline/full/*.pgp) >/dev/null && echo 0 || echo 1)"
check "the second full dump's audit log holds the first dump" 1 \
  "$(grep -c '"audit".*dump --full' "$T/offline/full/keydir-state.jsonl" || true)"

# ---------------------------------------------------------------------------
attack "4. serve --mode open on the verified store; set-mode without --yes, --dry-run"
check "serve --mode open is refused (exit 2)" 2 \
  "$(rc "$K" serve --listen 127.0.0.1:0 --data "$T/vs" --mode open)"
answered "serve --mode open" "$(cat "$T/err")"
check "the refusal names keydird admin set-mode" 1 "$(grep -c 'keydird admin set-mode' "$T/err" || true)"
check "stats still says mode verified" "mode verified" "$("$K" stats --data "$T/vs" | grep '^mode')"
check "set-mode open without --yes is refused" 1 "$(rc "$K" admin set-mode open --data "$T/vs")"
answered "set-mode open" "$(cat "$T/out" "$T/err")"
check "the refusal asks for --yes" 1 "$(grep -c -- '--yes' "$T/err" || true)"
# ceo (never confirmed), bob and carol (unpublished): open publishes all three.
check "it says how many addresses it would publish" 1 \
  "$(grep -c '^  3 addresses become findable' "$T/out" || true)"
check "set-mode open --dry-run exits 0" 0 "$(rc "$K" admin set-mode open --dry-run --data "$T/vs")"
answered "set-mode open --dry-run" "$(cat "$T/out" "$T/err")"
check "--dry-run says nothing changed" 1 "$(grep -c 'nothing changed' "$T/out" "$T/err" | awk -F: '{s+=$2} END{print s}')"
check "--dry-run --yes changes nothing either" 0 "$(rc "$K" admin set-mode open --dry-run --yes --data "$T/vs")"
check "stats still says mode verified" "mode verified" "$("$K" stats --data "$T/vs" | grep '^mode')"
check "the audit log has no set-mode" 0 "$("$K" admin log --data "$T/vs" | grep -c 'set-mode' || true)"
"$K" dump --data "$T/vs" --out "$T/dump-after-refusals" >/dev/null 2>&1
check "the safe dump is what it was" 0 \
  "$(diff -r "$T/offline/dump" "$T/dump-after-refusals" >/dev/null && echo 0 || echo 1)"

# ---------------------------------------------------------------------------
attack "5. offline import into the verified store"
check "import dave's key (no --publish-addresses)" 0 "$(rc "$K" import --data "$T/vs" "$T/dave.asc")"
answered "import" "$(cat "$T/out" "$T/err")"
check "import says no address was published" 1 "$(grep -c 'no address was published' "$T/out" "$T/err" | awk -F: '{s+=$2} END{print s}')"
check "import the CEO's key again (no --publish-addresses)" 0 "$(rc "$K" import --data "$T/vs" "$T/ceo.asc")"
check "import erin's key with --publish-addresses" 0 \
  "$(rc "$K" import --publish-addresses --data "$T/vs" "$T/erin.asc")"
answered "import --publish-addresses" "$(cat "$T/out" "$T/err")"
check "import --mode open into the verified store is refused (exit 2)" 2 \
  "$(rc "$K" import --mode open --data "$T/vs" "$T/dave.asc")"
"$K" admin log --data "$T/vs" >"$T/log5"
answered "admin log" "$(cat "$T/log5")"
check "the audit log shows the import --publish-addresses of erin.asc" 1 \
  "$(grep -c 'import --publish-addresses.*erin.asc' "$T/log5" || true)"

# The store's mode, without --mode.
serve_verified vs
check "serve without --mode uses the store's mode (verified)" 1 \
  "$(grep -c 'publishing mode verified' "$VS_LOG" || true)"
check "4: ceo@$D still not found after the refused set-mode (HKP)" 404 \
  "$(http_status "$U/pks/lookup?op=get&search=ceo@$D")"
check "4: ceo@$D still not found (VKS)" 404 "$(http_status "$U/vks/v1/by-email/ceo@$D")"
check "4: alice@$D still found" 200 "$(http_status "$U/vks/v1/by-email/alice@$D")"
check "5: dave@$D not published (VKS)" 404 "$(http_status "$U/vks/v1/by-email/dave@$D")"
check "5: dave@$D not published (HKP)" 404 "$(http_status "$U/pks/lookup?op=get&search=dave@$D")"
curl -s "$U/pks/lookup?op=get&options=mr&search=0x${FPR[dave]}" >"$T/dave-get.asc"
check "5: dave's key is found by fingerprint" 1 "$(grep -c 'BEGIN PGP PUBLIC KEY BLOCK' "$T/dave-get.asc" || true)"
check "5: ... without his address" 0 "$(gpg --with-colons --show-keys "$T/dave-get.asc" 2>/dev/null | grep -c "dave@$D" || true)"
check "5: erin@$D published (VKS)" 200 "$(http_status "$U/vks/v1/by-email/erin@$D")"
check "5: erin@$D published (WKD)" 200 "$(wkd_live direct "$(wkd_hash "erin@$D")" /dev/null)"

# ---------------------------------------------------------------------------
attack "6. the admin socket against another local user"
check "admin.sock is a socket of mode 0600" "socket 600" \
  "$(stat -c '%F %a' "$T/vs/admin.sock" | sed 's/^socket [a-z ]*\([0-7]*\)$/socket \1/')"
[ "$(id -u)" == 0 ] || { echo "attack 6 runs commands as nobody: run this test as root"; exit 1; }
NB=$K
if ! runuser -u nobody -- "$NB" --help >/dev/null 2>&1; then
  # The build folder is not reachable by nobody: a copy in a folder of mode 0755.
  NBDIR=$(mktemp -d)
  chmod 755 "$NBDIR"
  cp "$K" "$NBDIR/"
  NB=$NBDIR/keydird
fi
check "nobody can run keydird at all (else this attack proves nothing)" 0 \
  "$(runuser -u nobody -- "$NB" --help >/dev/null 2>&1 && echo 0 || echo 1)"
STATS0=$("$K" stats --data "$T/vs" 2>&1 | grep -v disk_bytes)
check "nobody: keydird stats fails" 1 \
  "$(rc runuser -u nobody -- "$NB" stats --data "$T/vs" | grep -c -v '^0$')"
answered "nobody: stats (folder 0700)" "$(cat "$T/err")"
check "nobody: the message says why" 1 \
  "$(grep -ci 'permission denied\|refused\|may not' "$T/err" | grep -c -v '^0$')"
check "nobody: keydird does not abort (exit 1, not 134)" 1 "$(cat "$T/rc")"
# Loosen the file modes: the server's SO_PEERCRED check still refuses.
chmod 755 "$T" "$T/vs"
chmod 666 "$T/vs/admin.sock"
# Twenty tries: every one is refused (the message is reported; whether it
# reaches the client is a race with the server's close(), asserted below).
: >"$T/refusals"
for _ in $(seq 20); do
  rc runuser -u nobody -- "$NB" stats --data "$T/vs" >>"$T/refusals"
  cat "$T/err" >>"$T/refusals"
done
answered "nobody: stats (socket 0666), 20 tries" "$(sort "$T/refusals" | uniq -c)"
check "nobody (socket 0666): keydird stats exits non-zero, 20 of 20" 0 "$(grep -c '^0$' "$T/refusals" || true)"
# A request larger than the socket buffer: the server answers and closes
# without reading it, so the client's write fails, every time; the refusal
# must still reach the user (not "closed the admin connection").
BIG=$(head -c 100000 /dev/zero | tr '\0' a).$D
check "nobody (socket 0666): a 600 kB request is refused too" 1 \
  "$(rc runuser -u nobody -- "$NB" admin set-mode managed --dry-run --data "$T/vs" \
    --domain "$BIG" --domain "$BIG" --domain "$BIG" --domain "$BIG" --domain "$BIG" --domain "$BIG" |
    grep -c -v '^0$')"
answered "nobody: a 600 kB set-mode request" "$(cat "$T/err")"
check "nobody (socket 0666): ... and told that uid 65534 is refused" 1 \
  "$(grep -c 'refused: uid 65534' "$T/err" || true)"
check "nobody: admin delete of alice's key exits non-zero" 1 \
  "$(rc runuser -u nobody -- "$NB" admin delete --data "$T/vs" "${FPR[alice]}" | grep -c -v '^0$')"
answered "nobody: admin delete" "$(cat "$T/err")"
check "nobody: admin set-mode open --yes exits non-zero" 1 \
  "$(rc runuser -u nobody -- "$NB" admin set-mode open --yes --data "$T/vs" | grep -c -v '^0$')"
check "nobody: admin publish of ceo@$D exits non-zero" 1 \
  "$(rc runuser -u nobody -- "$NB" admin publish --data "$T/vs" "${FPR[ceo]}" "ceo@$D" | grep -c -v '^0$')"
check "the server logged the 24 refusals of uid 65534" 24 "$(grep -c 'refused uid 65534' "$VS_LOG" || true)"
check "alice's key is still there" 200 "$(http_status "$U/pks/lookup?op=get&search=0x${FPR[alice]}")"
check "alice@$D is still published" 200 "$(http_status "$U/vks/v1/by-email/alice@$D")"
check "ceo@$D is still not published" 404 "$(http_status "$U/vks/v1/by-email/ceo@$D")"
check "the store's counts are unchanged" "$STATS0" "$("$K" stats --data "$T/vs" 2>&1 | grep -v disk_bytes)"
check "the audit log has no entry by uid 65534" 0 "$("$K" admin log --data "$T/vs" | grep -c 65534 || true)"
chmod 600 "$T/vs/admin.sock"
chmod 700 "$T"
answered "ss -ltnp of keydird" "$(ss -ltnp | grep "pid=$SERVER_PID," || true)"
check "keydird listens on one TCP port only (HTTP)" "127.0.0.1:$PORT" \
  "$(ss -ltnp | grep "pid=$SERVER_PID," | awk '{print $4}' | tr '\n' ' ' | sed 's/ $//')"
check "keydird's only Unix listening socket is DATA/admin.sock" "$T/vs/admin.sock" \
  "$(ss -lxp | grep "pid=$SERVER_PID," | awk '{print $5}' | tr '\n' ' ' | sed 's/ $//')"

# ---------------------------------------------------------------------------
attack "7. clear errors of the admin commands (online, through the socket)"
admin_errors() {
  local when=$1 store=$2
  check "$when: admin unpublish of an address not on the key fails" 1 \
    "$(rc "$K" admin unpublish --data "$store" "${FPR[alice]}" "not-on-key@$D" | grep -c -v '^0$')"
  answered "$when: admin unpublish not-on-key" "$(cat "$T/out" "$T/err")"
  check "$when: ... naming the address" 1 "$(grep -c "not-on-key@$D" "$T/err" || true)"
  check "$when: ... and not saying done" 0 "$(grep -ci 'done' "$T/out" || true)"
  check "$when: admin publish of an address not on the key fails" 1 \
    "$(rc "$K" admin publish --data "$store" "${FPR[alice]}" "not-on-key@$D" | grep -c -v '^0$')"
  answered "$when: admin publish not-on-key" "$(cat "$T/err")"
  check "$when: ... naming the address" 1 "$(grep -c "not-on-key@$D" "$T/err" || true)"
  check "$when: admin restore of a key that is not deleted fails" 1 \
    "$(rc "$K" admin restore --data "$store" "${FPR[alice]}" | grep -c -v '^0$')"
  answered "$when: admin restore (not deleted)" "$(cat "$T/err")"
  check "$when: ... saying it is not deleted" 1 "$(grep -c 'not a deleted key' "$T/err" || true)"
  check "$when: admin delete of an unknown fingerprint fails" 1 \
    "$(rc "$K" admin delete --data "$store" 0123456789ABCDEF0123456789ABCDEF01234567 | grep -c -v '^0$')"
  answered "$when: admin delete unknown" "$(cat "$T/err")"
  check "$when: ... naming it" 1 "$(grep -c '0123456789ABCDEF0123456789ABCDEF01234567' "$T/err" || true)"
  for sub in "delete" "restore" "publish" "unpublish"; do
    local extra=()
    [[ "$sub" == *publish ]] && extra=("alice@$D")
    check "$when: admin $sub of a garbage fingerprint: exit 2" 2 \
      "$(rc "$K" admin "$sub" --data "$store" 'garbage;rm' "${extra[@]}")"
  done
  answered "$when: garbage fingerprint" "$(cat "$T/err")"
  check "$when: admin log records none of these" "$LOG_BEFORE" "$("$K" admin log --data "$store")"
}
LOG_BEFORE=$("$K" admin log --data "$T/vs")
admin_errors online "$T/vs"

attack "7. --data before or after the subcommand (online)"
same_both_ways() {
  local when=$1 store=$2
  shift 2
  local a b
  a=$("$K" --data "$store" "$@" 2>&1; echo "exit $?")
  b=$("$K" "$@" --data "$store" 2>&1; echo "exit $?")
  check "$when: keydird --data D $* == keydird $* --data D" "$a" "$b"
  check "$when: keydird --data D $* exits 0" 0 "$(printf '%s' "$a" | tail -n 1 | cut -d' ' -f2)"
}
for cmd in stats check "admin log" "admin list-pending" "admin log --json"; do
  # shellcheck disable=SC2086
  same_both_ways online "$T/vs" $cmd
done
check "online: keydird --data D dump" 0 "$(rc "$K" --data "$T/vs" dump --out "$T/dump-before")"
check "online: keydird dump --data D" 0 "$(rc "$K" dump --out "$T/dump-after" --data "$T/vs")"
check "online: both dumps are identical" 0 \
  "$(diff -r "$T/dump-before" "$T/dump-after" >/dev/null && echo 0 || echo 1)"
check "online: admin --data D list-pending == admin list-pending --data D" \
  "$("$K" admin --data "$T/vs" list-pending 2>&1)" "$("$K" admin list-pending --data "$T/vs" 2>&1)"
stop_keydird

attack "6. offline: another user against the stopped store"
chmod 755 "$T"
check "nobody: keydird stats on the stopped store fails" 1 \
  "$(rc runuser -u nobody -- "$NB" stats --data "$T/vs" | grep -c -v '^0$')"
answered "nobody: stats (offline)" "$(cat "$T/err")"
check "nobody: the message says permission denied" 1 "$(grep -ci 'permission denied' "$T/err" | grep -c -v '^0$')"
check "nobody: the message does not blame another keydird process" 0 \
  "$(grep -c 'in use by another keydird' "$T/err" || true)"
check "nobody: admin delete on the stopped store fails" 1 \
  "$(rc runuser -u nobody -- "$NB" admin delete --data "$T/vs" "${FPR[alice]}" | grep -c -v '^0$')"
chmod 700 "$T"
check "alice's key is still in the store" 1 \
  "$("$K" dump --data "$T/vs" --out "$T/dump-6" >/dev/null 2>&1; grep -aqs "alice@$D" "$T"/dump-6/*.pgp && echo 1 || echo 0)"

attack "7. the same, offline"
admin_errors offline "$T/vs"
for cmd in stats check "admin log" "admin list-pending"; do
  # shellcheck disable=SC2086
  same_both_ways offline "$T/vs" $cmd
done
# An open store has nothing to publish.
"$K" import --data "$T/os" "$T/alice.asc" >/dev/null 2>&1
check "admin publish on an open store fails" 1 \
  "$(rc "$K" admin publish --data "$T/os" "${FPR[alice]}" "alice@$D" | grep -c -v '^0$')"
answered "admin publish (open store)" "$(cat "$T/err")"
check "... saying the store is open" 1 "$(grep -ci 'open' "$T/err" | grep -c -v '^0$')"
check "admin unpublish on an open store fails" 1 \
  "$(rc "$K" admin unpublish --data "$T/os" "${FPR[alice]}" "alice@$D" | grep -c -v '^0$')"
answered "admin unpublish (open store)" "$(cat "$T/err")"

# ---------------------------------------------------------------------------
attack "2. safe dump -> import into a fresh verified store"
"$K" dump --data "$T/vs" --out "$T/safe2" >/dev/null 2>&1
check "import --mode verified of the safe dump" 0 \
  "$(rc "$K" import --mode verified --data "$T/fresh" "$T"/safe2/*.pgp)"
answered "import" "$(cat "$T/out" "$T/err")"
check "the fresh store is in verified mode" "mode verified" "$("$K" stats --data "$T/fresh" | grep '^mode')"
serve_verified fresh
for who in ceo alice dave erin; do
  check "fresh store: HKP op=get of $who@$D finds nothing" 404 \
    "$(http_status "$U/pks/lookup?op=get&search=$who@$D")"
  check "fresh store: VKS by-email of $who@$D finds nothing" 404 "$(http_status "$U/vks/v1/by-email/$who@$D")"
  check "fresh store: WKD of $who@$D finds nothing" 404 "$(wkd_live direct "$(wkd_hash "$who@$D")" /dev/null)"
done
check "fresh store: alice's key is found by fingerprint" 200 \
  "$(http_status "$U/pks/lookup?op=get&search=0x${FPR[alice]}")"
curl -s "$U/pks/lookup?op=get&options=mr&search=0x${FPR[alice]}" >"$T/fresh-alice.asc"
check "fresh store: ... without her address" 0 "$(grep -ac "alice@$D" "$T/fresh-alice.asc" || true)"
curl -s "$U/search?q=ceo@$D" >"$T/fresh-search.html"
check "fresh store: the search page does not name a key for ceo@$D" 0 \
  "$(grep -c "${FPR[ceo]}" "$T/fresh-search.html" || true)"
check "fresh store: no address pending" "0 pending" "$("$K" admin list-pending --data "$T/fresh" 2>&1)"
stop_keydird
"$K" wkd-export --data "$T/fresh" --domain "$D" --out "$T/fresh-wkd" >/dev/null 2>&1
check "fresh store: its wkd-export has no hu/ file" 0 "$(find "$T/fresh-wkd" -path '*/hu/*' -type f | wc -l)"
"$K" dump --full --data "$T/fresh" --out "$T/fresh-full" >/dev/null 2>&1
check "fresh store: not even its full dump holds ceo@$D" 0 "$(cat "$T"/fresh-full/* | grep -ac "ceo@$D" || true)"
check "fresh store: its full dump publishes no address" 0 \
  "$(grep -c "\"published\":\[\"" "$T/fresh-full/keydir-state.jsonl" || true)"

# ---------------------------------------------------------------------------
attack "3. full dump -> restore -> full dump"
"$K" dump --full --data "$T/vs" --out "$T/full3" >/dev/null 2>&1
check "restore into a new folder" 0 "$(rc "$K" restore --data "$T/rs" --from "$T/full3")"
answered "restore" "$(cat "$T/out" "$T/err")"
check "restore into a folder that holds a store is refused" 1 \
  "$(rc "$K" restore --data "$T/vs" --from "$T/full3" | grep -c -v '^0$')"
answered "restore onto the live store" "$(cat "$T/err")"
"$K" dump --full --data "$T/rs" --out "$T/full3b" >/dev/null 2>&1
check "the full dump of the restored store is byte-identical (diff -r)" 0 \
  "$(diff -r "$T/full3" "$T/full3b" >/dev/null && echo 0 || echo 1)"
# Both logs end with the full dump each made after the restore point.
check "the restored store's audit log is the original's" \
  "$("$K" admin log --data "$T/vs" | sed '$d')" "$("$K" admin log --data "$T/rs" | sed '$d')"
check "the restored store is in verified mode" "mode verified" "$("$K" stats --data "$T/rs" | grep '^mode')"
serve_verified vs
UA=$U
serve_verified rs
UB=$U
# answer URL_PATH BASE HOST: status and the digest of the body (the server's
# own URL masked).
answer() {
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' ${3:+-H "Host: $3"} "$2$1")
  echo "$code $(sed "s|$2|BASE|g; s|127.0.0.1:[0-9]*|HOSTPORT|g" "$T/body" | sha256sum | cut -c1-16) $(wc -c <"$T/body")"
}
n=0
declare -A CODES
for who in ceo alice bob carol dave erin; do
  CODES[$who]=""
  h=$(wkd_hash "$who@$D")
  for p in "/pks/lookup?op=get&options=mr&search=0x${FPR[$who]}" \
    "/pks/lookup?op=get&options=mr&search=$who@$D" "/pks/lookup?op=index&options=mr&search=$who@$D" \
    "/vks/v1/by-email/$who@$D" "/vks/v1/by-fingerprint/${FPR[$who]}" "/search?q=$who@$D" \
    "/.well-known/openpgpkey/hu/$h|$D" "/.well-known/openpgpkey/$D/hu/$h|openpgpkey.$D"; do
    path=${p%%|*}
    host=""
    [[ "$p" == *"|"* ]] && host=${p#*|}
    a=$(answer "$path" "$UA" "$host")
    b=$(answer "$path" "$UB" "$host")
    CODES[$who]+="${a%% *} "
    [ "$a" == "$b" ] || { check "restored store answers $path as the original" "$a" "$b"; n=$((n + 1)); }
  done
done
check "the restored store answered all 48 lookups as the original" 0 "$n"
# What they agreed on: fpr get, email get, index, VKS email, VKS fpr, search, WKD x2.
check "alice's lookups (both stores)" "200 200 200 200 200 200 200 200 " "${CODES[alice]}"
check "ceo's lookups (both stores): by fingerprint only" "200 404 404 404 200 404 404 404 " "${CODES[ceo]}"
check "erin's lookups (both stores)" "200 200 200 200 200 200 200 200 " "${CODES[erin]}"
check "restored: ceo@$D still not found" 404 "$(http_status "$UB/vks/v1/by-email/ceo@$D")"
check "restored: alice@$D found" 200 "$(http_status "$UB/vks/v1/by-email/alice@$D")"
stop_keydird

# ---------------------------------------------------------------------------
attack "4. set-mode open --yes, done through the running server (on the original)"
SERVER_PID=${PIDS[-2]}  # the server of vs, started before rs
check "admin set-mode open --yes exits 0" 0 "$(rc "$K" admin set-mode open --yes --data "$T/vs")"
answered "set-mode open --yes" "$(cat "$T/out" "$T/err")"
check "the audit log records the set-mode once" 1 "$("$K" admin log --data "$T/vs" | grep -c 'set-mode.*to=open' || true)"
check "stats says mode open" "mode open" "$("$K" stats --data "$T/vs" | grep '^mode')"
check "now ceo@$D is published (the operator said --yes)" 200 "$(http_status "$UA/vks/v1/by-email/ceo@$D")"
stop_keydird

# ---------------------------------------------------------------------------
attack "8. many admin requests: nothing piles up in the server"
start_keydird many --add-rate 0
mem() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVER_PID/status"; }
maps() { wc -l <"/proc/$SERVER_PID/maps"; }
# Warm up (malloc arenas of the worker threads), then count mappings: a
# finished worker that was never joined keeps its stack (two mappings).
for _ in $(seq 50); do "$K" stats --data "$T/many" >/dev/null; done
before_maps=$(maps)
for _ in $(seq 300); do "$K" stats --data "$T/many" >/dev/null; done
after_maps=$(maps)
answered "mappings of the server before and after 300 requests" "$before_maps $after_maps"
check "300 admin requests left fewer than 50 new mappings" 1 \
  "$(( after_maps - before_maps < 50 ? 1 : 0 ))"
threads_before=$(mem Threads)
"$K" stats --data "$T/many" >/dev/null
# The worker of the request ends after its answer: wait for it.
threads_are() { [ "$(mem Threads)" = "$1" ]; }
wait_for threads_are "$threads_before" || true
check "the server's threads are as many as before" "$threads_before" "$(mem Threads)"

attack "9. a socket somebody else bound in the data folder while no server ran"
stop_keydird
chmod 1777 "$T/many"
chmod o+x "$T"
runuser -u nobody -- "$PY" - "$T/many/admin.sock" >"$T/fake.log" 2>&1 <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(4)
while True:
    c, _ = s.accept()
    c.recv(1 << 20)
    c.sendall((json.dumps({"exit": 0, "out": "deleted\n", "err": ""}) + "\n").encode())
    c.close()
PY
PIDS+=($!)
wait_for test -S "$T/many/admin.sock" || true
check "the impostor's socket is there" 0 "$([ -S "$T/many/admin.sock" ]; echo $?)"
MFPR=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA
out=$("$K" admin delete --data "$T/many" "$MFPR" 2>&1 || true)
answered "admin delete, a fake server listening as nobody" "$out"
check "the client does not believe a socket served by another uid" 1 \
  "$(echo "$out" | grep -c 'neither root nor the owner' || true)"
stop_pid "${PIDS[-1]}"
rm -f "$T/many/admin.sock"
chmod 700 "$T/many"
chmod o-x "$T"

attack "10. a server in its own mount namespace (systemd's PrivateTmp)"
mkdir -p "$T/private"
unshare -m --propagation private bash -c \
  "mount -t tmpfs tmpfs '$T/private' && exec '$K' serve --listen 127.0.0.1:0 --data '$T/many' --add-rate 0" \
  >"$T/ns.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_serving "$T/ns.log" "$SERVER_PID"
out=$("$K" dump --full --data "$T/many" --out "$T/private/bk" 2>&1; echo "exit $?")
answered "dump --full into a folder the server sees differently" "$out"
check "refused: the server sees another folder there" 1 \
  "$(echo "$out" | grep -c 'sees another' || true)"
check "and says so with a non-zero exit" 1 "$(echo "$out" | grep -c 'exit [1-9]' || true)"
check "a folder both see works" 0 "$(rc "$K" dump --full --data "$T/many" --out "$T/bk-shared")"
stop_keydird

finish
