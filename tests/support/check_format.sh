#!/usr/bin/env bash
# Every C++ file of the repository is as clang-format (.clang-format) writes
# it. Prints the files that differ and how to fix them.
#   check_format.sh REPO_ROOT
set -euo pipefail
cd "$1"
if ! command -v clang-format >/dev/null; then
  echo "SKIP  clang-format is not installed (apt-get install clang-format)"
  exit 77
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null ||
                     find src api storage tests -name '*.cpp' -o -name '*.hpp')
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'differs from .clang-format: %s\n' "${bad[@]}"
  echo "FAIL  ${#bad[@]} of ${#files[@]} files: run clang-format -i on them"
  exit 1
fi
echo "ok    ${#files[@]} files formatted as .clang-format says"
