#!/usr/bin/env bash
# Issue #16 part 4: secrets stay out of logs and off the command line.
# Someone reading logs replays a confirmation link; a local user reads the
# operator token with ps; a guesser tries operator tokens; a plain-text mail
# relay (or a man in the middle stripping STARTTLS) waits for the SMTP login.
#   secrets.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3  # Debian's, which has aiosmtpd
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "missing python3-aiosmtpd: run deploy/setup.sh"; exit 1; }
HERE=$(cd "$(dirname "$0")" && pwd)

# The mail sink (aiosmtpd, no login): every message lands in $T/mail/new.
start_smtp_sink
link_in_mail() {  # the newest /verify/ or /manage/ link mailed to $1, on this server
  local path
  path=$(grep -l "^To: $1" "$T"/mail/new/* 2>/dev/null | xargs -r ls -t | head -n 1 |
    xargs -r grep -o '/\(verify\|manage\)/[a-z0-9]*' | head -n 1 || true)
  [ -z "$path" ] || echo "$U$path"
}
json_field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
"$PY" -c 'import json,sys; print(json.dumps({"keytext": open(sys.argv[1]).read()}))' \
  "$DATA/gpg-multi.asc" >"$T/up.json"
# upload_and_request: VKS upload of gpg-multi and a confirmation mail for
# multi@keydir.test; prints the request-verify status.
upload_and_request() {
  curl -s -H 'Content-Type: application/json' --data-binary "@$T/up.json" "$U/vks/v1/upload" >"$T/up.out"
  local token
  token=$(json_field "$T/up.out" token)
  curl -s -o "$T/rv.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data "{\"token\": \"$token\", \"addresses\": [\"multi@keydir.test\"]}" "$U/vks/v1/request-verify"
}
SMTP=(--smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from keys@keydir.test)

# --- 1. Token replay from a log ---------------------------------------------
attack "replay a confirmation (and a manage) link read from the access log"
start_keydird verified --mode verified "${SMTP[@]}" --wkd-domain keydir.test --add-rate 0 \
  --access-log "$T/access.log"
st=$(upload_and_request)
answered "request-verify" "$st"
has_link() { link_in_mail "$1" | grep -q "/$2/"; }
wait_for has_link multi@keydir.test verify || true
LINK=$(link_in_mail multi@keydir.test)
VTOKEN=${LINK##*/}
check "the confirmation mail holds a token" 1 "$([ ${#VTOKEN} -ge 20 ] && echo 1 || echo 0)"
answered "owner opens the link (GET)" "$(http_status "$LINK")"
answered "owner confirms (POST)" "$(http_status "$LINK" -X POST)"
check "manage: ask for a link" 200 "$(http_status "$U/manage" --data 'email=multi@keydir.test')"
wait_for has_link multi@keydir.test manage || true
MLINK=$(link_in_mail multi@keydir.test)
MTOKEN=${MLINK##*/}
answered "owner opens the manage link" "$(http_status "$MLINK")"
# A request the HTTP guard refuses before routing is logged too: its path
# must be redacted the same way.
OVERSIZED=$(http_status "$U/verify/$VTOKEN" -X POST -H 'Content-Length: 99999999' --max-time 3)
answered "POST /verify/<token> with Content-Length 99999999" "$OVERSIZED"
check "an oversized POST to a link is refused before routing" 413 "$OVERSIZED"
answered "metrics" "$(http_status "$U/metrics")"
curl -s "$U/metrics" >"$T/metrics.txt"
# The access log reaches the file within a second: wait for the line of the
# last request (GET /metrics, the second time); the lines before it are there.
metrics_logged() { [ "$(grep -c 'GET /metrics' "$T/access.log" 2>/dev/null || true)" -ge 2 ]; }
wait_for metrics_logged || true
# What a reader of the log can replay: nothing but a redacted path.
LOGGED=$(grep -o '/verify/[^ ]*' "$T/access.log" | head -n 1 || true)
REPLAY=$(http_status "$U$LOGGED" -g -X POST)
answered "replaying the logged path $LOGGED (POST)" "$REPLAY"
check "the logged path publishes nothing" 410 "$REPLAY"
stop_keydird
answered "access log lines of the links" "$(grep -E '/(verify|manage)/' "$T/access.log" || true)"
check "the access log has the link lines" 1 "$([ "$(grep -c '/verify/\[redacted\]' "$T/access.log")" -ge 2 ] && echo 1 || echo 0)"
check "the refused request is logged with its token redacted" 1 \
  "$(grep -c 'POST /verify/\[redacted\] 413' "$T/access.log" || true)"
check "no confirmation token in the access/error log" 0 "$(grep -c "$VTOKEN" "$T/access.log" || true)"
check "no manage token in the access/error log" 0 "$(grep -c "$MTOKEN" "$T/access.log" || true)"
check "no token in the server's output" 0 "$(cat "$T/verified.log" | grep -c -e "$VTOKEN" -e "$MTOKEN" || true)"
check "no token in /metrics" 0 "$(grep -c -e "$VTOKEN" -e "$MTOKEN" "$T/metrics.txt" || true)"

# --- 2. The operator token on the command line -------------------------------
attack "read the operator token with ps"
GOOD=$(openssl rand -hex 16)
printf '# operators of keydir.test\n%s\n' "$GOOD" >"$T/tokens"
chmod 600 "$T/tokens"
MANAGED=(--mode managed "${SMTP[@]}" --wkd-domain keydir.test --add-rate 0)
start_keydird managed "${MANAGED[@]}" --operator-token-file "$T/tokens"
ARGS=$(ps -o args= -p "$SERVER_PID")
answered "ps -o args (token file)" "$ARGS"
check "ps shows no token (token file)" 0 "$(printf '%s' "$ARGS" | grep -c "$GOOD" || true)"
check "the token from the file works" 200 \
  "$(http_status "$U/pks/add" -H "Authorization: Bearer $GOOD" --data-urlencode "keytext@$DATA/gpg-multi.asc")"
stop_keydird
ENVTOK=$(openssl rand -base64 24)
KEYDIRD_OPERATOR_TOKEN=$ENVTOK start_keydird managed-env "${MANAGED[@]}"
ARGS=$(ps -o args= -p "$SERVER_PID")
answered "ps -o args (environment)" "$ARGS"
check "ps shows no token (environment)" 0 "$(printf '%s' "$ARGS" | grep -c -F -- "$ENVTOK" || true)"
check "the token from the environment works" 200 \
  "$(http_status "$U/pks/add" -H "Authorization: Bearer $ENVTOK" --data-urlencode "keytext@$DATA/gpg-multi.asc")"
stop_keydird
start_keydird managed-cli "${MANAGED[@]}" --operator-token "$GOOD"
ARGS=$(ps -o args= -p "$SERVER_PID")
answered "ps -o args (deprecated --operator-token)" "$ARGS"
check "ps shows no token (deprecated --operator-token, scrubbed)" 0 "$(printf '%s' "$ARGS" | grep -c "$GOOD" || true)"
check "the deprecated flag warns" 1 "$(grep -c 'operator-token on the command line is deprecated' "$T/managed-cli.log")"
stop_keydird
set +e
OUT=$(KEYDIRD_OPERATOR_TOKEN=0123456789abcdef "$B/keydird" serve --listen 127.0.0.1:0 --data "$T/weak" "${MANAGED[@]}" 2>&1)
RC=$?
set -e
answered "start with a 16-character token" "exit $RC: $OUT"
check "a 16-character token is refused at start" "2 1" \
  "$RC $(printf '%s' "$OUT" | grep -c 'too short: 16 characters carry at most 64 bits; at least 128 are needed')"
printf 'operator-token = ["%s"]\n' "$GOOD" >"$T/open.toml"
chmod 644 "$T/open.toml"
set +e
OUT=$("$B/keydird" serve --listen 127.0.0.1:0 --data "$T/weak" "${MANAGED[@]}" --config "$T/open.toml" 2>&1)
RC=$?
set -e
answered "start with a token in a config file every user can read" "exit $RC: $OUT"
check "a config file with a token, open to every user, is refused" 2 "$RC"
chmod 644 "$T/tokens"
set +e
OUT=$("$B/keydird" serve --listen 127.0.0.1:0 --data "$T/weak" "${MANAGED[@]}" --operator-token-file "$T/tokens" 2>&1)
RC=$?
set -e
answered "start with a token file every user can read" "exit $RC: $OUT"
check "a token file open to every user is refused" 2 "$RC"

# --- 3. Guessing the operator token ------------------------------------------
attack "300 wrong Bearer guesses from one address"
chmod 600 "$T/tokens"
start_keydird guess "${MANAGED[@]}" --operator-token-file "$T/tokens"
n401=0 n429=0 first429=""
t0=$(date +%s)
for i in $(seq 300); do
  s=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "Authorization: Bearer guess$i$(openssl rand -hex 14)" \
    --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add")
  case $s in
    401) n401=$((n401 + 1)) ;;
    429) n429=$((n429 + 1)); [ -n "$first429" ] || first429=$i ;;
  esac
