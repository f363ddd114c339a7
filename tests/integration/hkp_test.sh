#!/usr/bin/env bash
# End-to-end HKP test: the real keydird on a free loopback port with a
# temporary data folder, driven by real gpg (temporary GNUPGHOME, dirmngr),
# sq and curl.   hkp_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=${1:?usage: hkp_test.sh BUILD_DIR DATA_DIR}
DATA=${2:?usage: hkp_test.sh BUILD_DIR DATA_DIR}
source "$(dirname "$0")/../support/harness.sh"
use_temp_dir

"$B/keydird" import --data "$T/data" "$DATA"/gpg-*.asc >/dev/null 2>&1 || true
# A config file (the documented example, adjusted), overridden by flags.
sed -e 's|^listen = .*|listen = "127.0.0.1:11371"|' -e 's|^add-rate = .*|add-rate = 6000|' \
  -e 's|^add-burst = .*|add-burst = 1000|' -e 's|^mode = .*|mode = "open"|' -e 's|^max-results = .*|max-results = 50|' \
  "$(dirname "$0")/../../deploy/config/keydird.toml.example" >"$T/keydird.toml"
printf 'lisen = "x"\n' >"$T/typo.toml"
check "config: unknown key refused" 2 "$("$B/keydird" serve --config "$T/typo.toml" >/dev/null 2>&1; echo $?)"
start_keydird server --config "$T/keydird.toml" --data "$T/data" --idle-timeout 2
echo "keydird on $U"
check "config: wkd-domain from the file" 200 "$(curl -s -o /dev/null -w '%{http_code}' \
  -H 'Host: example.org' "$U/.well-known/openpgpkey/policy")"

G="timeout 30 gpg --batch --no-tty"

# --- gpg: send, receive by fingerprint and key ID, search, refresh --------
A=$(gpg_home alice)
GNUPGHOME=$A $G --passphrase '' --pinentry-mode loopback \
  --quick-gen-key "Alice Example <alice@keydir.test>" ed25519 default never 2>/dev/null
FPR=$(GNUPGHOME=$A gpg --with-colons --list-keys alice@keydir.test | awk -F: '/^fpr/{print $10; exit}')
check "gpg --send-keys" 0 "$(GNUPGHOME=$A $G --send-keys "$FPR" </dev/null >/dev/null 2>&1; echo $?)"
R=$(gpg_home bob)
check "gpg --recv-keys FPR" 0 "$(GNUPGHOME=$R $G --recv-keys "$FPR" </dev/null >/dev/null 2>&1; echo $?)"
check "received key equals sent key" \
  "$(GNUPGHOME=$A gpg --export "$FPR" | "$B/keydir" inspect --json - | grep -c '"fingerprint"')" \
  "$(GNUPGHOME=$R gpg --export "$FPR" | "$B/keydir" inspect --json - | grep -c '"fingerprint"')"
check "received user ID" "Alice Example <alice@keydir.test>" \
  "$(GNUPGHOME=$R gpg --with-colons --list-keys "$FPR" | awk -F: '/^uid/{print $10; exit}')"
R2=$(gpg_home carol)
check "gpg --recv-keys 0xKEYID" 0 \
  "$(GNUPGHOME=$R2 $G --recv-keys "0x${FPR:24}" </dev/null >/dev/null 2>&1; echo $?)"
check "gpg --search-keys by address" 1 \
  "$(GNUPGHOME=$R2 $G --search-keys alice@keydir.test </dev/null 2>&1 | grep -c 'Alice Example')"
check "gpg --search-keys by name" 1 \
  "$(GNUPGHOME=$R2 $G --search-keys "keydir test multi" </dev/null 2>&1 | grep -c 'multi@keydir.test')"

# A revocation, uploaded alone, reaches the client through --refresh-keys.
# The index answer is asked twice first, so the answer cache holds it: the
# upload must make it stale at once.
IDX="$U/pks/lookup?op=index&options=mr&search=0x$FPR"
pub_flags() { curl -s "$IDX" | awk -F: '/^pub:/ {print $7}'; }
check "index before the revocation: not revoked" "" "$(pub_flags)"
check "index asked again: same answer" "" "$(pub_flags)"
sed 's/^:-----BEGIN/-----BEGIN/' "$A/openpgp-revocs.d/$FPR.rev" >"$T/alice.rev"
check "POST bare revocation" 200 "$(curl -s -o "$T/add.out" -w '%{http_code}' \
  --data-urlencode "keytext@$T/alice.rev" "$U/pks/add")"
