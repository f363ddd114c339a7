#!/usr/bin/env bash
# Runs inside a private mount namespace (disk_full_test.sh).
#   disk_full_inner.sh BUILD_DIR DATA_DIR SCRATCH
B=$1 DATA=$2 T=$3
# The outer script owns T (and removes it): no use_temp_dir here.
source "$(dirname "$0")/../support/harness.sh"
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
upload() { code --data-urlencode "keytext@$1" "$U/pks/add"; }
start() {  # start NAME: keydird on the tmpfs store, its log $T/NAME.log; sets PID, U
  start_keydird "$1" --data "$T/mnt/data" --add-rate 0
  PID=$SERVER_PID
}
mkdir -p "$T/mnt"
mount -t tmpfs -o size=16m tmpfs "$T/mnt"
"$B/keydird" import --data "$T/mnt/data" "$DATA/gpg-multi.asc" >/dev/null 2>&1

# 1. The disk fills up under a running server.
start full
check "upload with room" 200 "$(upload "$DATA/gpg-rsa2048.asc")"
dd if=/dev/zero of="$T/mnt/fill" bs=64k 2>/dev/null
# The last page the write-ahead log holds may take one more small write.
first=""
for f in ed25519 nistp256 nistp384 nistp521 brainpoolp256 brainpoolp384; do
  c=$(upload "$DATA/gpg-$f.asc")
  [ "$c" != 200 ] && { first=$c; break; }
done
check "uploads on a full disk: 503" 503 "$first"
check "and the next one, without touching the disk" 503 "$(upload "$DATA/gpg-dsa2048.asc")"
check "the reason is logged" 1 "$(grep -c 'No space left on device' "$T/full.log" | awk '{print ($1 >= 1)}')"
check "the answer does not leak it" 0 "$(curl -s --data-urlencode "keytext@$DATA/gpg-dsa2048.asc" "$U/pks/add" | grep -c 'No space' || true)"
check "lookups keep working" 200 "$(code "$U/pks/lookup?op=get&search=multi@keydir.test")"
check "the key stored before is there" 200 "$(code "$U/pks/lookup?op=get&search=rsa2048@keydir.test")"
check "the server is still running" 0 "$(kill -0 "$PID"; echo $?)"
stop_pid "$PID"
rm -f "$T/mnt/fill"
check "after freeing room the store checks clean" 0 "$("$B/keydird" check --data "$T/mnt/data" --deep >/dev/null 2>&1; echo $?)"

# 2. A read-only data folder (a snapshot, a file system remounted read-only):
#    keydird serves lookups and refuses uploads.
mount -o remount,ro "$T/mnt"
start ro
check "a read-only data folder is served" 1 "$(grep -c serving "$T/ro.log")"
check "upload on a read-only data folder: 503" 503 "$(upload "$DATA/gpg-rsa3072.asc")"
check "lookups keep working (read-only)" 200 "$(code "$U/pks/lookup?op=get&search=multi@keydir.test")"
stop_pid "$PID"
mount -o remount,rw "$T/mnt"
check "the store checks clean afterwards" 0 "$("$B/keydird" check --data "$T/mnt/data" --deep >/dev/null 2>&1; echo $?)"
start again
check "and takes uploads again after a restart" 200 "$(upload "$DATA/gpg-ed25519.asc")"
stop_pid "$PID"
exit "$fails"
