#!/usr/bin/env bash
# The deployment files, checked for real: the systemd unit with
# systemd-analyze verify, and deploy/nginx/keydir.conf run by Debian's nginx
# on loopback with a test certificate in front of keydird, with gpg fetching
# and sending a key through hkps:// via nginx.   deploy_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=$(cd "${1:?usage: deploy_test.sh BUILD_DIR DATA_DIR}" && pwd)
DATA=${2:?usage: deploy_test.sh BUILD_DIR DATA_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/support/harness.sh"
use_temp_dir
CLEANUP+=('[ -f "$T/nginx.pid" ] && kill "$(cat "$T/nginx.pid")"')

# --- systemd unit ------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
  sed "s#^ExecStart=/usr/sbin/keydird #ExecStart=$B/keydird #" "$ROOT/deploy/systemd/keydird.service" >"$T/keydird.service"
  out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$T/keydird.service" 2>&1 || true)
  check "systemd-analyze verify keydird.service" "" "$out"
else
  echo "skip  systemd-analyze is not installed"
fi

# --- nginx in front of keydird -------------------------------------------------
command -v nginx >/dev/null || { echo "FAIL  nginx missing: run deploy/setup.sh"; exit 1; }
KPORT=$(free_port); TPORT=$(free_port); HPORT=$(free_port); PPORT=$(free_port)
# The ACME webroot: nginx's workers (www-data) read it, so not under $T (0700).
ACME=$(mktemp -d)
chmod 755 "$ACME"
CLEANUP+=('rm -rf "$ACME"')
"$B/keydird" import --data "$T/data" "$DATA/gpg-multi.asc" >/dev/null 2>&1
LISTEN=127.0.0.1:$KPORT start_keydird keydird --data "$T/data" --trusted-proxy 127.0.0.1 \
  --wkd-domain keydir.test --add-rate 0

make_test_ca "$T" "keys.keydir.test" "DNS:keys.keydir.test,DNS:openpgpkey.keydir.test" fullchain.pem privkey.pem

# The example configuration, with this test's ports, names and files.
sed -e "s#127.0.0.1:11372#127.0.0.1:$KPORT#" -e "s#listen 443 ssl http2;#listen 127.0.0.1:$TPORT ssl http2;#" \
    -e "s#listen 11371;#listen 127.0.0.1:$HPORT;#" -e "s#listen 80;#listen 127.0.0.1:$PPORT;#" -e '/listen \[::\]/d' \
    -e "s#/etc/keydir/tls/#$T/#" -e "s#/var/log/nginx/#$T/#" -e "s#/var/www/acme#$ACME#" -e "s#example.org#keydir.test#g" \
    "$ROOT/deploy/nginx/keydir.conf" >"$T/keydir.conf"
mkdir -p "$T/nginx"
cat >"$T/nginx.conf" <<CONF
daemon on;
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events {}
http {
  access_log $T/nginx-access.log;
  client_body_temp_path $T/nginx;
  proxy_temp_path $T/nginx;
  include $T/keydir.conf;
}
CONF
check "nginx accepts the example configuration" 0 "$(nginx -t -c "$T/nginx.conf" -p "$T" >/dev/null 2>&1; echo $?)"
nginx -c "$T/nginx.conf" -p "$T" 2>/dev/null
wait_for test -f "$T/nginx.pid" || true
wait_port 127.0.0.1 "$TPORT" || true
wait_port 127.0.0.1 "$HPORT" || true
wait_port 127.0.0.1 "$PPORT" || true
R="--resolve keys.keydir.test:$TPORT:127.0.0.1 --resolve openpgpkey.keydir.test:$TPORT:127.0.0.1"
MFPR=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA
check "hkps through nginx (curl, test CA)" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" $R "https://keys.keydir.test:$TPORT/pks/lookup?op=get&search=0x$MFPR")"
check "plain HKP through nginx" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/pks/lookup?op=get&search=0x$MFPR")"
printf '\x00\x00\x00\x00' >"$T/hq-empty"
check "a Hockeypuck hashquery (Content-Type sks/hashquery) through nginx: 200" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: sks/hashquery' --data-binary @"$T/hq-empty" "http://127.0.0.1:$HPORT/pks/hashquery")"
MH=$("$(gpgconf --list-dirs libexecdir)/gpg-wks-client" --print-wkd-hash multi@keydir.test | cut -d' ' -f1)
check "WKD advanced host through nginx" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" $R "https://openpgpkey.keydir.test:$TPORT/.well-known/openpgpkey/keydir.test/hu/$MH")"

# /metrics never through nginx: 404 on both public ports (nginx answers it;
# keydird behind it would judge the forwarded address, 127.0.0.1 here).
check "/metrics through nginx (TLS): 404" 404 \
  "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca.pem" $R "https://keys.keydir.test:$TPORT/metrics")"
