#!/usr/bin/env bash
# The two commands of the README quick start:
#   deploy/keydir.sh run    install what is missing, build, run the programs
#   deploy/keydir.sh test   install what is missing, build, run every test
# Environment: BUILD_DIR (default build), JOBS (default: number of cores),
# FUZZ_SECONDS (default 60 per target; 0 skips fuzzing), SANITIZE (default 1: the
# whole suite again on an ASan + UBSan build; 0 skips it).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
SANITIZE=${SANITIZE:-1}

build() {
  bash deploy/setup.sh
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

fuzz_smoke() {
  # libFuzzer + ASan + UBSan: armor, packet parsing and validation
  # (fuzz_certificate), the whole HTTP API behind the network (fuzz_api),
  # what an SKS reconciliation peer sends (fuzz_recon), and what a server
  # answers the client (fuzz_client: index lines, VKS JSON, keys, WKD), and
  # what an HTTP client sends keydird (fuzz_http: the request parser).
  local dir="$BUILD_DIR-fuzz"
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DKEYDIR_FUZZ=ON -DKEYDIR_TESTS=OFF \
    -DKEYDIR_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$dir" -j "$JOBS" --target fuzz_certificate fuzz_api fuzz_recon \
    fuzz_client fuzz_http
  local target corpus
  for target in certificate api recon client http; do
    corpus=$(mktemp -d)
    cp tests/fuzz/corpus/$target/* "$corpus"/
    local extra=()
    [ -d "tests/fuzz/regressions/$target" ] && extra=("tests/fuzz/regressions/$target")
    echo "fuzz_$target: $FUZZ_SECONDS s"
    "$dir/fuzz_$target" -max_total_time="$FUZZ_SECONDS" -max_len=65536 \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" \
      "${extra[@]+"${extra[@]}"}" 2>&1 | tail -n 15
    rm -rf "$corpus"
  done
}

# Waits for the package and container tests started in the background,
# prints what they said, and fails the run if they failed.
package_wait() {
  local rc=0
  wait "$1" || rc=$?
  echo "--- package and container tests (ctest -L package) ---"
  cat "$2"
  return "$rc"
}

case "${1:-}" in
  run)
    build
    # LISTEN (default 127.0.0.1:11371) and DATA (default ./data) may be set.
    echo "Starting keydird: HKP on http://${LISTEN:-127.0.0.1:11371}, data in ${DATA:-data}/"
    echo "  gpg --keyserver hkp://${LISTEN:-127.0.0.1:11371} --send-keys FPR   (Ctrl-C stops)"
    exec "$BUILD_DIR/keydird" serve --listen "${LISTEN:-127.0.0.1:11371}" --data "${DATA:-data}"
    ;;
  test)
    bash deploy/setup.sh
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    # The static checks before anything compiles (formatting, the layering,
    # statuses by name: seconds), then the fast lane (unit tests, fuzz
    # corpora replayed: about 30 s), then the end-to-end and attack scripts
    # and clang-tidy.
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" -L static)
    cmake --build "$BUILD_DIR" -j "$JOBS"
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" -L fast -LE static)
    (cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" -LE "fast|package")
    # The Debian packages and the container, made from this build (no second
    # compile), installed in a clean Debian 12 root and run in Docker: mostly
    # waiting for Debian's archive and the engine, so they run while the
    # sanitizer build compiles; their output follows when they end.
    package_log="$BUILD_DIR/package-tests.log"
    (cd "$BUILD_DIR" && ctest --output-on-failure -j 1 -L package) >"$package_log" 2>&1 &
    package_pid=$!
    if [ "$SANITIZE" = "0" ]; then
      package_wait "$package_pid" "$package_log"
    fi
    if [ "$SANITIZE" != "0" ]; then
      # Every test again, every binary built with AddressSanitizer and
      # UndefinedBehaviorSanitizer (a report aborts the process).
      cmake -S . -B "$BUILD_DIR-asan" -DKEYDIR_SANITIZE=ON -DKEYDIR_BENCH=OFF \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
      cmake --build "$BUILD_DIR-asan" -j "$JOBS"
      package_wait "$package_pid" "$package_log"
      (cd "$BUILD_DIR-asan" && ctest --output-on-failure -j "$JOBS" -L fast -LE static)
      (cd "$BUILD_DIR-asan" && ctest --output-on-failure -j "$JOBS" -LE "fast|static|lint|package")
    fi
    if [ "$FUZZ_SECONDS" != "0" ]; then
      fuzz_smoke
    fi
    ;;
  *)
    echo "usage: deploy/keydir.sh run|test" >&2
    exit 2
    ;;
esac
