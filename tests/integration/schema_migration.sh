#!/usr/bin/env bash
# The on-disk schema end to end, with the real keydird on a store of keydird
# before 0.1.0 (tests/data/store-v1.tar.gz: schema 1, verified mode, six keys
# imported, two addresses published, one key deleted, a token key; made with
# keydird at e69ef11 and compacted). keydird serve migrates it once, a backup
# first, and serves it; keydird check passes; a second open migrates nothing;
# the backup is the store as it was. A store of a later schema is refused
# with the message that says to install a newer keydird; a store that needs
# migrating and cannot be written is refused with the command that migrates
# it. Permission denied on LOCK and a lock held by another keydird each say
# what they are; no "rocksdb:" line reaches a command's output.
#   schema_migration.sh BUILD_DIR DATA_DIR STORE_META_TOOL
set -euo pipefail
B=$(cd "${1:?usage: schema_migration.sh BUILD_DIR DATA_DIR STORE_META_TOOL}" && pwd)
DATA=$(cd "${2:?usage: schema_migration.sh BUILD_DIR DATA_DIR STORE_META_TOOL}" && pwd)
META=${3:?usage: schema_migration.sh BUILD_DIR DATA_DIR STORE_META_TOOL}
source "$(dirname "$0")/lib.sh"
use_temp_dir
K=$B/keydird
VERSION=$("$K" --version | awk '{print $2}')
SMTP=(--smtp-url smtp://127.0.0.1:1 --smtp-from keys@keydir.test)
ED=67CF1313E65F6635FA4F0978D77690A8A4055BFC     # address published
MULTI=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA  # addresses not published
GONE=D0E2BA71D092026ACBBB9E15E5A093D37D4318C0   # deleted (a tombstone)
on_failure() { for f in "$T"/*.log; do echo "--- $f"; tail -n 20 "$f"; done; }

# untar NAME: a fresh copy of the fixture in $T/NAME; prints its data folder.
untar() {
  mkdir -p "$T/$1"
  tar -xzf "$DATA/store-v1.tar.gz" -C "$T/$1"
  echo "$T/$1/store-v1"
}
# has TEXT STRING: yes when STRING contains TEXT.
has() { [[ "$2" == *"$1"* ]] && echo yes || echo no; }

echo "== a store of keydird before 0.1.0, served"
S=$(untar a)
check "the fixture is schema 1" 1 "$("$META" "$S" get schema)"
token=$(sha256sum <"$S/token.key")
start_keydird a --data "$S" "${SMTP[@]}"
check "serve logs one migration line" 1 \
  "$(grep -c "^keydird: migrated the store in $S from schema 1 to 2 in .* s; the store as it was: $S/backups/pre-migration-1-2-" "$T/a.log")"
shopt -s nullglob
backups=("$S"/backups/pre-migration-1-2-*)
check "one backup, named for the step" 1 "${#backups[@]}"
check "the backup is a store" yes "$([ -f "${backups[0]}/CURRENT" ] && echo yes || echo no)"
check "the backup holds the token key" "$token" "$(sha256sum <"${backups[0]}/token.key")"
check "the backups folder is private (0700)" 700 "$(stat -c %a "$S/backups")"
check "HKP get by fingerprint" 200 "$(http_status "$U/pks/lookup?op=get&search=0x$ED")"
check "the answer is the key" yes \
  "$(has "BEGIN PGP PUBLIC KEY BLOCK" "$(curl -s "$U/pks/lookup?op=get&search=0x$ED")")"
check "HKP get by the published address" 200 \
  "$(http_status "$U/pks/lookup?op=get&search=ed25519@keydir.test")"
check "HKP index by the published address names the key" yes \
  "$(has "pub:$ED" "$(curl -s "$U/pks/lookup?op=index&options=mr&search=ed25519@keydir.test")")"
check "a key with no published address, by fingerprint" 200 \
  "$(http_status "$U/pks/lookup?op=get&search=0x$MULTI")"
check "its addresses stay unpublished" 404 \
  "$(http_status "$U/pks/lookup?op=get&search=multi@keydir.test")"
check "the deleted key stays deleted" 404 "$(http_status "$U/pks/lookup?op=get&search=0x$GONE")"
stop_pid "$SERVER_PID"

echo "== opened again"
rc=0
out=$("$K" check --data "$S" 2>&1) || rc=$?
check "keydird check passes" 0 "$rc"
check "keydird check: 5 certificates, consistent" yes "$(has "5 certificates, 48 index entries: consistent" "$out")"
check "no second migration" no "$(has migrated "$out")"
check "no rocksdb line in the output" no "$(has "rocksdb:" "$out")"
backups=("$S"/backups/pre-migration-*)
check "still one backup" 1 "${#backups[@]}"
check "keydird migrate: nothing to migrate" \
  "the store in $S has schema 2, the one this keydird reads: nothing to migrate" \
  "$("$K" migrate --data "$S" 2>&1)"
"$K" compact --data "$S" >/dev/null  # no merge left in its log (store_meta_tool)
check "the store records schema 2" 2 "$("$META" "$S" get schema)"
check "the audit log has the migration" yes \
  "$(has "migrate from=1 to=2" "$("$K" admin log --data "$S" 2>&1)")"
check "the schema history" yes "$(has "2 migrated from 1 by keydird $VERSION" "$("$META" "$S" get schema.history)")"
check "stats leaves the backup out of the size" yes \
  "$(awk -v d="$("$K" stats --data "$S" | awk '/^disk_bytes/ {print $2}')" \
       -v all="$(du -sb --count-links "$S" | cut -f1)" 'BEGIN { print (d < all) ? "yes" : "no" }')"
echo "migration $(du -sh "${backups[0]}" | cut -f1) backup of a $(du -sh --exclude=backups "$S" | cut -f1) store"

echo "== the backup is the store as it was"
check "the backup is schema 1" 1 "$("$META" "${backups[0]}" get schema)"
cp -a "${backups[0]}" "$T/restored"
rc=0
out=$("$K" migrate --data "$T/restored" 2>&1) || rc=$?
check "keydird migrate on a copy of it" 0 "$rc"
check "keydird migrate says it migrated" yes "$(has "keydird migrate: migrated the store in $T/restored from schema 1 to 2" "$out")"
check "keydird migrate says where it stands" yes "$(has "the store in $T/restored now has schema 2" "$out")"
check "the copy checks" yes "$(has "5 certificates" "$("$K" check --data "$T/restored" 2>&1)")"

echo "== a store of a later schema"
S2=$(untar b)
"$K" migrate --data "$S2" >/dev/null 2>&1
"$K" compact --data "$S2" >/dev/null  # no merge left in its log (store_meta_tool)
"$META" "$S2" set schema 3
want="$S2: this store has schema 3; this keydird $VERSION reads up to 2: install a newer keydird"
for cmd in "serve --listen 127.0.0.1:0 ${SMTP[*]}" check "dump --out $T/dump" stats "admin log" migrate; do
  rc=0
  # shellcheck disable=SC2086
  out=$("$K" $cmd --data "$S2" 2>&1) || rc=$?
  name=${cmd%% -*}
  check "keydird $name refuses it" "1 keydird $name: $want" "$rc $out"
done
backups=("$S2"/backups/*)
check "it is left as it was (schema 3, only the backup of its migration to 2)" "3 1" \
  "$("$META" "$S2" get schema) ${#backups[@]}"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
  echo "skip  the read-only checks need root (setpriv to another user, a private mount namespace)"
  finish
  exit 0
fi
chmod 755 "$T"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

echo "== a store that needs migrating, not writable by this user"
S3=$(untar c)
chmod -R a+rX "$T/c"
for cmd in "serve --listen 127.0.0.1:0 ${SMTP[*]}" check migrate; do
  rc=0
  # shellcheck disable=SC2086
  out=$(as_nobody "$K" $cmd --data "$S3" 2>&1) || rc=$?
  check "keydird $cmd as another user" \
    "1 keydird ${cmd%% *}: the store in $S3 has schema 1 and this keydird $VERSION reads 2: it must be migrated once, which needs write access, and this user cannot write $S3/LOCK: run \`keydird migrate --data $S3\` as the user that owns $S3 (root); it takes a backup first" \
    "$rc $out"
done
check "untouched: schema 1, no backup" "1 no" \
  "$("$META" "$S3" get schema) $([ -d "$S3/backups" ] && echo yes || echo no)"

echo "== a current store, not writable by this user"
rc=0
out=$(as_nobody "$K" check --data "$S" 2>&1) || rc=$?
check "permission denied on LOCK says so" \
  "1 keydird check: cannot write $S/LOCK: permission denied (run as the user that owns $S (root), or fix its permissions)" \
  "$rc $out"

echo "== a store that needs migrating, on a read-only file system"
S4=$(untar d)
rc=0
out=$(unshare --mount bash -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && "$2" check --data "$1"' _ "$S4" "$K" 2>&1) || rc=$?
check "keydird check on a read-only file system" \
  "1 keydird check: the store in $S4 has schema 1 and this keydird $VERSION reads 2: it must be migrated once, which needs write access, and $S4 is on a read-only file system: make it writable and run \`keydird migrate --data $S4\` as the user that owns $S4 (root); it takes a backup first" \
  "$rc $out"

echo "== root does not migrate a store another user owns (a planted link or file could lead it astray)"
S5=$(untar f)
chown -R 65534:65534 "$T/f"
rc=0
out=$("$K" migrate --data "$S5" 2>&1) || rc=$?
check "keydird migrate as root on nobody's store: refused with the command" \
  "1 yes" "$rc $(has "only its owner (nobody) may migrate it: run \`keydird migrate --data $S5\` as nobody" "$out")"
check "... nothing written: schema 1, no backups folder" "1 no" \
  "$("$META" "$S5" get schema) $([ -e "$S5/backups" ] && echo yes || echo no)"

echo "== the owner's migration never writes through a planted link, nor copies a planted mode"
S6=$(untar g)
mkdir -p "$T/victim"
chmod 755 "$T/victim"
ln -s "$T/victim" "$S6/backups"
rc=0
out=$("$K" migrate --data "$S6" 2>&1) || rc=$?
check "backups as a symbolic link: refused" "1 yes" "$rc $(has "backups is a symbolic link or not a folder" "$out")"
check "... the link's target untouched (0755, empty)" "755 0" \
  "$(stat -c %a "$T/victim") $(find "$T/victim" -mindepth 1 | wc -l)"
rm "$S6/backups"
chmod 04755 "$S6/token.key"
rc=0
"$K" migrate --data "$S6" >/dev/null 2>&1 || rc=$?
copies=("$S6"/backups/pre-migration-*/token.key)
check "a setuid token.key: migrated, its copy 0600 (mode never copied)" "0 600" "$rc $(stat -c %a "${copies[0]}")"

echo "== a lock held by a running keydird"
APPEND_LOG=0 start_keydird e "${SMTP[@]}" --data "$S"
rc=0
out=$("$K" migrate --data "$S" 2>&1) || rc=$?
check "keydird migrate while it runs: in use" yes "$(has "data folder $S is in use by another keydird process" "$out")"
stop_pid "$SERVER_PID"

echo "== a mode change on a store of keydird before the transparency log"
S7=$(untar g)
out=$("$K" admin set-mode open --data "$S7" --yes 2>&1)
changed=$(sed -n 's/^the store is in mode open; \([0-9]*\) keys re-indexed$/\1/p' <<<"$out")
# The log starts first: its backfill logs every key (five) in the new mode's
# form, and only the three keys whose addresses change are written again.
check "set-mode open re-indexes the three keys whose addresses change" 3 "$changed"
check "the log: the header, one entry per key, one per re-indexed key" \
  "9 log entries" "$("$K" log verify --data "$S7" | grep -o '^[0-9]* log entries')"
check "keydird check after it" 0 "$("$K" check --data "$S7" >/dev/null 2>&1; echo $?)"

finish
