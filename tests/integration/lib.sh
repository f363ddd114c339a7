# Shared helpers of the end-to-end test scripts; source it after `set -euo pipefail`.

fails=0
# check NAME EXPECTED ACTUAL: one "ok" or "FAIL" line; failures are counted.
check() {
  if [ "$2" == "$3" ]; then
    echo "ok    $1"
  else
    echo "FAIL  $1: expected [$2], got [$3]"
    fails=$((fails + 1))
  fi
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

# use_temp_dir: a fresh folder in T and an empty PIDS array; at exit every
# process in PIDS is killed and T removed.
use_temp_dir() {
  T=$(mktemp -d)
  PIDS=()
  trap cleanup_temp_dir EXIT
}
cleanup_temp_dir() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
