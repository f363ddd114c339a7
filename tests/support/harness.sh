# The harness of the end-to-end test scripts (tests/integration/*.sh,
# tests/adversarial/*.sh); source it after `set -euo pipefail`, with B set to
# the folder of keydird and keydir when start_keydird is used:
#   source "$(dirname "$0")/../support/harness.sh"
# Checks:    check NAME EXPECTED ACTUAL, finish [SUCCESS_LINE]
# Folders:   use_temp_dir (T, PIDS, cleanup at exit), cleanup
# Processes: start_keydird NAME ARGS..., wait_serving LOG PID [N], stop_pid PID,
#            start_smtp_sink, free_port, make_test_ca
# Waiting:   wait_until SECONDS CMD..., wait_for CMD..., wait_port HOST PORT,
#            wait_http URL (poll a condition every WAIT_INTERVAL s, 0.1 by
#            default, up to a deadline; never a fixed sleep)

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fails=0
PIDS=()

# check NAME EXPECTED ACTUAL: one "ok" or "FAIL" line; failures are counted.
check() {
  if [ "$2" == "$3" ]; then
    echo "ok    $1"
  else
    echo "FAIL  $1: expected [$2], got [$3]"
    fails=$((fails + 1))
  fi
}

# finish [SUCCESS_LINE]: the summary line; exit 1 when a check failed (after
# calling on_failure, when the script defines it, e.g. to print log tails).
# The default success line is $FINISH_OK, else "all checks passed".
finish() {
  if [ "$fails" -ne 0 ]; then
    if declare -F on_failure >/dev/null; then on_failure || true; fi
    echo "$fails check(s) failed"
    exit 1
  fi
  echo "${1:-${FINISH_OK:-all checks passed}}"
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_test_ca DIR CN SAN CERT KEY: a test CA (DIR/ca.pem) and a server
# certificate for CN with subjectAltName SAN (e.g. "DNS:localhost,IP:127.0.0.1"),
# written to DIR/CERT and DIR/KEY.
make_test_ca() {
  local dir=$1 cn=$2 san=$3 cert=$4 key=$5
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=keydir test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
    -keyout "$dir/$key" -out "$dir/tls.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$dir/ext.cnf"
  openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 30 -extfile "$dir/ext.cnf" -out "$dir/$cert" 2>/dev/null
}

# use_temp_dir: a fresh folder in T and an empty PIDS array; at exit
# `cleanup` runs. CLEANUP: more commands for it (eval'd first, e.g. stopping
# a daemon whose pid is in a file).
use_temp_dir() {
  T=$(mktemp -d)
  PIDS=()
  CLEANUP=()
  trap cleanup EXIT
}
# cleanup: the CLEANUP commands, every process in PIDS killed (SIGTERM) and
# reaped, the gpg agents of every GNUPGHOME under T ($T/gnupg*) stopped, T
# removed.
cleanup() {
  local c p h
  for c in "${CLEANUP[@]}"; do eval "$c" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${T:-}" ] && [ -d "$T" ]; then
    if command -v gpgconf >/dev/null; then
      for h in "$T"/gnupg*; do [ -d "$h" ] && GNUPGHOME=$h gpgconf --kill all 2>/dev/null; done
    fi
    rm -rf "$T"
  fi
  return 0
}
cleanup_temp_dir() { cleanup; }  # the former name

# wait_until SECONDS CMD...: runs CMD every WAIT_INTERVAL seconds (0.1 by
# default) until it succeeds (returns 0) or SECONDS have passed (returns 1).
# WAITED: the seconds it took (one decimal). CMD runs in this shell, so it may
# be a function that updates variables. Under `set -e` write
# `wait_until ... || true` when a check follows that reports the failure.
wait_until() {
  local limit_us start now
  limit_us=$(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')
  shift
  start=${EPOCHREALTIME/./}
  while true; do
    if "$@"; then
      now=${EPOCHREALTIME/./}
      WAITED=$(((now - start) / 1000000)).$((((now - start) / 100000) % 10))
      return 0
    fi
    now=${EPOCHREALTIME/./}
    if [ $((now - start)) -ge "$limit_us" ]; then
      WAITED=timeout
      return 1
    fi
    sleep "${WAIT_INTERVAL:-0.1}"
  done
}
# wait_for CMD...: wait_until with the default deadline, WAIT_DEADLINE (10 s).
wait_for() { wait_until "${WAIT_DEADLINE:-10}" "$@"; }

# port_open HOST PORT: does a TCP connection to HOST:PORT succeed?
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
# wait_port HOST PORT [SECONDS]: until HOST:PORT takes connections (20 s).
wait_port() { wait_until "${3:-20}" port_open "$1" "$2"; }
# http_answers URL: does URL give any HTTP answer?
http_answers() { curl -s -o /dev/null --max-time 5 "$1"; }
# wait_http URL [SECONDS]: until URL gives any HTTP answer (20 s).
wait_http() { wait_until "${2:-20}" http_answers "$1"; }

# gpg_home NAME: a fresh GNUPGHOME ($T/gnupg-NAME, 0700) whose dirmngr asks
# the keydird on 127.0.0.1:$PORT; prints its path.
gpg_home() {
  local h="$T/gnupg-$1"
  mkdir -p -m 700 "$h"
  echo "keyserver hkp://127.0.0.1:$PORT" >"$h/dirmngr.conf"
  echo "$h"
}

# http_status URL CURL_ARGS...: the status code of one request.
http_status() {
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' "$@" "$url"
}

# serving_count LOG: the "serving" lines keydird wrote to LOG.
serving_count() { grep -c '^keydird: serving' "$1" 2>/dev/null || true; }
_serving_or_dead() {  # LOG PID N: LOG has more than N serving lines, or PID is gone
  [ "$(serving_count "$1")" -gt "$3" ] || ! kill -0 "$2" 2>/dev/null
}
# wait_serving LOG PID [N]: waits (20 s at most, KEYDIRD_START_DEADLINE) until
# the keydird PID wrote its (N+1)th "serving" line to LOG (N: the lines of
# earlier runs, 0 by default); sets PORT from that line and checks that the
# port takes connections. Exits the script with the log's tail when keydird
# dies or does not serve in time.
wait_serving() {
  local log=$1 pid=$2 n=${3:-0} deadline=${KEYDIRD_START_DEADLINE:-20}
  wait_until "$deadline" _serving_or_dead "$log" "$pid" "$n" || true
  PORT=$(sed -n 's/^keydird: serving.*:\([0-9]*\)$/\1/p' "$log" 2>/dev/null | tail -n 1)
  if [ "$(serving_count "$log")" -le "$n" ] || [ -z "$PORT" ]; then
    echo "--- tail of $log"
    tail -n 30 "$log" 2>/dev/null || true
    if kill -0 "$pid" 2>/dev/null; then
      echo "FAIL  keydird ($log) did not serve within $deadline s"
    else
      echo "FAIL  keydird ($log) exited before it served"
    fi
    exit 1
  fi
  local host=127.0.0.1
  [[ "$(tail -n 1 "$log")" == *"//::1:"* || "${LISTEN:-}" == "["* ]] && host=::1
  wait_port "$host" "$PORT" 5 || { echo "FAIL  keydird ($log) said serving, but $host:$PORT is closed"; exit 1; }
}

# start_keydird NAME ARGS...: `keydird serve` in the background with the
# data folder $T/NAME (unless ARGS hold --data), on LISTEN (default
# 127.0.0.1:0, a free port; unless ARGS hold --listen), its output in
# $T/NAME.log (emptied first; APPEND_LOG=1 keeps what earlier runs wrote).
# Waits until it serves (wait_serving). Sets PORT, U (its base URL) and
# SERVER_PID, and adds the pid to PIDS.
start_keydird() {
  local name=$1 a
  shift
  local log=$T/$name.log extra=()
  local has_data=0 has_listen=0
  for a in "$@"; do
    case "$a" in
      --data | --data=*) has_data=1 ;;
      --listen | --listen=*) has_listen=1 ;;
    esac
  done
  [ "$has_listen" = 1 ] || extra+=(--listen "${LISTEN:-127.0.0.1:0}")
  [ "$has_data" = 1 ] || extra+=(--data "$T/$name")
  # The log exists before the server starts: the background child opens it
  # only once it runs.
  [ "${APPEND_LOG:-0}" = 1 ] || : >"$log"
  touch "$log"
  local n
  n=$(serving_count "$log")
  "$B/keydird" serve "${extra[@]}" "$@" >>"$log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_serving "$log" "$SERVER_PID" "$n"
  U=http://127.0.0.1:$PORT
  [[ "${LISTEN:-}" == "["* ]] && U="http://[::1]:$PORT"
  return 0
}

