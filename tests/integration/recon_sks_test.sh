#!/usr/bin/env bash
# SKS reconciliation with Debian's sks 1.1.6 as the peer, both on loopback:
# keys only SKS has reach keydird, keys only keydird has reach SKS, and a
# key uploaded to either side later reaches the other. The keys come from
# gen_certs (no third-party certifications), so both servers store them
# alike and their key hashes agree: peers that strip differently never
# converge (see docs/peering.md).
#   recon_sks_test.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
if ! command -v sks >/dev/null; then
  echo "SKIP: Debian's sks is not installed (deploy/setup.sh installs it)"
  exit 0
fi
use_temp_dir
mkdir -m 700 "$T/gnupg"

SH=$(free_port); SR=$(free_port); KH=$(free_port); KR=$(free_port)
"$B/gen_certs" --count 40 --seed 701 --out "$T/sks-only.pgp" >/dev/null
"$B/gen_certs" --count 60 --seed 702 --out "$T/keydir-only.pgp" >/dev/null
"$B/gen_certs" --count 1 --seed 703 --out "$T/late-sks.pgp" >/dev/null
"$B/gen_certs" --count 1 --seed 704 --out "$T/late-keydir.pgp" >/dev/null

# SKS in a private base folder (Debian's build prefixes -basedir to its paths).
S=$T/sks
mkdir -p "$S/etc/sks" "$S/var/lib/sks/www" "$S/var/run/sks" "$S/var/spool/sks"
echo "127.0.0.1 $KR" >"$S/etc/sks/membership"
cat >"$S/etc/sks/sksconf" <<CONF
hostname: localhost
hkp_address: 127.0.0.1
hkp_port: $SH
recon_address: 127.0.0.1
recon_port: $SR
debuglevel: 4
pagesize: 16
ptree_pagesize: 16
gossip_interval: 1
initial_stat:
CONF
(cd "$S" && sks -basedir "$S" build "$T/sks-only.pgp" -n 10 -cache 100 -stdoutlog >build.log 2>&1 &&
  { sks -basedir "$S" cleandb -stdoutlog || sks -basedir "$S" cleandb -stdoutlog; } >>build.log 2>&1 &&
  sks -basedir "$S" pbuild -cache 20 -ptree_cache 70 -stdoutlog >>build.log 2>&1)
# `sks db` first, `sks recon` once the database answers: started together
# on a loaded machine, they race for the Berkeley DB environment and recon
# may exit. Recon gets a second start if its port does not open.
(cd "$S" && exec sks -basedir "$S" db -stdoutlog </dev/null >db.log 2>&1) &
PIDS+=($!)
wait_http "http://127.0.0.1:$SH/pks/lookup?op=stats" 30 || true
port_open_or_dead() { port_open 127.0.0.1 "$SR" || ! kill -0 "$RPID" 2>/dev/null; }
for attempt in 1 2; do
  (cd "$S" && exec sks -basedir "$S" recon -stdoutlog </dev/null >>recon.log 2>&1) &
  RPID=$!
  PIDS+=($RPID)
  wait_until 30 port_open_or_dead || true
  port_open 127.0.0.1 "$SR" && break
  echo "sks recon did not open its port (attempt $attempt):"; tail -n 15 "$S/recon.log"
  stop_pid "$RPID"
done

"$B/keydird" import --data "$T/data" "$T/keydir-only.pgp" >/dev/null 2>&1
LISTEN=127.0.0.1:$KH start_keydird serve --data "$T/data" --recon-listen "127.0.0.1:$KR" \
  --peer "127.0.0.1:$SR:$SH" --gossip-interval 2 --add-rate 0 --access-log "$T/access.log"

keydir_count() { curl -s "http://127.0.0.1:$KH/metrics" | awk '/^keydir_certificates / {print $2}'; }
# SKS's stats page counts keys; it is refreshed only on request.
sks_has() {  # sks_has FPR: 200 when SKS serves it
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SH/pks/lookup?op=get&search=0x$1"
}
fprs() { "$B/keydir" inspect --json "$1" | python3 -c '
import json, sys
for c in json.load(sys.stdin)["certificates"]:
    print(c["fingerprint"])'; }
# took SECONDS CMD...: wait_until, two tries a second (a try may ask SKS for every
# key); prints the seconds it took, or "timeout".
took() { WAIT_INTERVAL=0.5 wait_until "$@" || true; echo "$WAITED"; }
keydir_has_all() { [ "$(keydir_count)" = "$1" ]; }
sks_has_all() {
  local f
  for f in $(fprs "$1"); do [ "$(sks_has "$f")" = 200 ] || return 1; done
}

took=$(took 120 keydir_has_all 100)
check "keydird recovers SKS's 40 keys (100 in all; took ${took} s)" "100" "$(keydir_count)"
took=$(took 150 sks_has_all "$T/keydir-only.pgp")
check "SKS recovers keydird's 60 keys (took ${took} s)" "yes" \
  "$([ "$took" != timeout ] && echo yes || echo no)"
check "their key hashes agree: nothing fetched in vain" "0" \
  "$(curl -s "http://127.0.0.1:$KH/metrics" | awk '/^keydir_recon_unconverged_total / {print $2}')"

# Later uploads travel both ways.
# SKS wants the armor checksum, which RFC 9580 no longer requires: gpg writes it.
gpg --homedir "$T/gnupg" --batch --quiet --import "$T/late-sks.pgp" 2>/dev/null
gpg --homedir "$T/gnupg" --batch --armor --export >"$T/late-sks.asc"
curl -s -o "$T/sks-add.out" -w '%{http_code}' --data-urlencode "keytext@$T/late-sks.asc" \
  "http://127.0.0.1:$SH/pks/add" >"$T/sks-add.status"
check "SKS takes the upload" "200" "$(cat "$T/sks-add.status")"
took=$(took 120 keydir_has_all 101)
check "a key uploaded to SKS reaches keydird (took ${took} s)" "101" "$(keydir_count)"
python3 - "$T/late-keydir.pgp" "http://127.0.0.1:$KH/pks/v2/certs" <<'PY'
import sys, urllib.request
data = open(sys.argv[1], 'rb').read()
urllib.request.urlopen(urllib.request.Request(sys.argv[2], data=data,
                       headers={'Content-Type': 'application/pgp-keys'})).read()
PY
took=$(took 150 sks_has_all "$T/late-keydir.pgp")
check "a key uploaded to keydird reaches SKS (took ${took} s)" "yes" \
  "$([ "$took" != timeout ] && echo yes || echo no)"

on_failure() {
  tail -n 25 "$S/recon.log" "$S/db.log" "$S/build.log" "$T/serve.log"
  grep recon "$T/access.log" | tail -10
}
finish "all SKS interop checks passed"