check "revocation answer" "updated $FPR" "$(head -n 1 "$T/add.out")"
check "index right after the revocation: revoked (no stale cached answer)" r "$(pub_flags)"
GNUPGHOME=$R $G --refresh-keys </dev/null >/dev/null 2>&1 || true
check "gpg --refresh-keys shows the key revoked" r \
  "$(GNUPGHOME=$R gpg --with-colons --list-keys "$FPR" | awk -F: '/^pub/{print $2}')"

# --- sq as a second client ----------------------------------------------
SQ="timeout 30 sq keyserver -p insecure --server hkp://127.0.0.1:$PORT"
check "sq keyserver send" 0 "$($SQ send "$DATA/sq-cv25519.asc" >/dev/null 2>&1; echo $?)"
SQFPR=$("$B/keydir" inspect --json "$DATA/sq-cv25519.asc" | sed -n 's/.*"fingerprint": "\([0-9A-F]\{40\}\)".*/\1/p' | head -1)
check "sq keyserver get" 1 "$($SQ get "$SQFPR" 2>/dev/null | grep -c 'BEGIN PGP PUBLIC KEY BLOCK')"

# --- curl: every status and format --------------------------------------
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "op=get by fingerprint" 200 "$(code "$U/pks/lookup?op=get&search=0x$FPR")"
check "op=get content type" "application/pgp-keys" \
  "$(curl -s -o /dev/null -w '%{content_type}' "$U/pks/lookup?op=get&search=0x$FPR")"
check "op=get miss" 404 "$(code "$U/pks/lookup?op=get&search=0x0123456789ABCDEF0123456789ABCDEF01234567")"
check "HEAD op=get" 200 "$(code -I "$U/pks/lookup?op=get&search=0x$FPR")"
check "unknown op" 501 "$(code "$U/pks/lookup?op=frobnicate&search=x")"
check "missing search" 400 "$(code "$U/pks/lookup?op=get")"
check "search too long" 400 "$(code "$U/pks/lookup?op=get&search=$(head -c 300 /dev/zero | tr '\0' a)")"
check "bad escape" 400 "$(code "$U/pks/lookup?op=get&search=%zz")"
check "wrong method on lookup" 405 "$(code -X DELETE "$U/pks/lookup?op=get&search=x")"
check "GET on add" 405 "$(code "$U/pks/add")"
check "unknown path" 404 "$(code "$U/nothing")"
check "healthz" 200 "$(code "$U/healthz")"
check "stats mr is JSON" 1 "$(curl -s "$U/pks/lookup?op=stats&options=mr" | grep -c '"certificates"')"
check "stats has change rates" 1 "$(curl -s "$U/pks/lookup?op=stats&options=mr" | grep -cE '"new_per_hour":[0-9.]+')"
check "add: secret key" 422 "$(code --data-urlencode "keytext@$DATA/gpg-secret-key.asc" "$U/pks/add")"
check "add: garbage" 400 "$(code --data-urlencode "keytext=hello world" "$U/pks/add")"
check "add: no keytext" 400 "$(code --data "other=1" "$U/pks/add")"
check "add: wrong content type" 415 "$(code -H 'Content-Type: application/json' --data '{}' "$U/pks/add")"
check "add: tampered key" 422 "$(code --data-urlencode "keytext@$DATA/tampered-sig.pgp" "$U/pks/add")"
head -c 5000000 /dev/zero | tr '\0' a >"$T/big"
check "add: oversized body" 413 "$(code --data-urlencode "keytext@$T/big" "$U/pks/add")"
check "add: multipart" 200 "$(code -F "keytext=<$DATA/gpg-rsa2048.asc" "$U/pks/add")"

# Machine-readable index: exactly GnuPG's doc/KEYSERVER grammar.
curl -s "$U/pks/lookup?op=index&options=mr&search=multi@keydir.test" >"$T/index"
check "mr info line" "info:1:1" "$(head -n 1 "$T/index")"
check "mr pub line" 1 "$(grep -cE '^pub:[0-9A-F]{40}:22:255:[0-9]+::$' "$T/index")"
check "mr revoked uid flag" "uid:keydir test multi gone <gone@keydir.test>:::r" \
  "$(grep 'gone@' "$T/index")"
# A user ID with ':', '%' and UTF-8, uploaded by gpg, listed with %XX escapes.
GNUPGHOME=$A $G --quick-add-uid "$FPR" "Zoë: 100% <zoe@keydir.test>" 2>/dev/null
GNUPGHOME=$A $G --send-keys "$FPR" </dev/null >/dev/null 2>&1
check "mr escaping" "uid:Zo%C3%AB%3A 100%25 <zoe@keydir.test>:::" \
  "$(curl -s "$U/pks/lookup?op=index&options=mr&search=zoe@keydir.test" | grep '^uid:Zo')"
check "index results header" 1 "$(curl -sI "$U/pks/lookup?op=index&options=mr&search=multi@keydir.test" | grep -ci '^X-HKP-Results-Count: 1')"

