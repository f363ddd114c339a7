#!/usr/bin/env bash
# Installs, on Debian 12, the packages keydir builds and tests with — only the
# missing ones, so a second run is quick. Needs root (or sudo) only when
# something is missing.
set -euo pipefail

PACKAGES=(
  cmake g++ make pkg-config
  libcrypto++-dev libssl-dev libexpected-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev librocksdb-dev libpistache-dev libtomlplusplus-dev libcurl4-openssl-dev
  libidn2-dev libunistring-dev  # IDNA2008 domains, NFC of e-mail addresses
  libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev
  gnupg gpg-wks-client sq curl wrk openssl iproute2
  chromium nodejs npm python3-aiosmtpd python3-idna nginx-light
  sks  # the peer of the SKS reconciliation interop test (never started as a service)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# A machine whose Node.js came from elsewhere (NodeSource) keeps it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  kept=()
  for p in "${missing[@]}"; do
    [ "$p" = nodejs ] || [ "$p" = npm ] || kept+=("$p")
  done
  missing=("${kept[@]+"${kept[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # sks is only a test peer: its services must not hold 11370/11371 on a
  # machine with systemd (they would fail without a database anyway).
  if printf '%s\n' "${missing[@]}" | grep -qx sks && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now sks.service sks-recon.service >/dev/null 2>&1 || true
  fi
fi

# The browser tests drive Debian's Chromium with playwright-core (no browser
# download), pinned in tests/web/package-lock.json.
WEB="$(cd "$(dirname "$0")/.." && pwd)/tests/web"
want=$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$WEB/package.json")
have=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$WEB/node_modules/playwright-core/package.json" 2>/dev/null | head -n 1 || true)
if [ "$want" != "$have" ]; then
  echo "setup: npm ci in tests/web (playwright-core $want)"
  (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error)
fi
