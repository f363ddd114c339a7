#!/usr/bin/env bash
# Bad configurations, as a new operator makes them, against the real keydird:
# each is refused with its exit code and one line that says what to fix, and
# nothing is created in (or damaged in) the data folder. Then a read-only
# data folder without token.key is served read-only (root only: a private
# mount namespace).
#   bad_config.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
FINISH_OK="every bad configuration was refused with its message"
B=$(cd "$B" && pwd)
K="$B/keydird"
MAX_STDERR_LINES=2 # the message, and CLI11's "Run with --help" or one warning

# Fixtures: a certificate and its key, another key, a file that is no PEM,
# an encrypted key, a file where a folder belongs, a store with keys.
F="$T/files"
mkdir -p "$F"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$F/key.pem" \
  -out "$F/cert.pem" -days 2 -subj /CN=keydir.test 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$F/other-key.pem" 2>/dev/null
openssl pkey -in "$F/key.pem" -aes256 -passout pass:secret -out "$F/encrypted-key.pem" 2>/dev/null
echo "not a PEM file" >"$F/junk.pem"
echo "a file" >"$F/afile"
"$K" import --data "$T/store" "$DATA/gpg-ed25519.asc" "$DATA/gpg-rsa3072.asc" >/dev/null 2>&1
check "the fixture store checks clean" 0 "$("$K" check --data "$T/store" >/dev/null 2>&1; echo $?)"
# A port that is taken (by a listener of this script).
INUSE=$(free_port)
python3 -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $INUSE)); s.listen(); time.sleep(300)" &
PIDS+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $INUSE))" 2>/dev/null && break
  sleep 0.1
done
PLACE="\"https://keys.example.org\""

