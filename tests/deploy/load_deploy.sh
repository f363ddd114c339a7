#!/usr/bin/env bash
# The deployment files as their programs read them:   load_deploy.sh BUILD_DIR
#  - deploy/config/keydird.toml.example is refused as shipped (its
#    placeholder public-url), and with public-url set starts the real keydird
#    (the port and the data folder overridden: a free port, a temporary
#    folder), which answers /healthz, and /metrics on loopback;
#  - nginx -t accepts deploy/nginx/keydir.conf as shipped (only the TLS and
#    log paths pointed at a temporary folder, a throwaway self-signed
#    certificate);
#  - systemd-analyze verify passes deploy/systemd/keydird.service as shipped,
#    with /usr/sbin/keydird present: the installed one, else the built one
#    bind-mounted over /usr/sbin in a private mount namespace (root), else a
#    copy of the unit naming the built binary.
# A part whose program is missing prints "skip" and why.
set -euo pipefail
B=$(cd "${1:?usage: load_deploy.sh BUILD_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/support/harness.sh"
use_temp_dir

# --- the example configuration, read by keydird --------------------------------
# As shipped it is refused: its public-url is a placeholder that the operator
# must replace (the links of the confirmation mails). With that one line
# edited, it serves.
EX=$ROOT/deploy/config/keydird.toml.example
PORT=$(free_port)
check "the example as shipped is refused for its placeholder public-url" 1 \
  "$("$B/keydird" serve --config "$EX" --data "$T/refused" --listen "127.0.0.1:$PORT" 2>&1 | grep -c 'public-url' || true)"
sed 's|^public-url = .*|public-url = "https://keys.keydir.test"|' "$EX" >"$T/keydird.toml"
check "only public-url edited" 1 "$(diff "$EX" "$T/keydird.toml" | grep -c '^>' || true)"
"$B/keydird" serve --config "$T/keydird.toml" --data "$T/data" \
  --listen "127.0.0.1:$PORT" --access-log off >"$T/keydird.log" 2>&1 &
KPID=$!
PIDS+=("$KPID")
wait_port 127.0.0.1 "$PORT" || true
check "keydird starts with the example configuration" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")"
check "its /metrics answers loopback" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/metrics")"
check "it publishes the example's WKD domain (the file was read)" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: example.org' "http://127.0.0.1:$PORT/.well-known/openpgpkey/policy")"
kill "$KPID" 2>/dev/null || true

# --- nginx -t --------------------------------------------------------------------
if command -v nginx >/dev/null; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=keys.example.org" -keyout "$T/privkey.pem" -out "$T/fullchain.pem" 2>/dev/null
  sed -e "s#/etc/keydir/tls/#$T/#" -e "s#/var/log/nginx/#$T/#" \
    "$ROOT/deploy/nginx/keydir.conf" >"$T/keydir.conf"
  check "only the TLS and log paths differ from the shipped nginx file" \
    "$(grep -c '/etc/keydir/tls/\|/var/log/nginx/' "$ROOT/deploy/nginx/keydir.conf")" \
    "$(diff "$ROOT/deploy/nginx/keydir.conf" "$T/keydir.conf" | grep -c '^<' || true)"
  cat >"$T/nginx.conf" <<CONF
pid $T/nginx.pid;
error_log $T/nginx-error.log;
events {}
http {
  access_log $T/nginx-access.log;
  client_body_temp_path $T;
  proxy_temp_path $T;
  include $T/keydir.conf;
}
CONF
  out=$(nginx -t -q -c "$T/nginx.conf" -p "$T" 2>&1; echo "rc=$?")
  check "nginx -t accepts deploy/nginx/keydir.conf" "rc=0" "$(echo "$out" | grep -v '^nginx: \[warn\]' | tail -n 3)"
else
  echo "skip  nginx -t: nginx is not installed (apt-get install nginx-light)"
fi

# --- systemd-analyze verify --------------------------------------------------------
UNIT=$ROOT/deploy/systemd/keydird.service
verify() { SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$@" 2>&1 || true; }
if ! command -v systemd-analyze >/dev/null; then
  echo "skip  systemd-analyze verify: systemd-analyze is not installed"
elif [ -x /usr/sbin/keydird ]; then
  check "systemd-analyze verify (the installed /usr/sbin/keydird)" "" "$(verify "$UNIT")"
elif unshare --mount true 2>/dev/null; then
  mkdir "$T/sbin"
  ln -s "$B/keydird" "$T/sbin/keydird"
  check "systemd-analyze verify (the built keydird as /usr/sbin/keydird, private mount namespace)" "" \
    "$(unshare --mount bash -c 'mount --bind "$1/sbin" /usr/sbin && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$2" 2>&1 || true' _ "$T" "$UNIT")"
else
  sed "s#^ExecStart=/usr/sbin/keydird #ExecStart=$B/keydird #" "$UNIT" >"$T/keydird.service"
  check "systemd-analyze verify (a copy naming the built keydird: not root)" "" "$(verify "$T/keydird.service")"
fi

on_failure() { tail -n 20 "$T/keydird.log" "$T/nginx-error.log" 2>/dev/null; }
finish "the deployment files load"
