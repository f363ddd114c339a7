#!/usr/bin/env bash
# keydird's transparency log checked by code keydir did not write:
# keydir-log-oracle (tests/transparency/oracle), built on Debian's
# golang.org/x/mod/sumdb/{tlog,note}. First against fake_log.py, a log
# computed in Python, with faults on purpose (does the oracle catch them?);
# then against the real keydird: uploads, the whole log checked, more
# uploads, consistency, a restart, a tampered tile (log_proxy.py) and a
# rollback to an older checkpoint.
#   oracle_test.sh BUILD_DIR [DATA_DIR]    (exit 77: no Go or golang.org/x/mod;
#   ORACLE_FAKE=0: without the fake log)
set -euo pipefail
B=${1:?usage: oracle_test.sh BUILD_DIR [DATA_DIR]}
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${2:-$HERE/../data}
source "$HERE/../support/harness.sh"
use_temp_dir

rc=0
bash "$HERE/build_oracle.sh" "$T/bin" >"$T/build.log" 2>&1 || rc=$?
if [ "$rc" = 77 ]; then
  cat "$T/build.log"
  exit 77
fi
[ "$rc" = 0 ] || { cat "$T/build.log"; echo "FAIL  building keydir-log-oracle"; exit 1; }
O=$T/bin/keydir-log-oracle

# oracle NAME WANT ARGS...: runs the oracle, checks its exit status; its
# output, indented, goes to $T/oracle.out and is shown when WANT is 0 or the
# status differs.
oracle() {
  local name=$1 want=$2 got=0
  shift 2
  "$O" "$@" >"$T/oracle.out" 2>&1 || got=$?
  if [ "$want" = 0 ] || [ "$got" != "$want" ]; then sed 's/^/      | /' "$T/oracle.out"; fi
  check "$name: oracle exits $want" "$want" "$got"
}
# start_py NAME SCRIPT ARGS...: a python helper that writes its port to
# $T/NAME.port; sets PYPORT.
start_py() {
  local name=$1
  shift
  rm -f "$T/$name.port"
  python3 "$@" "$T/$name.port" >"$T/$name.log" 2>&1 &
  PIDS+=($!)
  PYPID=$!
  wait_for test -s "$T/$name.port" 2>/dev/null || { cat "$T/$name.log"; echo "FAIL  $name did not start"; exit 1; }
  PYPORT=$(cat "$T/$name.port")
}

# --- the oracle against a log computed in Python ---------------------------
if [ "${ORACLE_FAKE:-1}" = 0 ]; then
  echo "skip  the fake log (ORACLE_FAKE=0)"
elif python3 -c 'import cryptography' 2>/dev/null; then
  # fault, exit status wanted after a clean run, 4 entries more and the fault
  for fc in none:0 tile:1 entry:1 inclusion:1 signature:1 lookup-digest:1 lookup-proof:1 consistency:3 fork:3 rollback:3; do
    f=${fc%:*}
    start_py "fake-$f" "$HERE/fake_log.py" --entries 300
    F=http://127.0.0.1:$PYPORT
    "$O" --url "$F" --full --state "$T/fake-$f.state" >"$T/oracle.out" 2>&1 || { cat "$T/oracle.out"; echo "FAIL  fake log $f: the clean run"; exit 1; }
    curl -s -X POST "$F/fake/append?n=4" >/dev/null
    [ "$f" = none ] || curl -s -X POST "$F/fake/fault?name=$f" >/dev/null
    oracle "fake log, fault $f" "${fc#*:}" --url "$F" --full --state "$T/fake-$f.state" \
      --lookups --address shared@fake.test,U7@fake.test,nobody@fake.test
    stop_pid "$PYPID"
  done
  start_py fake-malformed "$HERE/fake_log.py" --entries 10 --fault malformed
  oracle "fake log, an entry with unsorted commitments" 1 --url "http://127.0.0.1:$PYPORT" --full
  check "fake log: the malformed entry named" 1 "$(grep -c '^FAIL entries: entry 3 malformed: commitments' "$T/oracle.out")"
  stop_pid "$PYPID"
  # A scrypt log (verified and managed mode) blinds fingerprints: the oracle
  # checks /log/entry and lookups for the fingerprints it is given, computing
  # the blinded ones itself; one in clear, or a lookup's wrong bytes, fail.
  for fc in none:0 clear:1 lookup-digest:1; do
    f=${fc%:*}
    start_py "fake-scrypt-$f" "$HERE/fake_log.py" --entries 20 --scheme scrypt $([ "$f" = clear ] && echo --fault clear)
    F=http://127.0.0.1:$PYPORT
    [ "$f" = lookup-digest ] && curl -s -X POST "$F/fake/fault?name=$f" >/dev/null
    oracle "fake scrypt log, fault $f" "${fc#*:}" --url "$F" --full --lookups \
      --fingerprints "$(curl -s "$F/fake/fingerprints" | sed -n '1,5p' | paste -sd,)"
    case $f in
      none) check "fake scrypt log: 5 certificates by their blinded fingerprint" "1 1" \
        "$(grep -c '^ok   blinded: none of the 5 fingerprints given appears in clear; 5 of them' "$T/oracle.out") $(grep -c '^ok   entry lookup: .* of 5 certificates' "$T/oracle.out")" ;;
      clear) check "fake scrypt log: the clear fingerprint named" 1 \
        "$(grep -c '^FAIL blinded: entries \[3\] carry the fingerprint 04[0-9a-f]* in clear' "$T/oracle.out")" ;;
    esac
    stop_pid "$PYPID"
  done
