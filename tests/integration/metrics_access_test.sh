#!/usr/bin/env bash
# /metrics answers only the host and metrics-allow, by the client's address:
# the real keydird on loopback, curl playing nginx (a trusted proxy on
# 127.0.0.1 sending X-Forwarded-For) and the clients behind it.
#   metrics_access_test.sh BUILD_DIR
# Behind nginx every peer is 127.0.0.1, so the peer's own address would let
# the whole Internet in through the proxy: a request that a trusted proxy
# forwarded is judged by the address it forwarded (the last one of
# X-Forwarded-For, which nginx appends itself), a request forwarded by a
# proxy keydird does not trust has no known client and is refused.
set -euo pipefail
B=$(cd "${1:?usage: metrics_access_test.sh BUILD_DIR}" && pwd)
source "$(dirname "$0")/../support/harness.sh"
use_temp_dir

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

LISTEN=127.0.0.1:0 start_keydird proxied --data "$T/proxied" --trusted-proxy 127.0.0.1 \
  --metrics-allow 192.0.2.0/24 --metrics-allow 2001:db8::/32 --access-log off
M="$U/metrics"
check "loopback, directly: 200" 200 "$(code "$M")"
check "loopback, directly: Prometheus text" 1 "$(curl -s "$M" | grep -c '^# TYPE keydir_http_requests_total counter')"
check "HEAD from loopback: 200" 200 "$(code -I "$M")"
check "a public client through the trusted proxy: 404" 404 \
  "$(code -H 'X-Forwarded-For: 203.0.113.9' "$M")"
check "... answered like a path that does not exist" "not found" \
  "$(curl -s -H 'X-Forwarded-For: 203.0.113.9' "$M")"
check "... even when it forges a loopback X-Forwarded-For first (nginx appends its own)" 404 \
  "$(code -H 'X-Forwarded-For: 127.0.0.1, 203.0.113.9' "$M")"
check "... and for POST (404, not 405)" 404 \
  "$(code -X POST -H 'X-Forwarded-For: 203.0.113.9' "$M")"
check "a client of metrics-allow 192.0.2.0/24 through the proxy: 200" 200 \
  "$(code -H 'X-Forwarded-For: 192.0.2.77' "$M")"
check "a client of metrics-allow 2001:db8::/32 through the proxy: 200" 200 \
  "$(code -H 'X-Forwarded-For: 2001:db8:5::1' "$M")"
check "an IPv6 client outside it: 404" 404 "$(code -H 'X-Forwarded-For: 2001:db9::1' "$M")"
check "an IPv4-mapped allowed client: 200" 200 "$(code -H 'X-Forwarded-For: ::ffff:192.0.2.5' "$M")"
check "a forwarded value that is no address: 404" 404 "$(code -H 'X-Forwarded-For: unknown' "$M")"
# A proxy that adds its own X-Forwarded-For field after the client's (HAProxy's
# forwardfor): Pistache keeps only the first, which the client wrote.
check "two X-Forwarded-For fields, the client's first naming an allowed address: 404" 404 \
  "$(code -H 'X-Forwarded-For: 192.0.2.5' -H 'X-Forwarded-For: 203.0.113.9' "$M")"
check "two X-Forwarded-For fields, the allowed one last: 404 too (the client is unknown)" 404 \
  "$(code -H 'X-Forwarded-For: 203.0.113.9' -H 'X-Forwarded-For: 192.0.2.5' "$M")"
check "the host itself through the proxy (nginx's \$remote_addr 127.0.0.1): 200" 200 \
  "$(code -H 'X-Forwarded-For: 127.0.0.1' "$M")"
check "other paths are not affected: /healthz through the proxy" 200 \
  "$(code -H 'X-Forwarded-For: 203.0.113.9' "$U/healthz")"

# No trusted proxy: X-Forwarded-For is not believed, and a forwarded request
# (a proxy keydird was not told about) gets no metrics, whatever it says.
LISTEN=127.0.0.1:0 start_keydird direct --data "$T/direct" --metrics-allow 192.0.2.0/24 --access-log off
M="$U/metrics"
check "no trusted proxy: loopback directly 200" 200 "$(code "$M")"
check "no trusted proxy: forwarded by an unknown proxy, an allowed address: 404" 404 \
  "$(code -H 'X-Forwarded-For: 192.0.2.77' "$M")"
check "no trusted proxy: forwarded by an unknown proxy, loopback: 404" 404 \
  "$(code -H 'X-Forwarded-For: 127.0.0.1' "$M")"

# A listen address that is not loopback: a peer on another address of this
# host is not loopback, and gets 404 unless metrics-allow names it.
OTHER=$(ip -4 -o addr show scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
if [ -n "$OTHER" ]; then
  P=$(free_port)
  "$B/keydird" serve --data "$T/wide" --listen "$OTHER:$P" --access-log off >"$T/wide.log" 2>&1 &
  PIDS+=("$!")
  wait_port "$OTHER" "$P" || true
  check "a peer at $OTHER (not loopback): 404" 404 "$(code "http://$OTHER:$P/metrics")"
  kill "${PIDS[-1]}"
  P=$(free_port)
  "$B/keydird" serve --data "$T/wide2" --listen "$OTHER:$P" --metrics-allow "$OTHER/32" --access-log off \
    >"$T/wide2.log" 2>&1 &
  PIDS+=("$!")
  wait_port "$OTHER" "$P" || true
  check "the same peer with metrics-allow $OTHER/32: 200" 200 "$(code "http://$OTHER:$P/metrics")"
else
  echo "skip  a peer that is not loopback: this host has no other IPv4 address"
fi

# Bad entries are refused when the configuration is read.
bad() {
  "$B/keydird" serve --data "$T/bad" --listen 127.0.0.1:0 --metrics-allow "$1" 2>&1 >/dev/null | head -n 1
}
check "metrics-allow 10.0.0.0/33 refused" \
  "keydird serve: --metrics-allow '10.0.0.0/33': a network takes 0 to 32 bits after the /" "$(bad 10.0.0.0/33)"
check "metrics-allow keys.example.org refused" \
  "keydird serve: --metrics-allow 'keys.example.org' is neither an address nor a network (192.0.2.0/24, 2001:db8::/32)" \
  "$(bad keys.example.org)"
printf 'metrics-allow = ["192.0.2.0/24", "2001:db8::1"]\n' >"$T/ok.toml"
LISTEN=127.0.0.1:0 start_keydird fromfile --config "$T/ok.toml" --data "$T/file" --trusted-proxy 127.0.0.1 --access-log off
check "metrics-allow from the config file: an allowed client 200" 200 \
  "$(code -H 'X-Forwarded-For: 2001:db8::1' "$U/metrics")"
check "metrics-allow from the config file: the next address 404" 404 \
  "$(code -H 'X-Forwarded-For: 2001:db8::2' "$U/metrics")"

finish "/metrics answers the host and metrics-allow only"
