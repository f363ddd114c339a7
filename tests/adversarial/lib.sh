# Shared helpers of the attacker's suite; source it after `set -euo pipefail`.
# Arguments of every script: BUILD_DIR (keydird, keydir) DATA_DIR (tests/data)
# TOOLS_DIR (make_attack_keys). The harness (tests/support/harness.sh) gives
# check, finish, start_keydird, stop_keydird, http_status, wait_until and the
# rest; a temporary folder T is made and removed at exit.
B=${1:?usage: SCRIPT BUILD_DIR DATA_DIR TOOLS_DIR}
DATA=${2:?usage: SCRIPT BUILD_DIR DATA_DIR TOOLS_DIR}
TOOLS=${3:?usage: SCRIPT BUILD_DIR DATA_DIR TOOLS_DIR}
source "$(dirname "${BASH_SOURCE[0]}")/../support/harness.sh"
use_temp_dir
FINISH_OK="every attack was defeated"

# attack TITLE: starts the report of one attack.
attack() {
  echo
  echo "== attack: $1"
}
# answered WHAT TEXT: what the server (or the tool) answered, for the report.
answered() {
  printf '   %s -> %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)"
}