# HKPv2.
MULTI=$(curl -s "$U/pks/lookup?op=index&options=mr&search=multi@keydir.test" | sed -n 's/^pub:\([0-9A-F]*\):.*/\1/p')
check "v2 by-vfingerprint" "200 application/pgp-keys;armor=no" \
  "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$U/pks/v2/certs/by-vfingerprint/04$MULTI")"
check "v2 by-vfingerprint, Hockeypuck form" 200 "$(code "$U/pks/v2/certs/by-vfingerprint/04/$MULTI")"
check "v2 answer is the binary certificate" "$MULTI" "$(curl -s "$U/pks/v2/certs/by-keyid/${MULTI:24}" \
  | "$B/keydir" inspect --json - | sed -n 's/.*"fingerprint": "\([0-9A-F]\{40\}\)".*/\1/p' | head -1)"
check "v2 by-identity (address)" 200 "$(code "$U/pks/v2/certs/by-identity/multi@keydir.test")"
check "v2 by-identity (exact user ID, any case)" 200 \
  "$(code "$U/pks/v2/certs/by-identity/KEYDIR%20test%20multi%20%3Cmulti@keydir.test%3E")"
check "v2 by-identity (not exact)" 404 "$(code "$U/pks/v2/certs/by-identity/keydir%20test%20multi")"
check "v2 bad version octet" 400 "$(code "$U/pks/v2/certs/by-vfingerprint/05$MULTI")"
check "v2 index is JSON with RFC 3339 times" 1 \
  "$(curl -s "$U/pks/v2/index/multi@keydir.test" | grep -cE '"creation":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"')"
check "v2 OPTIONS" 204 "$(code -X OPTIONS "$U/pks/v2/certs")"
check "v2 upload (binary)" 1 "$(curl -s -H 'Content-Type: application/octet-stream' \
  --data-binary @"$DATA/gpg-nistp384.asc" "$U/pks/v2/certs" | grep -cE '"(inserted|ignored)":\["[0-9A-F]{40}"\]')"
check "v2 upload (garbage)" 422 "$(code --data-binary garbage "$U/pks/v2/certs")"

# Many idle connections do not starve an active client.
check "500 idle connections, active client served" 200 "$(python3 - "$PORT" <<'PY'
import socket, subprocess, sys
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(500)]
r = subprocess.run(["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                    f"http://127.0.0.1:{port}/healthz"], capture_output=True, text=True)
print(r.stdout)
PY
)"

# An idle keep-alive connection is closed after --idle-timeout (2 s here).
check "idle keep-alive connection closed" "open closed" "$(python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
s.recv(4096)
time.sleep(0.5)  # idle, but less than the timeout: the connection stays open
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
first = "open" if s.recv(4096) else "closed"
# Then idle: the server closes it once the 2 s pass (in wall time); recv
# returns at the close, or times out at 5.5 s (the former fixed wait + 1 s).
s.settimeout(5.5)
try:
    second = "closed" if not s.recv(4096) else "open"
except ConnectionResetError:
    second = "closed"
except socket.timeout:
    second = "open"
print(first, second)
PY
)"

# Prometheus metrics.
curl -s "$U/metrics" >"$T/metrics"
check "metrics: lookups counted" 1 "$(grep -cE '^keydir_http_requests_total\{route="lookup_get",status="2xx"\} [1-9]' "$T/metrics")"
check "metrics: uploads by outcome" 1 "$(grep -cE '^keydir_uploads_total\{outcome="new"\} [1-9]' "$T/metrics")"
check "metrics: histogram" 1 "$(grep -cE '^keydir_http_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]' "$T/metrics")"
check "metrics: certificates" 1 "$(grep -cE '^keydir_certificates [1-9]' "$T/metrics")"
# The version: one line from each program, the same in /metrics and the pages.
V=$("$B/keydird" --version)
check "keydird --version: one line, program and version" 1 \
  "$(grep -cE '^keydird [0-9]+\.[0-9]+\.[0-9]+( \([A-Za-z0-9._+~-]+\))?$' <<<"$V")"
check "keydir --version: the same version" "${V/keydird/keydir}" "$("$B/keydir" --version)"
VER=$(cut -d' ' -f2 <<<"$V")
check "metrics: keydir_build_info" 1 "$(grep -cE "^keydir_build_info\{version=\"$VER\",git=\"[^\"]*\"\} 1$" "$T/metrics")"
check "pages: the version in the footer" 1 "$(curl -s "$U/about" | grep -c "keydir $VER</p></footer>")"
check "metrics: answer cache hits" 1 \
  "$(grep -cE '^keydir_answer_cache_lookups_total\{result="hit"\} [1-9]' "$T/metrics")"

