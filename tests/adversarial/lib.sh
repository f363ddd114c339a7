# Shared helpers of the attacker's suite; source it after `set -euo pipefail`.
# Arguments of every script: BUILD_DIR (keydird, keydir) DATA_DIR (tests/data)
# TOOLS_DIR (make_attack_keys).
B=${1:?usage: SCRIPT BUILD_DIR DATA_DIR TOOLS_DIR}
DATA=${2:?usage: SCRIPT BUILD_DIR DATA_DIR TOOLS_DIR}
TOOLS=${3:?usage: SCRIPT BUILD_DIR DATA_DIR TOOLS_DIR}
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
use_temp_dir

# attack TITLE: starts the report of one attack.
attack() {
  echo
  echo "== attack: $1"
}
# answered WHAT TEXT: what the server (or the tool) answered, for the report.
answered() {
  printf '   %s -> %s\n' "$1" "$(printf '%s' "$2" | tr '\n' ' ' | cut -c1-300)"
}

# start_keydird NAME ARGS...: keydird serve on a free loopback port (LISTEN,
# default 127.0.0.1:0) with the data folder $T/NAME and the extra ARGS; waits
# until it serves. Sets PORT, U (its base URL) and SERVER_PID; the log is
# $T/NAME.log.
start_keydird() {
  local name=$1
  shift
  # The log exists before the server starts: the background child opens it
  # only once it runs, and a sed that finds no file would end the script.
  : >"$T/$name.log"
  "$B/keydird" serve --listen "${LISTEN:-127.0.0.1:0}" --data "$T/$name" "$@" >>"$T/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  PORT=""
  for _ in $(seq 100); do
    PORT=$(sed -n 's/.*serving.*:\([0-9]*\)$/\1/p' "$T/$name.log" | head -n 1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$PORT" ] || { cat "$T/$name.log"; echo "keydird did not start"; exit 1; }
  U=http://127.0.0.1:$PORT
  [[ "${LISTEN:-}" == "["* ]] && U="http://[::1]:$PORT"
  return 0
}
# stop_keydird: SIGTERM to the last started server, and wait for it.
stop_keydird() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# http_status URL CURL_ARGS...: the status code of one request.
http_status() {
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' "$@" "$url"
}

# finish: the summary line; exit 1 when a check failed.
finish() {
  echo
  if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
  fi
  echo "every attack was defeated"
}