done
secs=$(($(date +%s) - t0 + 1))
answered "300 wrong guesses in ${secs} s" "$n401 x 401, $n429 x 429; the first 429 at guess $first429 (after $((first429 - 1)) x 401)"
check "429 appears" 1 "$([ "$n429" -gt 0 ] && echo 1 || echo 0)"
check "the first 429 comes after the burst (10 guesses)" 11 "$first429"
# Afterwards one guess per refill: --auth-rate 30 a minute.
check "401s: the burst and one per 2 s" 1 "$([ "$n401" -le $((10 + secs / 2 + 1)) ] && echo 1 || echo 0)"
curl -s -D "$T/h429" -o /dev/null -H "Authorization: Bearer wrong$(openssl rand -hex 16)" \
  --data-urlencode "keytext@$DATA/gpg-multi.asc" "$U/pks/add"
answered "Retry-After of a 429" "$(grep -i '^Retry-After' "$T/h429" | tr -d '\r')"
check "a 429 says when to retry" 1 "$(grep -ci '^Retry-After: [0-9]' "$T/h429")"
check "the locked-out address learns nothing from the right token" 429 \
  "$(http_status "$U/pks/add" -H "Authorization: Bearer $GOOD" --data-urlencode "keytext@$DATA/gpg-multi.asc")"