else
  echo "skip  the fake log (fake_log.py needs python3-cryptography)"
fi
oracle "nothing listening" 4 --url "http://127.0.0.1:$(free_port)"
oracle "usage" 2 --url

# --- keydird ----------------------------------------------------------------
start_keydird server --add-rate 0 --wkd-domain keydir.test
echo "keydird on $U"
check "GET /log/checkpoint" 200 "$(http_status "$U/log/checkpoint")"
[ "$fails" = 0 ] || finish  # no log served: nothing more to check
tree_size() { curl -sf "$U/log/checkpoint" | sed -n 2p; }
upload() {
  local f
  for f in "$@"; do
    check "upload $(basename "$f")" 200 "$(curl -s -o "$T/add.out" -w '%{http_code}' \
      --data-urlencode "keytext@$f" "$U/pks/add")"
  done
}
size_at_least() { [ "$(tree_size)" -ge "$1" ] 2>/dev/null; }

size0=$(tree_size)
check "a new log holds its header" 1 "$size0"
upload "$DATA/gpg-ed25519.asc" "$DATA/gpg-rsa2048.asc" "$DATA/gpg-nistp256.asc"
wait_for size_at_least 4 || true
check "3 uploads: 3 entries more" 4 "$(tree_size)"
oracle "first look, --full" 0 --url "$U" --full --state "$T/state"
check "state holds the checkpoint" "$(curl -s "$U/log/checkpoint")" "$(cat "$T/state")"
cp "$T/state" "$T/checkpoint.old"
curl -s "$U/log/vkey" >"$T/vkey"

# More certificates: several user IDs, v6 or not, revoked, a re-upload.
more=()
for f in "$DATA"/gpg-multi.asc "$DATA"/gpg-rsa3072.asc "$DATA"/sq-cv25519.asc "$DATA"/gpg-revoked.asc \
  "$DATA"/gpg-brainpoolp256.asc "$DATA"/gpg-ed25519.asc; do
  [ -f "$f" ] && more+=("$f")
done
upload "${more[@]}"
wait_for size_at_least 9 || true
size1=$(tree_size)
check "5 new certificates and an unchanged re-upload: 5 entries more" 9 "$size1"
oracle "after more uploads (size $size1), --full, consistency" 0 --url "$U" --full --state "$T/state" \
  --vkey-file "$T/vkey" --inclusion 0,1,3
check "consistency checked" 1 "$(grep -c '^ok   consistency: size 4 -> ' "$T/oracle.out")"
check "inclusion against the stored size checked" 1 "$(grep -c '^ok   inclusion: .* against the stored size 4 verify' "$T/oracle.out")"