# The table: NAME, EXIT, MESSAGE (a part of the one line), DATA (new: the
# folder does not exist and must not afterwards; store: a copy of the store,
# which must check clean and hold the same files' content afterwards; -: not
# checked), CONFIG (the file's text, \n for a line end; -: no --config), ARGS
# (the command line after `keydird serve`; --data D is added when not given).
# @F@ is the fixture folder, @INUSE@ the taken port. Fields are tab-separated.
TABLE=$(
  cat <<EOF
tls key missing	2	--tls-key @F@/nokey.pem: cannot read: No such file or directory	new	-	--tls-cert @F@/cert.pem --tls-key @F@/nokey.pem
tls cert missing (file)	2	c.toml:1:12: tls-cert = @F@/nocert.pem: cannot read: No such file	new	tls-cert = "@F@/nocert.pem"\ntls-key = "@F@/key.pem"	
tls key not PEM	2	--tls-key @F@/junk.pem: no PEM private key in it	store	-	--tls-cert @F@/cert.pem --tls-key @F@/junk.pem
tls cert not PEM	2	--tls-cert @F@/junk.pem: no PEM certificate in it	new	-	--tls-cert @F@/junk.pem --tls-key @F@/key.pem
tls key of another cert	2	--tls-key @F@/other-key.pem: not the private key of the certificate in @F@/cert.pem	new	-	--tls-cert @F@/cert.pem --tls-key @F@/other-key.pem
tls key and cert swapped	2	--tls-key @F@/cert.pem: holds a certificate, not the private key	new	-	--tls-cert @F@/cert.pem --tls-key @F@/cert.pem
tls key encrypted	2	--tls-key @F@/encrypted-key.pem: the private key is encrypted	new	-	--tls-cert @F@/cert.pem --tls-key @F@/encrypted-key.pem
tls cert without key	2	--tls-cert and --tls-key go together	new	-	--tls-cert @F@/cert.pem
bare word	2	c.toml:1:8: mode: not a number, true/false or a quoted string (strings must be quoted: mode = "verified")	new	mode = verified	
bare address	2	c.toml:2:10: listen: not a number, true/false or a quoted string (strings must be quoted: listen = "127.0.0.1:11372")	new	# keydird\nlisten = 127.0.0.1:11372	
bare path	2	c.toml:1:8: data: not a number, true/false or a quoted string (strings must be quoted: data = "/var/lib/keydir")	new	data = /var/lib/keydir	
toml syntax	2	c.toml:2:	new	add-rate = 30\n[[peer]	
unknown key, did you mean	2	c.toml:2:1: unknown setting 'add-burts' (did you mean add-burst?)	new	add-rate = 30\nadd-burts = 5	
unknown key	2	c.toml:1:1: unknown setting 'frobnicate'	new	frobnicate = 1	
negative add-rate (file)	2	c.toml:1:12: add-rate = -5: a number a minute, 0 (no limit) to 1000000	store	add-rate = -5	
negative add-rate (flag)	2	--add-rate -5: a number a minute, 0 (no limit) to 1000000	new	-	--add-rate -5
huge add-rate	2	add-rate = 1e+300: a number a minute, 0 (no limit) to 1000000	new	add-rate = 1e300	
zero add-burst	2	c.toml:1:13: add-burst = 0: 1 to 1000000	new	add-burst = 0	
huge auth-burst	2	--auth-burst 1e+09: 1 to 1000000	new	-	--auth-burst 1e9
add-rate not a number	2	c.toml:1:12: add-rate: "fast" is not a number (numbers take no quotes: add-rate = 30)	new	add-rate = "fast"	
idle-timeout not whole	2	c.toml:1:16: idle-timeout: 1.5 is not a whole number	new	idle-timeout = 1.5	
negative max-results (file)	2	c.toml:1:15: max-results = -1: 1 to 1000000	new	max-results = -1	
negative max-results (flag)	2	--max-results -1: 1 to 1000000	new	-	--max-results -1
negative row cache	2	c.toml:1:16: row-cache-mb = -1: 0 to 1048576 (MiB)	new	row-cache-mb = -1	
trusted proxy by name	2	--trusted-proxy localhost: an IP address of the proxy as keydird sees it	new	-	--trusted-proxy localhost
trusted proxy as a network	2	trusted-proxy = 127.0.0.0/8: an IP address of the proxy as keydird sees it	new	trusted-proxy = ["127.0.0.0/8"]	
zero token lifetime	2	verify-token-hours = 0: more than 0.0003 (a second) and at most 8760	new	verify-token-hours = 0	
negative idle timeout	2	--idle-timeout -1: 0 (never) to 86400 seconds	new	-	--idle-timeout -1
too many threads (file)	2	c.toml:1:11: threads: Value 100000 not in range 0 to 256	new	threads = 100000	
too many threads (flag)	2	--threads: Value 100000 not in range 0 to 256	new	-	--threads 100000
zero request timeout	2	c.toml:1:19: request-timeout: Value 0 not in range 1 to 3600	new	request-timeout = 0	
ipv6 prefix too long	2	ipv6-prefix: Value 200 not in range 1 to 128	new	ipv6-prefix = 200	
negative gossip interval	2	gossip-interval: Value -3 not in range 0 to 86400	new	gossip-interval = -3	
mode nonsense (flag)	2	--mode: nonsense not in {open,verified,managed}	new	-	--mode nonsense
mode nonsense (file)	2	c.toml:1:8: mode: nonsense not in {open,verified,managed}	new	mode = "nonsense"	
wkd-domain not a name	2	--wkd-domain bad domain!: a domain name needs at least two labels	new	-	--wkd-domain bad\ domain!
wkd-domain bad label	2	--wkd-domain -x.org: a domain label starts or ends with '-'	new	-	--wkd-domain -x.org
config not found	2	--config /nonexistent/keydird.toml: cannot read: No such file or directory	new	-	--config /nonexistent/keydird.toml
config a folder	2	--config @F@: cannot read: Is a directory	new	-	--config @F@
listen without port	2	--listen takes HOST:PORT	new	-	--listen 127.0.0.1
listen bad port	2	bad port in --listen 127.0.0.1:99999	new	-	--listen 127.0.0.1:99999
listen unknown host	2	--listen nosuchhost.invalid:11372: cannot resolve nosuchhost.invalid	new	-	--listen nosuchhost.invalid:11372
listen not this machine	2	--listen 192.0.2.1:11372: 192.0.2.1 is not an address of this machine	new	-	--listen 192.0.2.1:11372
listen port in use	2	127.0.0.1:@INUSE@ is in use	store	-	--listen 127.0.0.1:@INUSE@
data is a file	2	--data @F@/afile: not a folder	-	-	--data @F@/afile
data parent missing	2	--data @F@/no/such/data: its parent @F@/no/such does not exist	-	-	--data @F@/no/such/data
verified without smtp	2	mode verified mails confirmation links: set --smtp-url and --smtp-from	new	mode = "verified"	
verified with the placeholder url	2	c.toml:2:14: public-url = https://keys.example.org: the example's placeholder; confirmation mails would link there	new	mode = "verified"\npublic-url = $PLACE\nsmtp-url = "smtp://127.0.0.1:25"\nsmtp-from = "keys@keydir.test"	
managed without token	2	--mode managed with --managed-uploads token needs an operator token	new	-	--mode managed --wkd-domain keydir.test
EOF
)

has_text() { [[ "$2" == *"$1"* ]] && echo yes || echo no; }
sub() { local s=${1//@F@/$F}; printf '%s' "${s//@INUSE@/$INUSE}"; }
store_sums() { (cd "$1" && find . -type f ! -name 'LOG*' -print0 | sort -z | xargs -0 sha256sum); }
i=0
while IFS=$'\t' read -r name want_rc want_msg data config args; do
  [ -n "$name" ] || continue
  i=$((i + 1))
  R="$T/row$i"
  mkdir -p "$R"
  D="$R/data"
  if [ "$data" == store ]; then
    cp -a "$T/store" "$D"
    store_sums "$D" >"$R/before"
  fi
  cmd=(serve)
  if [ "$config" != - ]; then
    printf '%b\n' "$(sub "$config")" >"$R/c.toml"
    cmd+=(--config c.toml)
  fi
  eval "extra=($(sub "$args"))"
  cmd+=("${extra[@]}")
  [[ " ${cmd[*]} " == *" --data "* ]] || cmd+=(--data "$D")
  [[ " ${cmd[*]} " == *" --listen "* || "$config" == *listen* ]] || cmd+=(--listen 127.0.0.1:0)
  rc=0
  (cd "$R" && timeout 20 "$K" "${cmd[@]}" >"$R/out" 2>"$R/err") || rc=$?
  msg=$(sub "$want_msg")
  lines=$(wc -l <"$R/err")
  if [ "$rc" == "$want_rc" ] && grep -qF -- "$msg" "$R/err" && [ "$lines" -le "$MAX_STDERR_LINES" ] &&
    ! grep -qE 'error:[0-9A-F]{8}|\.c:[0-9]+:|rocksdb:' "$R/err"; then
    echo "ok    $name: $(grep -F -- "$msg" "$R/err" | head -1)"
  else
    echo "FAIL  $name: expected exit $want_rc and one line with [$msg]; got exit $rc, $lines line(s):"
    sed 's/^/        /' "$R/err" | head -5
    fails=$((fails + 1))
  fi
  case "$data" in
    new) check "$name: no data folder made" no "$([ -e "$D" ] && echo yes || echo no)" ;;
    store)
      check "$name: the store is unchanged" "" "$(store_sums "$D" | diff - "$R/before")"
      check "$name: the store checks clean" 0 "$("$K" check --data "$D" >/dev/null 2>&1; echo $?)"
      ;;
  esac
done <<<"$TABLE"
check "every row ran" 1 "$([ "$i" -ge 40 ] && echo 1 || echo 0)"

# A secret written as a bare word: the hint to quote it never repeats it (the
# message goes to the journal, which more people read than the config file).
for key in smtp-password operator-token; do
  printf '%s = Hunter2Secret0123456789abcdef\n' "$key" >"$T/secret-$key.toml"
  chmod 600 "$T/secret-$key.toml"
  rc=0
  err=$("$K" serve --config "$T/secret-$key.toml" --data "$T/secret-data" --listen 127.0.0.1:0 2>&1) || rc=$?
  check "$key as a bare word: refused, the hint says quote it without the value" \
    "2 yes no" "$rc $(has_text "$key = \"...\"" "$err") $(has_text Hunter2Secret "$err")"
