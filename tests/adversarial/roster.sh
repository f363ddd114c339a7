#!/usr/bin/env bash
# The operator's roster (issue #20): `keydird admin list` and `keydird admin
# roster` against the real keydird, on a verified store holding keys in two
# domains and every state (published by import --publish-addresses,
# withheld by import without it and by admin unpublish, pending: a
# confirmation mail is out), with hostile user IDs:
#   1. filters by domain, state and name (any case); the row count is exact
#   2. paging with --after gives every row exactly once
#   3. CSV: RFC 4180, a header, the formula =HYPERLINK(...) neutralised with
#      a leading ' (no cell starts with = + - @)
#   4. text: bidirectional overrides and C1 controls shown escaped, never raw;
#      a user ID with a newline has no address (no row)
#   5. JSON: one object, rows and the next cursor
#   6. --limit bounds (10000 accepted, 10001 refused), a bad cursor refused
#   7. the roster file is mode 0600 (umask 022), online and offline
#   8. online (through the admin socket) and offline give the same rows
#   9. a used confirmation link: the address leaves "pending" for "published"
#   roster.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3  # Debian's, which has aiosmtpd
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "missing python3-aiosmtpd: run deploy/setup.sh"; exit 1; }
K="$B/keydird"
D=corp.test
umask 022

G=$T/gnupg-roster
mkdir -m 700 "$G"
gg() { GNUPGHOME=$G gpg --batch --passphrase '' --pinentry-mode loopback "$@" 2>/dev/null; }
declare -A FPR
# newkey WHO UID: an ed25519 key; FPR[WHO].
newkey() {
  gg --quick-gen-key "$2" ed25519 default never
  FPR[$1]=$(GNUPGHOME=$G gpg --with-colons --list-keys "=$2" 2>/dev/null |
    awk -F: '/^fpr/{print $10; exit}')
}
newkey alice "Alice Example <alice@$D>"
gg --quick-add-uid "${FPR[alice]}" "Alice <alice@gmail.test>"
newkey bob "Bob Builder <bob@$D>"
newkey mallory "=HYPERLINK(\"http://x\") <mallory@$D>"
newkey eve "$(printf 'Eve \xe2\x80\xae\xc2\x85 evil\\ <eve@%s>' "$D")"
newkey carol "Carol <carol@$D>"
newkey dave "Dave <dave@other.test>"
newkey nl "$(printf 'New\nLine <nl@%s>' "$D")"
for i in $(seq -w 1 20); do newkey "p$i" "Person $i <p$i@$D>"; done
published=(alice bob mallory eve)
for i in $(seq -w 1 20); do published+=("p$i"); done
exp() { local w out=$1; shift; for w in "$@"; do gg --export "${FPR[$w]}"; done >"$out"; }
exp "$T/published.pgp" "${published[@]}"
exp "$T/withheld.pgp" carol dave nl
gg --armor --export "${FPR[carol]}" >"$T/carol.asc"
TOTAL=27  # 24 published keys (alice has two addresses) + carol + dave; nl has no address

# rc CMD...: the exit code of CMD, its stdout and stderr in $T/out and $T/err.
rc() { "$@" >"$T/out" 2>"$T/err" && echo 0 >"$T/rc" || echo $? >"$T/rc"; cat "$T/rc"; }
# rows FILE: the data lines of a text listing (no header, no "next:").
rows() { grep -v -e '^FINGERPRINT ' -e '^next: ' "$1" | grep -c . || true; }
list() { "$K" admin list --data "$T/s" "$@" 2>>"$T/list.err"; }

attack "0. a verified store: imports, an operator's unpublish, a pending confirmation"
check "import with --publish-addresses" 0 \
  "$(rc "$K" import --data "$T/s" --mode verified --publish-addresses "$T/published.pgp")"
check "import without it" 0 "$(rc "$K" import --data "$T/s" "$T/withheld.pgp")"
check "admin unpublish bob (offline)" 0 \
  "$(rc "$K" admin unpublish --data "$T/s" "${FPR[bob]}" "bob@$D")"
start_smtp_sink
start_keydird s --smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from "keys@$D" --add-rate 0
"$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$T/carol.asc" >"$T/carol.json"
curl -s -H 'Content-Type: application/json' --data-binary "@$T/carol.json" \
  "$U/vks/v1/upload" >"$T/carol.up"
vks_token=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$T/carol.up")
check "a confirmation mail for carol@$D is requested" 200 \
  "$(http_status "$U/vks/v1/request-verify" -H 'Content-Type: application/json' \
    --data "{\"token\": \"$vks_token\", \"addresses\": [\"carol@$D\"]}")"

