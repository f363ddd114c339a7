#!/usr/bin/env bash
# Issue #20 review: the anonymous upload limit counts keys on every upload
# path, not only /pks/add and /pks/v2/certs.
#   upload_limit_paths.sh BUILD_DIR DATA_DIR TOOLS_DIR
# 1. The upload page (POST /upload) takes a keyring too: a 200-key keyring
#    sent there is charged its keys, so the next upload from that address
#    waits (429), while another address is free.
# 2. VKS takes one key per request: a keyring of 3 keys (or 200) is refused
#    (400 "upload one key at a time") and none of its keys is stored; before
#    the fix a keyring of 3 or more slipped past the check (the parse with
#    max_certs 2 failed, and the failure was taken for "one key") and every
#    key was stored for one token of the limit.
# 3. Concurrent keyrings: 8 uploads of 200 keys each sent at once from one
#    address. Each took its entry token before any was charged, so as many
#    as there were worker threads got in (800 keys stored on 2 cores, 32 000
#    on 16 cores with 1000-key keyrings) where the limit meant 200 at most.
#    One anonymous upload per address at a time: the others are 429 at once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

"$TOOLS/gen_certs" --count 1801 --seed 2021 --out "$T/k201.pgp" >/dev/null
PYTHONPATH="$(dirname "$0")" python3 - "$T/k201.pgp" "$T" <<'EOF'
import json, sys
from httpio import armored
data = open(sys.argv[1], 'rb').read()
out = sys.argv[2]
certs, i, start = [], 0, 0
while i < len(data):
    b = data[i]
    if b & 0x40:
        tag = b & 0x3f; l0 = data[i + 1]
        if l0 < 192: hl, ln = 2, l0
        elif l0 < 224: hl, ln = 3, ((l0 - 192) << 8) + data[i + 2] + 192
        else: hl, ln = 6, int.from_bytes(data[i + 2:i + 6], 'big')
    else:
        tag = (b >> 2) & 0xf; lt = b & 3
        n = {0: 1, 1: 2, 2: 4}[lt]
        hl, ln = 1 + n, int.from_bytes(data[i + 1:i + 1 + n], 'big')
    if tag == 6 and i != start:
        certs.append(data[start:i]); start = i
    i += hl + ln
certs.append(data[start:])
assert len(certs) == 1801, len(certs)  # 200 + 1 + 8 parts of 200
for j in range(8):
    assert len(certs[201 + j * 200:201 + (j + 1) * 200]) == 200, j
    open(out + '/part%d.pgp' % j, 'wb').write(b''.join(certs[201 + j * 200:201 + (j + 1) * 200]))
open(out + '/k200.pgp', 'wb').write(b''.join(certs[:200]))
open(out + '/k1.pgp', 'wb').write(certs[200])
json.dump({'keytext': armored(b''.join(certs[:3]))}, open(out + '/vks3.json', 'w'))
json.dump({'keytext': armored(b''.join(certs[:200]))}, open(out + '/vks200.json', 'w'))
EOF
# --- 1. The upload page is charged per key ------------------------------------
attack "a 200-key keyring through the upload page (POST /upload), then one more upload"
start_keydird page --access-log off
code=$(curl -s -o "$T/page.html" -w '%{http_code}' --data-urlencode "keytext@$T/k200.pgp" "$U/upload")
check "the upload page takes the keyring" 200 "$code"
check "the answer lists 200 keys" 200 "$(grep -o '/key/[0-9A-F]\{40\}' "$T/page.html" | sort -u | wc -l)"
code=$(curl -s -D "$T/next.h" -o /dev/null -w '%{http_code}' --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")
answered "the next /pks/add" "$code Retry-After $(sed -n 's/^Retry-After: \([0-9]*\).*/\1/Ip' "$T/next.h")"
check "the next upload from that address waits: 429 (the page's 200 keys were charged)" 429 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "keytext@$T/k1.pgp" "$U/upload")
check "the upload page itself waits too: 429" 429 "$code"
check "another client (127.0.0.2) is not held by that debt" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")"
stop_keydird

# --- 2. VKS: one key per request, always --------------------------------------
attack "VKS upload of a keyring of 3 keys, then of 200 keys"
start_keydird vks --access-log off
for n in 3 200; do
  code=$(curl -s -o "$T/vks$n.out" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$T/vks$n.json" "$U/vks/v1/upload")
  answered "VKS upload of $n keys" "$code $(cat "$T/vks$n.out")"
  check "VKS refuses a keyring of $n keys: 400" 400 "$code"
  check "VKS says why ($n keys)" "upload one key at a time" \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error"))' "$T/vks$n.out")"
done
stored=$(curl -s "$U/pks/lookup?op=stats&options=mr" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"])')
answered "stats after the refused keyrings" "$stored"
check "no key of the refused keyrings is stored" 0 "$stored"
check "the refused keyrings cost one upload each: /pks/add still takes a key" 200 \
  "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")"
stop_keydird

# --- 3. Concurrent keyrings from one address ----------------------------------
attack "8 keyrings of 200 keys sent at once from one address"
start_keydird conc --access-log off --threads 8
pids=()
for j in 0 1 2 3 4 5 6 7; do
  curl -s -o "$T/conc$j.out" -w '%{http_code}\n' --data-urlencode "keytext@$T/part$j.pgp" \
    "$U/pks/add" >"$T/conc$j.code" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
answered "answers" "$(cat "$T"/conc?.code | sort | uniq -c | tr -s ' ')"
for j in 0 1 2 3 4 5 6 7; do
  case "$(cat "$T/conc$j.code")" in 200 | 429) ;; *) answered "keyring $j" "$(head -c 300 "$T/conc$j.out")" ;; esac
done
stored=$(curl -s "$U/pks/lookup?op=stats&options=mr" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"])')
answered "keys stored" "$stored"
check "one keyring got in (200 keys), the concurrent ones did not" 200 "$stored"
check "the others were told to wait (429)" 7 "$(cat "$T"/conc?.code | grep -c '^429$' || true)"
check "the server is alive" 200 "$(http_status "$U/healthz")"
# Every upload lets go of its address once answered, refused ones too.
o=(-s -o /dev/null -w '%{http_code}' --interface 127.0.0.3)
c1=$(curl "${o[@]}" -H 'Content-Type: application/json' --data '{"token": "x", "addresses": []}' \
  "$U/vks/v1/request-verify")
c2=$(curl "${o[@]}" --data-urlencode 'keytext=not a key' "$U/pks/add")
c3=$(curl "${o[@]}" --data-urlencode "keytext@$T/k1.pgp" "$U/pks/add")
c4=$(curl "${o[@]}" --data-urlencode "keytext@$T/k1.pgp" "$U/upload")
check "one after the other from one address: request-verify, a bad key, a key, the page" \
  "400 400 200 200" "$c1 $c2 $c3 $c4"
stop_keydird
finish