done

# The store's own refusals (storage/): a data folder keydird's user cannot
# write or read, run as nobody (root only); and no RocksDB log lines in
# a command's output.
if [ "$(id -u)" == 0 ] && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null; then
  S="$T/perm"
  mkdir -p "$S"
  cp -a "$T/store" "$S/data"
  chmod 755 "$T" "$S"
  chmod -R a+rX "$S/data"
  store_sums "$S/data" >"$S/before"
  as_nobody() { (cd / && timeout 20 setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"); }
  rc=0
  as_nobody "$K" serve --data "$S/data" --listen 127.0.0.1:0 >"$S/out" 2>"$S/err" || rc=$?
  check "data folder not writable: exit 1" 1 "$rc"
  check "data folder not writable: one line naming LOCK" "1 1" \
    "$(wc -l <"$S/err") $(grep -cF "cannot write $S/data/LOCK: permission denied" "$S/err" || true)"
  chmod 700 "$S/data"
  rc=0
  as_nobody "$K" serve --data "$S/data" --listen 127.0.0.1:0 >"$S/out" 2>"$S/err" || rc=$?
  check "data folder not readable: exit 1, one line" "1 1" "$rc $(wc -l <"$S/err")"
  check "data folder not readable: says permission denied" 1 "$(grep -c 'permission denied' "$S/err" || true)"
  check "the refused store is unchanged" "" "$(store_sums "$S/data" | diff - "$S/before")"
else
  echo "skip  data folder permissions: needs root (to run keydird as nobody)"
fi
"$K" stats --data "$T/store" >"$T/stats.out" 2>"$T/stats.err"
check "stats: no rocksdb lines in its output" 0 "$(cat "$T/stats.out" "$T/stats.err" | grep -c 'rocksdb:' || true)"

# Warnings that do not refuse: the placeholder in open mode, an expired
# certificate. keydird starts, and says which option to set.
warn_row() { # NAME MESSAGE ARGS...
  local name=$1 msg=$2
  shift 2
  local R="$T/warn-$RANDOM"
  mkdir -p "$R"
  (cd "$R" && timeout 3 "$K" serve --data "$R/data" --listen 127.0.0.1:0 "$@" >"$R/out" 2>"$R/err") || true
  check "$name: starts" 1 "$(grep -c 'keydird: serving' "$R/out" || true)"
  check "$name: warns [$msg]" 1 "$(grep -cF -- "$msg" "$R/err" || true)"
}
warn_row "placeholder url in open mode" \
  "--public-url https://keys.example.org: the example's placeholder; set public-url" \
  --mode open --public-url https://keys.example.org

# A read-only data folder without token.key (a snapshot of an imported
# store): served read-only, lookups answer, uploads get 503.
if unshare --mount true 2>/dev/null; then
  RO="$T/ro"
  mkdir -p "$RO/mnt"
  cat >"$RO/inner.sh" <<EOF
set -e
mount -t tmpfs -o size=64m tmpfs "$RO/mnt"
cp -a "$T/store" "$RO/mnt/data"
rm -f "$RO/mnt/data/token.key"
mount -o remount,ro "$RO/mnt"
PORT=\$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$K" serve --data "$RO/mnt/data" --listen 127.0.0.1:\$PORT >"$RO/out" 2>"$RO/err" &
PID=\$!
for _ in \$(seq 100); do grep -q serving "$RO/out" 2>/dev/null && break; sleep 0.1; done
curl -s -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:\$PORT/pks/lookup?op=index&search=keydir.test" >"$RO/lookup" || true
curl -s -o /dev/null -w '%{http_code}\n' --data-urlencode "keytext@$DATA/gpg-multi.asc" "http://127.0.0.1:\$PORT/pks/add" >"$RO/upload" || true
kill \$PID; wait \$PID || true
EOF
  unshare --mount bash "$RO/inner.sh" || true
  check "read-only, no token.key: serves" 1 "$(grep -c 'keydird: serving' "$RO/out" 2>/dev/null || true)"
  check "read-only, no token.key: says so in one line" 1 \
    "$(cat "$RO/out" "$RO/err" 2>/dev/null | grep -c 'is read-only: lookups are served.*no token.key' || true)"
  check "read-only: a lookup answers 200" 200 "$(cat "$RO/lookup" 2>/dev/null)"
  check "read-only: an upload answers 503" 503 "$(cat "$RO/upload" 2>/dev/null)"
else
  echo "skip  read-only data folder: needs root for a private mount namespace"
fi
finish
