#!/usr/bin/env bash
# Issue #16 item 5, IPv6 rotation: one IPv6 client holds a whole /64 (2^64
# addresses) and rotates its source address to get a fresh rate-limit
# bucket for every upload; or it sends from 100,000 distinct addresses,
# which used to reset the whole table (every client's limits, the mail
# limits too). keydird keys IPv6 by network (--ipv6-prefix, default 64),
# IPv4-mapped IPv6 as IPv4, and when its table is full forgets the bucket
# closest to full, never a limited client.
#
# keydird listens on [::1]. Loopback has one IPv6 address (::1), and adding
# addresses to `lo` would change the machine's network configuration, so the
# attacker's addresses come the way they do in a real deployment behind a
# reverse proxy: keydird trusts ::1 as a proxy (--trusted-proxy ::1) and
# takes the client from X-Forwarded-For (tests/adversarial/xff_uploads.py).
# The keying itself is also unit-tested (tests/unit/common/rate_limit_test).
#   ipv6_rotation.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
up() { python3 "$HERE/xff_uploads.py" "$PORT" "$@"; }

# start6 NAME ARGS...: start_keydird on [::1], believing X-Forwarded-For from it.
start6() {
  LISTEN="[::1]:0" start_keydird "$1" --trusted-proxy ::1 --access-log off "${@:2}"
}

# Two uploads a client, then one a minute.
start6 v6 --add-rate 1 --add-burst 2
check "keydird serves on [::1]" 200 "$(curl -gs -o /dev/null -w '%{http_code}' "http://[::1]:$PORT/healthz")"

attack "rotate the source address inside one /64 (2001:db8:1:2::/64)"
rot=$(up 2001:db8:1:2::1 2001:db8:1:2::1 2001:db8:1:2::2 2001:db8:1:2::3 2001:db8:1:2:ffff:ffff:ffff:ffff \
  2001:db8:1:2:1234:5678:9abc:def0)
answered "uploads from ::1, ::1, ::2, ::3, :ffff:ffff:ffff:ffff, :1234:5678:9abc:def0" "$rot"
check "the /64 is one client: its burst, then 429 whatever the address" "400 400 429 429 429 429" "$rot"
nxt=$(up 2001:db8:1:3::1)
answered "upload from the next /64 (2001:db8:1:3::1)" "$nxt"
check "the next /64 is another client" 400 "$nxt"

attack "an IPv4 client also speaking through IPv4-mapped IPv6"
mapped=$(up ::ffff:192.0.2.1 192.0.2.1 ::ffff:192.0.2.1)
answered "uploads from ::ffff:192.0.2.1, 192.0.2.1, ::ffff:192.0.2.1" "$mapped"
check "IPv4-mapped IPv6 is the IPv4 client" "400 400 429" "$mapped"

attack "100,000 uploads, each from another /64, to reset every limit"
check "a victim is limited first" "400 400 429" "$(up 2001:db8:ffff:1::1 2001:db8:ffff:1::1 2001:db8:ffff:1::1)"
flood=$(up flood 100000)
answered "100,000 uploads (statuses)" "$flood"
after=$(up 2001:db8:ffff:1::9)
answered "the victim's /64 after the flood" "$after"
check "the flood did not reset the victim's limit" 429 "$after"
check "the /64 rotated above is still limited" 429 "$(up 2001:db8:1:2::77)"
stop_keydird

attack "a wider network per client: --ipv6-prefix 48"
start6 v48 --add-rate 1 --add-burst 2 --ipv6-prefix 48
wide=$(up 2001:db8:5:1::1 2001:db8:5:1::1 2001:db8:5:2::1 2001:db8:6:1::1)
answered "uploads from 2001:db8:5:1::1 twice, 2001:db8:5:2::1, 2001:db8:6:1::1" "$wide"
check "with --ipv6-prefix 48 the /48 is one client" "400 400 429 400" "$wide"
stop_keydird
check "--ipv6-prefix out of range is refused" yes \
  "$("$B/keydird" serve --listen '[::1]:0' --data "$T/bad" --ipv6-prefix 0 >/dev/null 2>&1 && echo no || echo yes)"

finish