# A certificate changes: a user ID added, then one revoked (each upload an
# entry: commitments 1, 2, then 1); an operator deletes another (a deletion
# entry).
G="timeout 30 gpg --batch --no-tty --passphrase '' --pinentry-mode loopback"
export GNUPGHOME=$T/gnupg-change
mkdir -m 700 "$GNUPGHOME"
$G --quick-gen-key "Change <change@keydir.test>" ed25519 default never 2>/dev/null
CFPR=$(gpg --with-colons --list-keys change@keydir.test 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}')
gpg --export --armor "$CFPR" >"$T/change1.asc"
$G --quick-add-uid "$CFPR" "Change Two <change2@keydir.test>" 2>/dev/null
gpg --export --armor "$CFPR" >"$T/change2.asc"
$G --quick-revoke-uid "$CFPR" "Change <change@keydir.test>" 2>/dev/null
gpg --export --armor "$CFPR" >"$T/change3.asc"
unset GNUPGHOME
upload "$T/change1.asc" "$T/change2.asc" "$T/change3.asc"
fpr_of() { gpg --with-colons --show-keys "$1" 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'; }
check "admin delete (rsa2048)" 0 "$("$B/keydird" admin delete --data "$T/server" "$(fpr_of "$DATA/gpg-rsa2048.asc")" >/dev/null 2>&1; echo $?)"
wait_for size_at_least 13 || true
check "3 uploads of a changing certificate and a deletion: 4 entries more" 13 "$(tree_size)"
oracle "after changes and a deletion" 0 --url "$U" --full --state "$T/state" --vkey-file "$T/vkey"
check "a deletion entry among them" 1 "$(grep -c '^ok   entries: .* 1 deletion entries' "$T/oracle.out")"

# 300 certificates in one upload: a full tile, a partial one, level 1.
mkdir -m 700 "$T/gnupg-bulk"
for i in $(seq 300); do
  printf 'Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Email: bulk%d@keydir.test\nExpire-Date: 0\n%%no-protection\n%%commit\n' "$i"
done >"$T/bulk.params"
GNUPGHOME=$T/gnupg-bulk timeout 120 gpg --batch --gen-key "$T/bulk.params" 2>/dev/null
GNUPGHOME=$T/gnupg-bulk gpg --export --armor >"$T/bulk.asc"
upload "$T/bulk.asc"
wait_for size_at_least 313 || true
check "300 certificates: 300 entries more" 313 "$(tree_size)"
oracle "313 entries, two tiles" 0 --url "$U" --full --state "$T/state" --vkey-file "$T/vkey" --inclusion 255,256,312
check "tile 0/000 full, tile 0/001 partial" 1 "$(grep -c '^ok   tiles: GET /log/tile/0/001.p/56 is a prefix of the verified tile of width 57' "$T/oracle.out")"
size1=$(tree_size)

# Lookups with Keydir-Log-Proof: 1 answer what the log commits to.
oracle "lookups with Keydir-Log-Proof: 1" 0 --url "$U" --full --lookups --wkd \
  --address ed25519@keydir.test,Multi@keydir.test,Bulk7@keydir.test,second@keydir.test,gone@keydir.test,revoked@keydir.test,nobody@keydir.test,rsa2048@keydir.test,change@keydir.test,Change2@keydir.test

# A wrong pinned key: the checkpoint's signature is not by it.
python3 -c 'import sys,base64,hashlib
o,h,k = open(sys.argv[1]).read().strip().split("+",2)
raw = bytearray(base64.b64decode(k)); raw[5] ^= 1
print("%s+%s+%s" % (o, hashlib.sha256(o.encode()+b"\n"+bytes(raw)).digest()[:4].hex(), base64.b64encode(bytes(raw)).decode()))' \
  "$T/vkey" >"$T/vkey.wrong"
oracle "a wrong pinned key" 1 --url "$U" --vkey-file "$T/vkey.wrong"

# A restart keeps the log and its key.
stop_keydird
APPEND_LOG=1 start_keydird server --add-rate 0 --wkd-domain keydir.test --data "$T/server"
check "restart: same tree size" "$size1" "$(tree_size)"
oracle "after a restart (same key, consistent)" 0 --url "$U" --full --state "$T/state" --vkey-file "$T/vkey"

# A proxy that flips one byte of the level-0 hash tiles.
start_py flip "$HERE/log_proxy.py" "$U" --flip-tile
cp "$T/state" "$T/state.flip"
oracle "a flipped byte in /log/tile/0/..." 1 --url "http://127.0.0.1:$PYPORT" --full --state "$T/state.flip"
check "the tile is what failed" 1 "$(grep -c '^FAIL tree: .*downloaded inconsistent tile' "$T/oracle.out")"
check "the state is not overwritten after a failure" "$(cat "$T/state")" "$(cat "$T/state.flip")"
stop_pid "$PYPID"

# A proxy that answers the first checkpoint: the log went back.
start_py rollback "$HERE/log_proxy.py" "$U" --checkpoint "$T/checkpoint.old"
oracle "rollback to the checkpoint of size 4" 3 --url "http://127.0.0.1:$PYPORT" --state "$T/state"
check "rollback named" 1 "$(grep -c '^FAIL rollback: the log shrank' "$T/oracle.out")"
stop_pid "$PYPID"

finish "the transparency log agrees with Go's tlog and note"