attack "1. filters (online, through the admin socket)"
check "admin list --limit 10000: every row" 0 "$(rc list --limit 10000)"
cp "$T/out" "$T/all.txt"
answered "admin list (first rows)" "$(head -n 4 "$T/all.txt")"
check "  $TOTAL rows" "$TOTAL" "$(rows "$T/all.txt")"
check "  no next cursor after the last page" 0 "$(grep -c '^next: ' "$T/all.txt" || true)"
check "  ran inside the server" 1 "$(grep -c 'admin socket: uid [0-9]*: admin list' "$T/s.log" || true)"
list --domain other.test --limit 10000 >"$T/o"
check "--domain other.test: dave only" "1 dave@other.test" \
  "$(rows "$T/o") $(awk 'NR>1{print $3}' "$T/o")"
list --domain OTHER.test --domain gmail.test --limit 10000 >"$T/o"
check "--domain twice (any case): dave and alice@gmail.test" 2 "$(rows "$T/o")"
list --state pending >"$T/o"
check "--state pending: carol" "1 carol@$D" "$(rows "$T/o") $(awk 'NR>1{print $3}' "$T/o")"
list --state withheld >"$T/o"
check "--state withheld: bob and dave" "bob@$D dave@other.test" \
  "$(awk 'NR>1{print $3}' "$T/o" | sort | tr '\n' ' ' | sed 's/ $//')"
list --state published --limit 10000 >"$T/o"
check "--state published: 24" 24 "$(rows "$T/o")"
list --match ALICE >"$T/o"
check "--match ALICE: both of alice's addresses" 2 "$(rows "$T/o")"
list --match "alice example" >"$T/o"
check "--match 'alice example' (a name, any case): one row" "1 alice@$D" \
  "$(rows "$T/o") $(awk 'NR>1{print $3}' "$T/o")"
list --match "person 1" --domain "$D" --state published >"$T/o"
check "--match 'person 1' with a domain and a state: Person 10..19" 10 "$(rows "$T/o")"
list --match nobody-at-all >"$T/o"
check "--match nothing: no row" 0 "$(rows "$T/o")"

attack "2. paging: every row once"
after=()
pages=0
: >"$T/paged"
while :; do
  list --limit 4 "${after[@]}" >"$T/page" 2>/dev/null
  grep -v -e '^FINGERPRINT ' -e '^next: ' "$T/page" | awk '{print $1, $3}' >>"$T/paged"
  pages=$((pages + 1))
  next=$(sed -n 's/^next: --after //p' "$T/page")
  [ -n "$next" ] && [ "$pages" -lt 50 ] || break
  after=(--after "$next")
done
check "7 pages of 4" 7 "$pages"
check "  $TOTAL rows in all" "$TOTAL" "$(wc -l <"$T/paged")"
check "  each once" "$TOTAL" "$(sort -u "$T/paged" | wc -l)"
check "  the same rows as one page" "$(awk 'NR>1{print $1, $3}' "$T/all.txt")" "$(cat "$T/paged")"
check "a cursor is shell-safe (hex and :)" "" "$(printf '%s' "$next" | tr -d '0-9A-Fa-f:')"

attack "3. CSV: formula injection"
check "admin list --format csv" 0 "$(rc list --format csv --limit 10000)"
cp "$T/out" "$T/all.csv"
answered "the CSV row of mallory" "$(grep "mallory@$D" "$T/all.csv")"
csvq() {
  "$PY" - "$T/all.csv" "$1" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
head, body = rows[0], rows[1:]
q = sys.argv[2]
if q == 'header':
    print(','.join(head))
elif q == 'count':
    print(len(body))
elif q == 'width':
    print(sorted({len(r) for r in rows}))
elif q == 'formula':
    print(sum(1 for r in body for c in r if c[:1] in ('=', '+', '-', '@')))
else:
    print([r[2] for r in body if r[1] == q][0])
EOF
}
check "  a header" "fingerprint,address,name,state,key_created,key_expires,revoked,published_at" \
  "$(csvq header)"
check "  $TOTAL records of 8 fields" "$TOTAL [8]" "$(csvq count) $(csvq width)"
check "  the formula is text" "'=HYPERLINK(\"http://x\")" "$(csvq "mallory@$D")"
check "  no cell starts with = + - @" 0 "$(csvq formula)"
check "  CRLF line ends (RFC 4180)" "$((TOTAL + 1))" "$(grep -c $'\r$' "$T/all.csv")"

attack "4. text: hostile user IDs shown escaped"
answered "eve's row" "$(grep "eve@$D" "$T/all.txt")"
check "the right-to-left override and the C1 control are escaped" 1 \
  "$(grep -cF 'Eve \u{202e}\u{0085} evil\\' "$T/all.txt" || true)"
for f in all.txt all.csv; do
  check "  $f holds no raw U+202E" 0 "$(LC_ALL=C grep -c $'\xe2\x80\xae' "$T/$f" || true)"
  check "  $f holds no raw C1 control" 0 "$(LC_ALL=C grep -c $'\xc2[\x80-\x9f]' "$T/$f" || true)"