# _reap PID: waits for the child PID; its exit status, or 127 when PID is not
# a child of this shell.
_reap() { wait "$1" 2>/dev/null; }
# stop_pid PID [SECONDS]: SIGTERM to PID, SIGKILL if it still runs after
# SECONDS (10); waits until it is gone. Always returns 0; its exit status is in
# STOP_RC (127: not a child of this shell).
stop_pid() {
  local pid=$1 secs=${2:-10}
  STOP_RC=0
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  # A watchdog sends SIGKILL at the deadline; `wait` returns as soon as the
  # process ends (kill -0 cannot tell: it succeeds on an unreaped child).
  ( for _ in $(seq $((secs * 10))); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null ) >/dev/null 2>&1 &
  local dog=$!
  _reap "$pid" && STOP_RC=0 || STOP_RC=$?
  if [ "$STOP_RC" = 127 ]; then  # not our child: it ends when it ends
    _gone() { ! kill -0 "$1" 2>/dev/null; }
    wait_until "$((secs + 1))" _gone "$pid" || true
  fi
  kill "$dog" 2>/dev/null || true
  wait "$dog" 2>/dev/null || true
  return 0
}
# stop_keydird: stop_pid of the last keydird start_keydird started.
stop_keydird() { stop_pid "$SERVER_PID"; }

# start_smtp_sink: Debian's python3-aiosmtpd on a free port, every message a
# file in $T/mail/new. Sets SPORT; waits until it takes connections.
start_smtp_sink() {
  SPORT=$(free_port)
  /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SPORT" -c aiosmtpd.handlers.Mailbox "$T/mail" \
    >"$T/smtp.log" 2>&1 &
  PIDS+=($!)
  wait_port 127.0.0.1 "$SPORT" && [ -d "$T/mail/new" ] ||
    { cat "$T/smtp.log"; echo "FAIL  the SMTP sink did not start"; exit 1; }
}
