#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over keydir's own sources
# (src/, api/, storage/), using BUILD_DIR/compile_commands.json. Exits 1 on
# any finding; prints each.
#   run_clang_tidy.sh REPO_ROOT BUILD_DIR
set -euo pipefail
root=$1
build=$2
if ! command -v clang-tidy >/dev/null; then
  echo "SKIP  clang-tidy is not installed (apt-get install clang-tidy)"
  exit 77
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "FAIL  $build/compile_commands.json is missing (CMAKE_EXPORT_COMPILE_COMMANDS)"
  exit 1
fi
cd "$root"
mapfile -t files < <(git ls-files 'src/*.cpp' 'api/*.cpp' 'storage/*.cpp' 2>/dev/null ||
                     find src api storage -name '*.cpp')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# g++-only warning flags in the compile commands are not clang's: drop them.
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet \
    --extra-arg=-Wno-unknown-warning-option >"$out" 2>&1 || true
if grep -E "(warning|error):" "$out"; then
  echo "FAIL  clang-tidy findings in ${#files[@]} files (checks in .clang-tidy)"
  exit 1
fi
echo "ok    clang-tidy: ${#files[@]} files, no finding"