# Connections: HTTP/1.1 stays open without asking; HTTP/1.0 is closed.
check "HTTP/1.1 keep-alive" 1 "$(curl -sv "$U/healthz" "$U/healthz" 2>&1 | grep -c 'Re-using existing connection')"
check "HTTP/1.0 closes" 200 "$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
data = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    data += d
print(data.split(b" ")[1].decode())
PY
)"

# HKPS: a test CA and a server certificate for localhost / 127.0.0.1.
make_test_ca "$T" "localhost" "DNS:keys.keydir.test,DNS:localhost,IP:127.0.0.1" tls.pem tls.key
stop_keydird
start_keydird tls --data "$T/data" --tls-cert "$T/tls.pem" --tls-key "$T/tls.key" \
  --add-rate 1 --add-burst 2 --trusted-proxy 127.0.0.1
TPORT=$PORT
check "HKPS: curl with the test CA" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" "https://127.0.0.1:$TPORT/pks/lookup?op=get&search=0x$FPR")"
check "HKPS: curl without the CA is refused" 60 \
  "$(curl -s -o /dev/null "https://127.0.0.1:$TPORT/healthz"; echo $?)"
check "HKPS: plain HTTP on the TLS port gets no answer" 000 \
  "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TPORT/healthz")"
check "HKPS: sq keyserver get" 1 "$(SSL_CERT_FILE=$T/ca.pem timeout 30 sq keyserver \
  --server "hkps://localhost:$TPORT" get "$SQFPR" 2>/dev/null | grep -c 'BEGIN PGP PUBLIC KEY BLOCK')"
# gpg over HKPS: dirmngr verifies TLS only against a host name it did not
# resolve itself (for localhost or an IP it says "hostname missing"), so gpg
# runs in a private mount namespace whose /etc/hosts names 127.0.0.1
# keys.keydir.test. That needs root (CI runs as root).
if unshare --mount true 2>/dev/null; then
  cp /etc/hosts "$T/hosts"
  echo "127.0.0.1 keys.keydir.test" >>"$T/hosts"
  H=$(gpg_home hkps)
  printf 'keyserver hkps://keys.keydir.test:%s\nhkp-cacert %s\n' "$TPORT" "$T/ca.pem" >"$H/dirmngr.conf"
  in_ns() {
    unshare --mount bash -c "mount --bind '$T/hosts' /etc/hosts && GNUPGHOME='$H' $* </dev/null >/dev/null 2>&1; rc=\$?; GNUPGHOME='$H' gpgconf --kill all; exit \$rc"
  }
  check "HKPS: gpg --recv-keys" 0 "$(in_ns timeout 30 gpg --batch --recv-keys "$FPR"; echo $?)"
  check "HKPS: gpg --send-keys" 0 "$(in_ns timeout 30 gpg --batch --send-keys "$FPR"; echo $?)"
else
  echo "skip  HKPS with gpg: needs root for a private /etc/hosts (this run is not root)"
fi

# Upload rate limit: a burst of 2, then 429 with Retry-After.
for i in 1 2; do
  curl -s -o /dev/null --cacert "$T/ca.pem" --data-urlencode "keytext@$DATA/gpg-rsa2048.asc" \
    "https://127.0.0.1:$TPORT/pks/add"
done
check "rate limit: 429" 429 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" \
  --data-urlencode "keytext@$DATA/gpg-rsa2048.asc" "https://127.0.0.1:$TPORT/pks/add")"
check "rate limit: Retry-After" 1 "$(curl -s -D - -o /dev/null --cacert "$T/ca.pem" \
  --data-urlencode "keytext@$DATA/gpg-rsa2048.asc" "https://127.0.0.1:$TPORT/pks/add" | grep -ci '^Retry-After: [0-9]')"
check "rate limit is per client (X-Forwarded-For from a trusted proxy)" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" -H 'X-Forwarded-For: 192.0.2.7' \
  --data-urlencode "keytext@$DATA/gpg-rsa2048.asc" "https://127.0.0.1:$TPORT/pks/add")"
check "lookups are not rate limited" 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" \
  "https://127.0.0.1:$TPORT/pks/lookup?op=get&search=0x$FPR")"
mv "$T/tls.log" "$T/server.log.tls"
cat "$T/server.log.tls" >>"$T/server.log"

# Graceful shutdown on SIGTERM; the store is consistent afterwards.
stop_keydird
check "stopped on SIGTERM" 1 "$(grep -c 'keydird: stopped' "$T/server.log.tls")"
check "store consistent after shutdown" 0 "$("$B/keydird" check --data "$T/data" >/dev/null; echo $?)"

finish "all HKP checks passed"
