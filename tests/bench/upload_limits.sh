#!/usr/bin/env bash
# The anonymous upload limit against real use and against a flood (issue #20),
# on a real keydird at 127.0.0.1:0 with its default limits (or EXTRA args):
#   (a) 20 keys by `gpg --send-keys` (one request per key), back to back;
#   (b) right after, one keyring of 20 keys in one POST /pks/add (a fresh
#       server too, for the keyring alone);
#   (c) a flood from one address for SECONDS: single-key uploads, then
#       10-key keyrings, as fast as one client can send them over one
#       connection; keys stored, 429s, keys a minute let through, and the
#       latency of a lookup (curl, every 0.2 s) during the flood and before.
# Prints a table.
#   tests/bench/upload_limits.sh BUILD_DIR [SECONDS] [KEYDIRD] [EXTRA SERVE ARGS...]
# BUILD_DIR holds gen_certs (and keydird unless KEYDIRD is given: e.g. an
# older build, to compare its limits).
set -euo pipefail
B=$(cd "${1:?usage: upload_limits.sh BUILD_DIR [SECONDS] [KEYDIRD] [EXTRA...]}" && pwd)
SECS=${2:-30}
KEYDIRD=${3:-$B/keydird}
shift $(($# < 3 ? $# : 3))
EXTRA=("$@")
GEN=$(find "$B" -name gen_certs -type f -perm -u+x | head -n 1)
[ -n "$GEN" ] || { echo "upload_limits: no gen_certs in $B (make gen_certs)" >&2; exit 1; }
command -v gpg >/dev/null || { echo "upload_limits: gpg is missing" >&2; exit 1; }
T=$(mktemp -d)
PID=""
cleanup() {
  [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  GNUPGHOME=$T/gnupg gpgconf --kill all 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# start NAME: a fresh keydird on its own store; sets PID and U.
start() {
  [ -z "$PID" ] || { kill "$PID"; wait "$PID" 2>/dev/null || true; }
  "$KEYDIRD" serve --listen 127.0.0.1:0 --data "$T/$1" --access-log "$T/$1.access" \
    ${EXTRA[@]+"${EXTRA[@]}"} >"$T/$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do grep -q '^keydird: serving' "$T/$1.log" && break; sleep 0.1; done
  local port
  port=$(sed -n 's/^keydird: serving.*:\([0-9]*\)$/\1/p' "$T/$1.log")
  [ -n "$port" ] || { cat "$T/$1.log" >&2; exit 1; }
  U=http://127.0.0.1:$port
}

# Keys: 20 for gpg, 20 in a keyring, and enough fresh ones for the flood.
FLOOD_KEYS=3000
"$GEN" --count $((40 + FLOOD_KEYS)) --seed 4242 --out "$T/all.pgp" >/dev/null
python3 - "$T" 40 <<'EOF'
import sys
out, first = sys.argv[1], int(sys.argv[2])
data = open(out + '/all.pgp', 'rb').read()
certs, i, start = [], 0, 0
while i < len(data):
    b = data[i]
    if b & 0x40:
        tag = b & 0x3f; l0 = data[i + 1]
        if l0 < 192: hl, ln = 2, l0
        elif l0 < 224: hl, ln = 3, ((l0 - 192) << 8) + data[i + 2] + 192
        else: hl, ln = 6, int.from_bytes(data[i + 2:i + 6], 'big')
    else:
        tag = (b >> 2) & 0xf; n = {0: 1, 1: 2, 2: 4}[b & 3]
        hl, ln = 1 + n, int.from_bytes(data[i + 1:i + 1 + n], 'big')
    if tag == 6 and i != start:
        certs.append(data[start:i]); start = i
    i += hl + ln
certs.append(data[start:])
open(out + '/gpg20.pgp', 'wb').write(b''.join(certs[:20]))
open(out + '/ring20.pgp', 'wb').write(b''.join(certs[20:40]))
import os
os.makedirs(out + '/flood', exist_ok=True)
for k, c in enumerate(certs[40:]):
    open('%s/flood/%06d.pgp' % (out, k), 'wb').write(c)
EOF

export GNUPGHOME=$T/gnupg
mkdir -m 700 "$GNUPGHOME"
gpg -q --batch --import "$T/gpg20.pgp" 2>/dev/null
mapfile -t GPG_FPRS < <(gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^pub/ {p=1; next} p && /^fpr/ {print $10; p=0}')
[ "${#GPG_FPRS[@]}" = 20 ] || { echo "upload_limits: gpg holds ${#GPG_FPRS[@]} keys, not 20" >&2; exit 1; }

stored() {  # FPR...: how many of them the directory answers
  local n=0 f
  for f in "$@"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/pks/lookup?op=get&search=0x$f")" = 200 ] && n=$((n + 1))
  done
  echo "$n"
}
adds() { grep -c 'POST /pks/add' "$1" 2>/dev/null || true; }
statuses() {  # ACCESS_LOG: "N×STATUS" of the uploads
  awk '{for (i = 1; i < NF; i++) if ($i == "/pks/add") print $(i + 1)}' "$1" 2>/dev/null |
    sort | uniq -c | awk '{printf "%s%s×%s", (NR > 1 ? ", " : ""), $1, $2}'
}

ROWS=()
row() { ROWS+=("$(printf '%-46s | %s' "$1" "$2")"); }

# --- (a) + (b) ------------------------------------------------------------------
start a
t0=$(date +%s.%N)
gpg --batch --keyserver "hkp://${U#http://}" --send-keys "${GPG_FPRS[@]}" >"$T/gpg.out" 2>&1 || true
t1=$(date +%s.%N)
sleep 1.1  # the access log is flushed every second
row "(a) gpg --send-keys of 20 keys: stored" "$(stored "${GPG_FPRS[@]}")/20 in $(python3 -c "print(round($t1-$t0,2))") s; requests: $(adds "$T/a.access") ($(statuses "$T/a.access"))"
RING_FPRS=$(gpg --with-colons --show-keys "$T/ring20.pgp" 2>/dev/null | awk -F: '/^pub/ {p=1; next} p && /^fpr/ {print $10; p=0}')
code=$(curl -s -o "$T/ring.out" -w '%{http_code}' --data-urlencode "keytext@$T/ring20.pgp" "$U/pks/add")
# shellcheck disable=SC2086
row "(b) then a 20-key keyring in one POST: stored" "$(stored $RING_FPRS)/20 (HTTP $code, $(grep -c '^new ' "$T/ring.out" || true) new)"
start b
code=$(curl -s -o "$T/ring.out" -w '%{http_code}' --data-urlencode "keytext@$T/ring20.pgp" "$U/pks/add")
# shellcheck disable=SC2086
row "(b') a 20-key keyring alone, fresh server" "$(stored $RING_FPRS)/20 (HTTP $code)"

# --- (c) the flood -----------------------------------------------------------------
lookup_latency() {  # SECONDS OUTFILE: curl lookups every 0.2 s, time_total in ms
  local end=$((SECONDS + $1))
  : >"$2"
  while [ "$SECONDS" -lt "$end" ]; do
    curl -s -o /dev/null -w '%{time_total}\n' "$U/pks/lookup?op=get&search=0x${GPG_FPRS[0]}" >>"$2"
    sleep 0.2
  done
}
pct() {  # FILE: p50 p99 max in ms
  python3 - "$1" <<'EOF'
import sys
v = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
if not v:
    print("-"); sys.exit()
q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
print("p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d lookups)" % (q(.5), q(.99), v[-1], len(v)))
EOF
}
flood() {  # NAME KEYS_PER_UPLOAD FIRST_KEY: one client, one connection, for SECS
  python3 - "$U" "$T/flood" "$SECS" "$2" "$3" "$T/flood-$1.json" <<'EOF'
import http.client, json, os, sys, time, urllib.parse
base, folder, secs, per, first, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
u = urllib.parse.urlsplit(base)
files = sorted(os.listdir(folder))[first:]
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
sent = stored = limited = other = 0
k = 0
times = []
t0 = time.monotonic()
while time.monotonic() - t0 < secs and k + per <= len(files):
    ring = b''.join(open(os.path.join(folder, f), 'rb').read() for f in files[k:k + per])
    body = urllib.parse.urlencode({'keytext': ring}).encode()
    try:
        conn.request('POST', '/pks/add', body, {'Content-Type': 'application/x-www-form-urlencoded'})
        r = conn.getresponse(); text = r.read().decode(errors='replace')
    except (OSError, http.client.HTTPException):
        conn.close(); conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30); continue
    sent += 1
    if r.status == 200:
        n = sum(1 for l in text.splitlines() if l.startswith('new '))
        stored += n
        times += [time.monotonic() - t0] * n
        k += per
    elif r.status == 429:
        limited += 1
    else:
        other += 1
elapsed = time.monotonic() - t0
# The sustained rate: keys let through in the second half (the burst is spent).
late = sum(1 for t in times if t >= elapsed / 2)
json.dump({'requests': sent, 'keys_stored': stored, 'r429': limited, 'other': other,
           'seconds': elapsed, 'keys_per_minute': stored * 60 / elapsed,
           'late_per_minute': late * 60 / (elapsed / 2), 'keys_used': k}, open(out, 'w'))
EOF
}
start c
lookup_latency 5 "$T/lat-idle.txt"
row "lookup latency, no flood" "$(pct "$T/lat-idle.txt")"
first=0
for per in 1 10; do
  lookup_latency "$SECS" "$T/lat-$per.txt" &
  LAT=$!
  flood "$per" "$per" "$first"
  wait "$LAT"
  r=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d requests in %.0f s: %d keys stored (%.0f keys/min overall, %.0f keys/min in the 2nd half), %d × 429, %d other" % (d["requests"], d["seconds"], d["keys_stored"], d["keys_per_minute"], d["late_per_minute"], d["r429"], d["other"]))' "$T/flood-$per.json")
  row "(c) flood, $per-key uploads, one address" "$r"
  row "    lookup latency during it" "$(pct "$T/lat-$per.txt")"
  first=$((first + $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys_used"])' "$T/flood-$per.json") + 10))
  start "c$per"  # the next flood starts from a full bucket
done

echo
echo "keydird: $KEYDIRD ${EXTRA[*]:-(default limits)}"
printf '%-46s | %s\n' "case" "result"
printf '%s\n' "-----------------------------------------------+------------------------------------------------------------"
printf '%s\n' "${ROWS[@]}"
