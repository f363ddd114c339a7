#!/usr/bin/env bash
# A full disk and a read-only data folder: keydird on a small tmpfs in a
# private mount namespace (root only; CI is root). Uploads fail with 503 and
# a log line, lookups keep working, nothing stored is damaged.
#   disk_full_test.sh BUILD_DIR DATA_DIR
set -euo pipefail
B=$(cd "${1:?usage: disk_full_test.sh BUILD_DIR DATA_DIR}" && pwd)
DATA=$(cd "${2:?usage: disk_full_test.sh BUILD_DIR DATA_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
if ! unshare --mount true 2>/dev/null; then
  echo "skip  needs root for a private mount namespace (this run is not root)"
  exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rc=0
unshare --mount bash "$HERE/disk_full_inner.sh" "$B" "$DATA" "$T" || rc=$?
[ "$rc" -eq 0 ] && echo "all disk checks passed" || echo "$rc check(s) failed"
exit "$rc"