check "/metrics through nginx (plain HKP): 404" 404 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HPORT/metrics")"
check "//metrics through nginx (normalized, still 404)" 404 \
  "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "http://127.0.0.1:$HPORT//metrics")"
check "/metrics on the host, from keydird directly: 200" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$KPORT/metrics")"
# Port 80: the ACME webroot, and everything else moved to https.
mkdir -p "$ACME/.well-known/acme-challenge"
echo challenge-answer >"$ACME/.well-known/acme-challenge/tok3n"
chmod -R a+rX "$ACME"
check "port 80: an ACME challenge from the webroot" challenge-answer \
  "$(curl -s -H 'Host: keys.keydir.test' "http://127.0.0.1:$PPORT/.well-known/acme-challenge/tok3n")"
check "port 80: anything else 301 to https" "301 https://keys.keydir.test/pks/lookup?op=get&search=x" \
  "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: keys.keydir.test' "http://127.0.0.1:$PPORT/pks/lookup?op=get&search=x")"

# A confirmation link's token never reaches nginx's log (the example's
# log_format redacts it, as keydird does in its own).
LINKTOKEN=ybndrfg8ejkmcpqxot1uwisza3
curl -s -o /dev/null --cacert "$T/ca.pem" $R -e "https://keys.keydir.test/verify/$LINKTOKEN" \
  "https://keys.keydir.test:$TPORT/verify/$LINKTOKEN"
curl -s -o /dev/null "http://127.0.0.1:$HPORT/manage/$LINKTOKEN"
links_logged() { [ "$(grep -c '/\(verify\|manage\)/' "$T/keydir-access.log" 2>/dev/null || true)" -ge 2 ]; }
wait_for links_logged || true
check "nginx logs the link requests, redacted" 2 "$(grep -c '/\(verify\|manage\)/\[redacted\]' "$T/keydir-access.log" 2>/dev/null || true)"
check "no link token in nginx's log" 0 "$(cat "$T"/*access*.log | grep -c "$LINKTOKEN" || true)"

# gpg through hkps:// via nginx: dirmngr verifies TLS only against a host name
# it did not resolve itself, so it runs in a private mount namespace whose
# /etc/hosts names keys.keydir.test (root only; CI is root).
if unshare --mount true 2>/dev/null; then
  cp /etc/hosts "$T/hosts"
  echo "127.0.0.1 keys.keydir.test" >>"$T/hosts"
  H="$T/gnupg-nginx"
  mkdir -m 700 "$H"
  printf 'keyserver hkps://keys.keydir.test:%s\nhkp-cacert %s\n' "$TPORT" "$T/ca.pem" >"$H/dirmngr.conf"
  in_ns() {
    unshare --mount bash -c "mount --bind '$T/hosts' /etc/hosts && GNUPGHOME='$H' $* </dev/null >/dev/null 2>&1; rc=\$?; GNUPGHOME='$H' gpgconf --kill all; exit \$rc"
  }
  check "gpg --recv-keys through nginx (hkps)" 0 "$(in_ns timeout 30 gpg --batch --recv-keys "$MFPR"; echo $?)"
  check "the key arrived" "$MFPR" "$(GNUPGHOME=$H gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')"
  check "gpg --send-keys through nginx (hkps)" 0 "$(in_ns timeout 30 gpg --batch --send-keys "$MFPR"; echo $?)"
else
  echo "skip  gpg through nginx: needs root for a private /etc/hosts (this run is not root)"
fi

on_failure() { tail -n 20 "$T/nginx-error.log" "$T/keydird.log" 2>/dev/null; }
finish "all deployment checks passed"
