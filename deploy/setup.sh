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
  libkainjow-mustache-dev  # the web pages' templates (escape by default)
  pandoc  # the /api page, made from docs/api.md at build time
  help2man  # the man pages keydird(8) and keydir(1), from --help at build time
  debhelper dpkg-dev lintian mmdebstrap  # the Debian packages and their test (tests/package)
  libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format clang-tidy
  gnupg gpg-wks-client sq curl wrk openssl iproute2
  golang-go golang-golang-x-mod-dev python3-cryptography  # the transparency log's oracle and its fake log (tests/transparency)
  sigsum-go  # sigsum-witness, the log's independent witness in tests/transparency (bookworm-backports)
  chromium nodejs npm python3-aiosmtpd python3-idna nginx-light
  sks  # the peer of the SKS reconciliation interop test (never started as a service)
  docker.io docker-compose  # the container test (tests/container) starts its own dockerd
  # Hockeypuck 2.3, the peer of the Hockeypuck interop test, is built from
  # source with Go 1.23 (bookworm-backports: added below) and keeps its keys
  # in PostgreSQL (the test runs a private cluster).
  golang-1.23-go postgresql
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
  # golang-1.23-go and sigsum-go are in bookworm-backports only: a source for
  # that suite, on the Debian archive this machine already uses, when no
  # source names it yet.
  if printf '%s\n' "${missing[@]}" | grep -qxE 'golang-1.23-go|sigsum-go' &&
     ! grep -qs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
    uris=$(awk 'BEGIN { RS = ""; FS = "\n" }
      { u = ""; s = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u) }
          if ($i ~ /^Suites:/ && ($i " ") ~ /[ \t]bookworm[ \t]/) s = 1
        }
        if (s && u != "") { print u; exit } }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    if [ -z "$uris" ]; then
      uris=$(sed 's/\[[^]]*\]//' /etc/apt/sources.list 2>/dev/null |
        awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' || true)
    fi
    echo "setup: adding /etc/apt/sources.list.d/backports.sources (bookworm-backports from ${uris:=http://deb.debian.org/debian})"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uris" | $SUDO tee /etc/apt/sources.list.d/backports.sources >/dev/null
    added_backports=1
  fi
  if ! $SUDO apt-get update -qq; then
    # The backports suite may be out of reach (a mirror without it): without
    # it, only the Hockeypuck and witness tests lack their programs, and say so.
    [ -n "${added_backports:-}" ] || exit 1
    echo "setup: bookworm-backports is out of reach; removing it again"
    $SUDO rm -f /etc/apt/sources.list.d/backports.sources
    $SUDO apt-get update -qq
  fi
  # Everything but the backports is required; Go 1.23 only builds the
  # Hockeypuck peer and sigsum-go is the log's test witness, whose tests skip
  # (saying why) without them.
  required=()
  optional=()
  for p in "${missing[@]}"; do
    case "$p" in
      golang-1.23-go | sigsum-go) optional+=("$p") ;;
      *) required+=("$p") ;;
    esac
  done
  if [ ${#required[@]} -gt 0 ]; then
    $SUDO apt-get install -y -qq --no-install-recommends "${required[@]}"
  fi
  for p in "${optional[@]+"${optional[@]}"}"; do
    if ! $SUDO apt-get install -y -qq --no-install-recommends "$p"; then
      echo "setup: $p (bookworm-backports) could not be installed: the tests that use it will skip"
    fi
  done
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
