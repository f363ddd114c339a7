#!/usr/bin/env bash
# Installs, on Debian 12, the packages keydir builds and tests with — only the
# missing ones, so a second run is quick. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

PACKAGES=(
  cmake g++ make pkg-config
  libcrypto++-dev libssl-dev libexpected-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev librocksdb-dev libpistache-dev libtomlplusplus-dev libcurl4-openssl-dev
  libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev
  gnupg sq curl wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