if curl -s -o /dev/null --interface 127.0.0.2 "$U/healthz"; then
  check "the right token from another address (127.0.0.2) works" 200 \
    "$(http_status "$U/pks/add" --interface 127.0.0.2 -H "Authorization: Bearer $GOOD" --data-urlencode "keytext@$DATA/gpg-multi.asc")"
else
  echo "skip  127.0.0.2 is not usable as a source address here"
fi
stop_keydird

# --- 4. The SMTP login over a relay without STARTTLS -------------------------
attack "a plain-text relay (no STARTTLS) waits for the SMTP login"
"$PY" "$HERE/plain_smtp.py" "$T/plain.port" "$T/plain.log" &
PIDS+=($!)
wait_for test -s "$T/plain.port" || { echo "FAIL  plain_smtp.py did not start"; exit 1; }
PPORT=$(cat "$T/plain.port")
PASSWORD=pw-$(openssl rand -hex 8)
printf '%s\n' "$PASSWORD" >"$T/smtp.pw"
chmod 600 "$T/smtp.pw"
B64USER=$(printf 'keys-login' | base64)
B64PLAIN=$(printf '\0keys-login\0%s' "$PASSWORD" | base64 -w0)
# The same relay named by an address that is not loopback: refused at start.
set +e
OUT=$("$B/keydird" serve --listen 127.0.0.1:0 --data "$T/smtp-x" --mode verified --wkd-domain keydir.test \
  --smtp-url smtp://192.0.2.25:25 --smtp-from keys@keydir.test --smtp-user keys-login \
  --smtp-password-file "$T/smtp.pw" --smtp-insecure-loopback 2>&1)
RC=$?
set -e
answered "start with smtp-insecure-loopback for 192.0.2.25" "exit $RC: $OUT"
check "smtp-insecure-loopback for a non-loopback relay is refused at start" "2 1" \
  "$RC $(printf '%s' "$OUT" | grep -c 'allowed only for a relay on 127.0.0.1, ::1 or localhost')"
start_keydird smtp-tls --mode verified --wkd-domain keydir.test --add-rate 0 \
  --smtp-url "smtp://127.0.0.1:$PPORT" --smtp-from keys@keydir.test --smtp-user keys-login \
  --smtp-password-file "$T/smtp.pw"
st=$(upload_and_request)
answered "request-verify through the plain relay" "$st $(tr -d '\n' <"$T/rv.out" | cut -c1-200)"
# A grace period for the negative checks below (the relay must NOT receive
# AUTH): there is no event to wait for when nothing is to come.
sleep 1
stop_keydird
answered "what the relay received" "$(cat "$T/plain.log" 2>/dev/null || true)"
answered "keydird's log" "$(grep -i 'mail relay' "$T/smtp-tls.log" || true)"
check "the mail is not sent (503)" 503 "$st"
check "the relay never received AUTH" 0 "$(grep -ci '^AUTH' "$T/plain.log" || true)"
check "the relay never saw the login or password" 0 \
  "$(grep -c -e "$B64USER" -e "$B64PLAIN" -e "$PASSWORD" "$T/plain.log" || true)"
check "keydird's log says why" 1 \
  "$(grep -c 'does not offer STARTTLS.*the login is never sent in clear text' "$T/smtp-tls.log")"
# The explicit opt-out for a relay on this host: the login goes (control: the
# relay above does take logins when a client sends them).
: >"$T/plain.log"
start_keydird smtp-loop --mode verified --wkd-domain keydir.test --add-rate 0 \
  --smtp-url "smtp://127.0.0.1:$PPORT" --smtp-from keys@keydir.test --smtp-user keys-login \
  --smtp-password-file "$T/smtp.pw" --smtp-insecure-loopback
st=$(upload_and_request)
answered "request-verify with smtp-insecure-loopback" "$st"
stop_keydird
check "with smtp-insecure-loopback on loopback the mail goes, with the login" "200 1" \
  "$st $(grep -ci '^AUTH' "$T/plain.log" || true)"

finish