done
check "the user ID with a newline has no address: no row" 0 \
  "$(grep -c "nl@$D" "$T/all.txt" || true)"
check "  one line a row (and the header)" "$((TOTAL + 1))" "$(wc -l <"$T/all.txt")"

attack "5. JSON"
check "admin list --format json --limit 5" 0 "$(rc list --format json --limit 5)"
jq_() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
check "  5 rows and a next cursor" "5 True" "$(jq_ "$T/out" "len(d['rows']), d['next'] is not None" |
  tr -d '(),')"
check "  the cursor is the text listing's" "$(list --limit 5 | sed -n 's/^next: --after //p')" \
  "$(jq_ "$T/out" "d['next']")"
check "  ASCII only" 0 "$(LC_ALL=C grep -c '[^ -~]' "$T/out" || true)"
list --format json --limit 10000 >"$T/all.json"
check "  all rows, next null" "$TOTAL None" "$(jq_ "$T/all.json" "len(d['rows']), d['next']" |
  tr -d '(),')"
check "  eve's name decodes to the user ID's text" "Eve $(printf '\xe2\x80\xae\xc2\x85') evil\\" \
  "$(jq_ "$T/all.json" "[r['name'] for r in d['rows'] if r['address'].startswith('eve@')][0]")"

attack "6. bounds"
check "--limit 10000 is accepted" 0 "$(rc list --limit 10000)"
check "--limit 10001 is refused (usage)" 2 "$(rc list --limit 10001)"
check "--limit 0 is refused (usage)" 2 "$(rc list --limit 0)"
check "a mangled cursor is refused (usage)" 2 \
  "$(rc "$K" admin list --data "$T/s" --after 'zz:$(reboot)')"
answered "--after zz:..." "$(cat "$T/err")"
check "--state other is refused (usage)" 2 "$(rc list --state deleted)"

attack "7. the roster file"
check "admin roster --out (online)" 0 "$(rc "$K" admin roster --data "$T/s" --out "$T/r.csv")"
answered "admin roster" "$(cat "$T/err")"
check "  mode 0600 (umask 022)" 600 "$(stat -c %a "$T/r.csv")"
check "  the same rows as admin list --format csv" "$(cat "$T/all.csv")" "$(cat "$T/r.csv")"
echo old >"$T/r.json"
chmod 644 "$T/r.json"
check "admin roster --format json over an existing file" 0 \
  "$(rc "$K" admin roster --data "$T/s" --format json --out "$T/r.json")"
check "  mode 0600, the file replaced" "600 $TOTAL" \
  "$(stat -c %a "$T/r.json") $(jq_ "$T/r.json" "len(d['rows'])")"
check "  no temporary file left" 0 "$(find "$T" -maxdepth 1 -name '.roster.*' | wc -l)"
echo victim >"$T/victim"
ln -s "$T/victim" "$T/r3.csv"
check "admin roster --out over a planted symlink" 0 "$(rc "$K" admin roster --data "$T/s" --out "$T/r3.csv")"
check "  the symlink is replaced by the roster, never followed" "file victim" \
  "$([ -L "$T/r3.csv" ] && echo link || echo file) $(cat "$T/victim")"

attack "9. a used confirmation link"
mail=$(grep -l "^To: carol@$D" "$T"/mail/new/* | head -n 1)
link=$(grep -o '/verify/[a-z0-9]*' "$mail" | head -n 1)
check "carol follows her link" 200 "$(http_status "$U$link" -X POST)"
list --match carol >"$T/o"
check "  carol@$D is published now, with a time" "published 1" \
  "$(awk 'NR>1{print $2}' "$T/o") $(awk 'NR>1{print $7}' "$T/o" | grep -c T)"
curl -s -X POST "$U$link" >"$T/again.html"
check "  followed again, it says the address is already published (and since when)" 1 \
  "$(grep -c "carol@$D is already published with the key ${FPR[carol]} since 20" "$T/again.html" || true)"
list --state pending >"$T/o"
check "  nothing is pending any more" 0 "$(rows "$T/o")"
list --limit 10000 >"$T/all.txt"
list --format csv --limit 10000 >"$T/all.csv"

attack "8. online and offline agree"
stop_keydird
check "admin list offline" 0 "$(rc list --limit 10000)"
check "  the same rows as online" "$(cat "$T/all.txt")" "$(cat "$T/out")"
check "admin list --format csv offline" 0 "$(rc list --format csv --limit 10000)"
check "  the same CSV as online" "$(cat "$T/all.csv")" "$(cat "$T/out")"
check "admin roster offline" 0 "$(rc "$K" admin roster --data "$T/s" --out "$T/r2.csv")"
check "  mode 0600" 600 "$(stat -c %a "$T/r2.csv")"
check "  the same file as the CSV listing" "$(cat "$T/all.csv")" "$(cat "$T/r2.csv")"

finish "the roster is complete, paged exactly, and safe to open"
