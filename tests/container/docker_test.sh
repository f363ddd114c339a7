#!/usr/bin/env bash
# The container image end to end:
#   bash docker_test.sh SOURCE_DIR BUILD_DIR DATA_DIR
# 1. a Docker engine (started here as `dockerd --bridge=none --iptables=false`
#    when none runs, stopped again at the end) and the base image debian:12
#    (docker import of an mmdebstrap minbase root, cached in
#    /var/cache/keydir-ci/, shared with the package test);
# 2. the image from deploy/docker/Dockerfile with KEYDIR_DEBS=prebuilt: the
#    .debs of BUILD_DIR/debs/ (left by the package test) or made here from
#    BUILD_DIR with KEYDIR_PREBUILT (no second compile), or those of the
#    folder KEYDIR_DEBS_DIR when set; built twice (cold, then from cached
#    layers);
# 3. run with --network host on a free loopback port and a named volume:
#    healthy by its HEALTHCHECK, not root, the volume the user's, gpg
#    --send-keys / --recv-keys, a restart and a new container on the same
#    volume keep the key, docker stop ends keydird at once;
# 4. deploy/docker/compose.yaml (nginx from nginx.Dockerfile in front,
#    verified mode, deploy/docker/keydird.toml, a self-signed certificate) on
#    free loopback ports: a key uploaded over 443, fetched over 443 and 11371,
#    an online backup into the volume keydir-backup.
# Containers, volumes, networks and images made here are removed (the base
# image and the build cache stay). Needs root and the Debian archive; skips
# (77) saying why without them.
set -euo pipefail
SRC=${1:?usage: docker_test.sh SOURCE_DIR BUILD_DIR DATA_DIR}
B=${2:?usage: docker_test.sh SOURCE_DIR BUILD_DIR DATA_DIR}
DATA=${3:?usage: docker_test.sh SOURCE_DIR BUILD_DIR DATA_DIR}
SRC=$(cd "$SRC" && pwd)
B=$(cd "$B" && pwd)
source "$SRC/tests/support/harness.sh"
CACHE=/var/cache/keydir-ci
MIRROR=http://deb.debian.org/debian
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root (starts dockerd, builds and runs images); run ctest -L package as root"
# Debian's docker.io client: its `docker build` has BuildKit built in (the
# Dockerfile needs it: RUN --mount, stages built only when used).
DOCKER=${KEYDIR_DOCKER:-$(command -v /usr/bin/docker || command -v docker || true)}
[ -n "$DOCKER" ] || skip "no docker client (apt-get install docker.io; deploy/setup.sh installs it)"
for tool in gpg curl openssl dpkg-buildpackage; do
  command -v "$tool" >/dev/null || skip "$tool is missing (deploy/setup.sh installs it)"
done
for f in keydird keydir; do
  [ -x "$B/$f" ] || skip "$B/$f is not built"
done
export DOCKER_BUILDKIT=1
dk() { "$DOCKER" "$@"; }
use_temp_dir
RUNID=keydir-test-$$
IMG=$RUNID:latest
NGINX_IMG=$RUNID-nginx:latest
VOL=$RUNID-data
STARTED=$(date +%s)

# --- 1. the engine and the base image -----------------------------------------
if ! dk info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || skip "no Docker engine runs and dockerd is missing (apt-get install docker.io)"
  echo "# starting dockerd --bridge=none --iptables=false (log: $T/dockerd.log)"
  dockerd --bridge=none --iptables=false >"$T/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  if ! wait_until 60 dk info >/dev/null 2>&1; then
    sed 's/^/#   /' "$T/dockerd.log" | grep -iE 'error|fail|fatal' | tail -n 15
    kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    skip "dockerd could not start here (its error lines above)"
  fi
  # Stopped last (cleanup: CLEANUP first, then PIDS), after the containers.
  PIDS+=("$DOCKERD_PID")
fi
echo "# engine: $(dk version -f 'docker {{.Server.Version}}' 2>/dev/null), storage driver $(dk info -f '{{.Driver}}' 2>/dev/null)"
CLEANUP+=("dk rm -f $RUNID $RUNID-2 >/dev/null 2>&1"
  "dk volume rm -f $VOL >/dev/null 2>&1"
  "dk rmi -f $IMG $NGINX_IMG >/dev/null 2>&1")

if ! dk image inspect debian:12 >/dev/null 2>&1; then
  tarball=$(ls -t "$CACHE"/bookworm-minbase*.tar 2>/dev/null | head -n 1 || true)
  if [ -z "$tarball" ]; then
    curl -fsS --max-time 20 -o /dev/null "$MIRROR/dists/bookworm/InRelease" ||
      skip "the Debian archive ($MIRROR) is out of reach: no base image debian:12 can be made"
    mkdir -p "$CACHE"
    echo "# mmdebstrap --variant=minbase bookworm (cached in $CACHE/bookworm-minbase.tar)"
    mmdebstrap --variant=minbase --quiet --format=tar bookworm "$CACHE/bookworm-minbase.tar.$$.part" "$MIRROR" \
      >"$T/mmdebstrap.log" 2>&1 ||
      { tail -n 20 "$T/mmdebstrap.log"; rm -f "$CACHE/bookworm-minbase.tar.$$.part"; skip "mmdebstrap failed (log above)"; }
    mv "$CACHE/bookworm-minbase.tar.$$.part" "$CACHE/bookworm-minbase.tar"
    tarball=$CACHE/bookworm-minbase.tar
  fi
  echo "# docker import $tarball debian:12"
  dk import "$tarball" debian:12 >/dev/null
fi
check "base image debian:12" 0 "$(dk image inspect debian:12 >/dev/null 2>&1; echo $?)"

# --- 2. the image, from the packages of this build ------------------------------
mkdir -p "$T/ctx/debs"
debs_fresh() {  # the package test's .debs, newer than the binaries they hold
  local d
  for d in "$B"/debs/keydird_*.deb "$B"/debs/keydir_*.deb; do
    [ -f "$d" ] && [ "$d" -nt "$B/keydird" ] && [ "$d" -nt "$B/keydir" ] || return 1
  done
}
if [ -n "${KEYDIR_DEBS_DIR:-}" ]; then
  echo "# packages from $KEYDIR_DEBS_DIR (KEYDIR_DEBS_DIR)"
  cp "$KEYDIR_DEBS_DIR"/keydird_*.deb "$KEYDIR_DEBS_DIR"/keydir_*.deb "$T/ctx/debs/"
elif debs_fresh; then
  echo "# packages from $B/debs/ (the package test's)"
  cp "$B"/debs/keydird_*.deb "$B"/debs/keydir_*.deb "$T/ctx/debs/"
else
  echo "# dpkg-buildpackage -b with KEYDIR_PREBUILT=$B"
  mkdir -p "$T/pkg/keydir"
  cp -a "$SRC/debian" "$T/pkg/keydir/"
  if ! (cd "$T/pkg/keydir" && KEYDIR_PREBUILT=$B dpkg-buildpackage -us -uc -b) >"$T/pkg.log" 2>&1; then
    tail -n 30 "$T/pkg.log"
    echo "FAIL  dpkg-buildpackage -b from the prebuilt build (log above)"
    exit 1
  fi
  cp "$T"/pkg/keydird_*.deb "$T"/pkg/keydir_*.deb "$T/ctx/debs/"
fi
echo "# packages: $(cd "$T/ctx/debs" && echo *.deb)"

build_image() {  # LOG: the image from the prebuilt packages; BUILD_SECONDS
  local start=${EPOCHREALTIME/./}
  dk build --network host --progress plain -f "$SRC/deploy/docker/Dockerfile" \
    --build-arg KEYDIR_DEBS=prebuilt -t "$IMG" "$T/ctx" >"$1" 2>&1
  local rc=$?
  BUILD_SECONDS=$(awk -v us=$((${EPOCHREALTIME/./} - start)) 'BEGIN { printf "%.1f", us / 1e6 }')
  return $rc
}
rc=0
build_image "$T/build1.log" || rc=$?
if [ $rc -ne 0 ]; then
  tail -n 30 "$T/build1.log"
  if grep -qE 'Could not resolve|Failed to fetch|Temporary failure resolving' "$T/build1.log"; then
    skip "the Debian archive is out of reach from docker build (the packages' dependencies)"
  fi
fi
check "docker build (prebuilt packages; $BUILD_SECONDS s)" 0 "$rc"
[ $rc -eq 0 ] || finish
check "nothing compiled in the image build" 0 "$(grep -c 'dpkg-buildpackage\|c++ ' "$T/build1.log" || true)"
COLD=$BUILD_SECONDS
build_image "$T/build2.log" || true
check "rebuilt from cached layers (${BUILD_SECONDS} s)" 0 "$(grep -c '^#[0-9]* [0-9.]* ' "$T/build2.log" || true)"
SIZE=$(dk image inspect -f '{{.Size}}' "$IMG")
echo "# image: $((SIZE / 1000000)) MB; build cold $COLD s, cached $BUILD_SECONDS s"
check "image user" keydir "$(dk image inspect -f '{{.Config.User}}' "$IMG")"
check "image volume" '/var/lib/keydir' "$(dk image inspect -f '{{range $k, $v := .Config.Volumes}}{{$k}}{{end}}' "$IMG")"
check "image health check" 1 "$(dk image inspect -f '{{.Config.Healthcheck.Test}}' "$IMG" | grep -c '/healthz')"
check "keydird from the package" 1 "$(dk run --rm --network none --entrypoint dpkg-query "$IMG" -W -f '${Status} ${Version}\n' keydird | grep -c '^install ok installed')"
check "keydird --version" 1 "$(dk run --rm --network none --entrypoint /usr/sbin/keydird "$IMG" --version | grep -c '^keydird ')"

# --- 3. docker run: health, user, gpg, restarts -----------------------------------
PORT=$(free_port)
U=http://127.0.0.1:$PORT
run_keydird() {  # NAME: the image on the volume, open mode (gpg needs user IDs)
  dk run -d --name "$1" --network host -v "$VOL:/var/lib/keydir" -e "KEYDIR_LISTEN=127.0.0.1:$PORT" \
    --health-interval 1s "$IMG" --mode open --add-rate 0 >/dev/null
}
health() { dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null; }
healthy() { [ "$(health "$1")" = healthy ]; }
on_failure() {
  local c
  for c in $RUNID $RUNID-2; do
    dk logs "$c" >/dev/null 2>&1 || continue
    echo "--- docker logs $c (tail)"
    dk logs --tail 20 "$c" 2>&1
  done
  [ -f "$T/compose.log" ] && { echo "--- compose logs (tail)"; tail -n 30 "$T/compose.log"; }
  return 0
}
run_keydird "$RUNID"
wait_until 60 healthy "$RUNID" || true
check "health check: healthy (after ${WAITED} s)" healthy "$(health "$RUNID")"
check "/healthz" 200 "$(http_status "$U/healthz")"
check "runs as uid 999 (not root)" 999 "$(dk exec "$RUNID" id -u)"
check "keydird's process is not root" 999 \
  "$(dk exec "$RUNID" sh -c 'for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = keydird ] && stat -c %u $p; done' | head -n 1)"
check "the volume: keydir's, 0700" "keydir 700" "$(dk exec "$RUNID" stat -c '%U %a' /var/lib/keydir)"
check "the packaged config is read (its wkd-domain)" 200 \
  "$(http_status "$U/.well-known/openpgpkey/policy" -H 'Host: example.org')"

G="timeout 30 gpg --batch --no-tty"
A=$(gpg_home alice)
GNUPGHOME=$A $G --passphrase '' --pinentry-mode loopback \
  --quick-gen-key "Alice Example <alice@keydir.test>" ed25519 default never 2>/dev/null
FPR=$(GNUPGHOME=$A gpg --with-colons --list-keys alice@keydir.test | awk -F: '/^fpr/{print $10; exit}')
check "gpg --send-keys" 0 "$(GNUPGHOME=$A $G --send-keys "$FPR" </dev/null >/dev/null 2>&1; echo $?)"
recv() {  # NAME: gpg --recv-keys FPR in a fresh home, then the user ID it got
  local h
  h=$(gpg_home "$1")
  GNUPGHOME=$h $G --recv-keys "$FPR" </dev/null >/dev/null 2>&1 || true
  GNUPGHOME=$h gpg --with-colons --list-keys "$FPR" 2>/dev/null | awk -F: '/^uid/{print $10; exit}'
  GNUPGHOME=$h gpgconf --kill all 2>/dev/null || true
}
check "gpg --recv-keys" "Alice Example <alice@keydir.test>" "$(recv bob)"

t0=${EPOCHREALTIME/./}
dk restart "$RUNID" >/dev/null
wait_until 60 healthy "$RUNID" || true
check "docker restart: healthy again" healthy "$(health "$RUNID")"
check "docker restart keeps the key" "Alice Example <alice@keydir.test>" "$(recv carol)"
t0=${EPOCHREALTIME/./}
dk stop "$RUNID" >/dev/null
STOP_S=$(awk -v us=$((${EPOCHREALTIME/./} - t0)) 'BEGIN { printf "%.1f", us / 1e6 }')
check "docker stop: keydird ends on SIGTERM (${STOP_S} s, not the 10 s kill)" 1 \
  "$(awk -v s="$STOP_S" 'BEGIN { print (s < 8) }')"
check "docker stop: exit code 0" 0 "$(dk inspect -f '{{.State.ExitCode}}' "$RUNID")"
dk rm "$RUNID" >/dev/null
run_keydird "$RUNID-2"
wait_until 60 healthy "$RUNID-2" || true
check "a new container on the volume keeps the key" "Alice Example <alice@keydir.test>" "$(recv dave)"
dk rm -f "$RUNID-2" >/dev/null

# --- 4. compose: nginx in front, verified mode, TLS -------------------------------
COMPOSE=()
if command -v docker-compose >/dev/null; then
  COMPOSE=(docker-compose)
elif dk compose version >/dev/null 2>&1; then
  COMPOSE=("$DOCKER" compose)
fi
if [ ${#COMPOSE[@]} -eq 0 ]; then
  echo "skip  compose: neither docker-compose nor docker compose is installed"
else
  D=$SRC/deploy/docker
  dk build --network host -f "$D/nginx.Dockerfile" -t "$NGINX_IMG" "$T/ctx" >"$T/build-nginx.log" 2>&1 ||
    { tail -n 20 "$T/build-nginx.log"; }
  check "docker build nginx.Dockerfile" 0 "$(dk image inspect "$NGINX_IMG" >/dev/null 2>&1; echo $?)"
  P80=$(free_port) P443=$(free_port) PHKP=$(free_port)
  mkdir -p "$T/tls" "$T/acme"
  make_test_ca "$T/tls" keys.example.org "DNS:keys.example.org,DNS:openpgpkey.example.org" fullchain.pem privkey.pem
  # The deployment's own files, the placeholders edited as an operator must
  # (keydird refuses to start with the example's public-url): the relay
  # (never asked: nothing here sends mail) on loopback.
  sed -e 's|^smtp-url = .*|smtp-url = "smtp://127.0.0.1:2"|' \
    -e 's|^public-url = .*|public-url = "https://keys.keydir.test"|' "$D/keydird.toml" >"$T/keydird.toml"
  echo "not-a-real-password" >"$T/smtp-password"
  chgrp 999 "$T/keydird.toml" "$T/smtp-password" && chmod 0640 "$T/keydird.toml" "$T/smtp-password"
  chmod 0755 "$T"
  # compose.yaml with loopback ports, these files and this run's images.
  sed -e "s|\"80:80\"|\"127.0.0.1:$P80:80\"|" -e "s|\"443:443\"|\"127.0.0.1:$P443:443\"|" \
    -e "s|\"11371:11371\"|\"127.0.0.1:$PHKP:11371\"|" \
    -e "s|source: ./tls$|source: $T/tls|" -e "s|source: ./acme$|source: $T/acme|" \
    -e "s|source: ./keydird.toml$|source: $T/keydird.toml|" -e "s|file: ./smtp-password$|file: $T/smtp-password|" \
    -e "s|image: keydir-nginx$|image: $NGINX_IMG|" -e "s|image: keydir$|image: $IMG|" \
    "$D/compose.yaml" >"$T/compose.yaml"
  check "compose.yaml: every test substitution applied" 9 "$(grep -cE "127\.0\.0\.1:($P80|$P443|$PHKP):|$T/|image: $RUNID" "$T/compose.yaml")"
  CP=("${COMPOSE[@]}" -p "$RUNID" -f "$T/compose.yaml" --project-directory "$D")
  CLEANUP=("\"\${CP[@]}\" down -v --remove-orphans >/dev/null 2>&1" "${CLEANUP[@]}")
  check "compose config" 0 "$("${CP[@]}" config >/dev/null 2>"$T/compose-config.err"; echo $?)"
  "${CP[@]}" up -d --no-build >"$T/compose.log" 2>&1 || cat "$T/compose.log"
  kd=$("${CP[@]}" ps -q keydird 2>/dev/null || true)
  wait_until 90 healthy "$kd" || true
  check "compose: keydird healthy" healthy "$(health "$kd")"
  "${CP[@]}" logs --no-color >>"$T/compose.log" 2>&1 || true
  check "compose: verified mode" 1 "$(grep -c 'publishing mode verified' "$T/compose.log" || true)"
  H="--resolve keys.example.org:$P443:127.0.0.1 --cacert $T/tls/ca.pem"
  HS=https://keys.example.org:$P443
  MFPR=FC5D7A6980F7E484468DB87F65C71B0D2BE692AA  # tests/data/gpg-multi.asc
  # shellcheck disable=SC2086
  wait_until 30 curl -fs -o /dev/null $H "$HS/healthz" || true
  # shellcheck disable=SC2086
  check "compose: upload over https (443) through nginx" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' $H --data-urlencode "keytext@$DATA/gpg-multi.asc" "$HS/pks/add")"
  # shellcheck disable=SC2086
  curl -s $H "$HS/pks/lookup?op=get&search=0x$MFPR" >"$T/https.asc"
  check "compose: the key by fingerprint over https, without unconfirmed user IDs" "1 0" \
    "$(gpg --with-colons --show-keys "$T/https.asc" 2>/dev/null | grep -c '^pub' || true) $(gpg --with-colons --show-keys "$T/https.asc" 2>/dev/null | grep -c '^uid' || true)"
  curl -s -H 'Host: keys.example.org' "http://127.0.0.1:$PHKP/pks/lookup?op=get&search=0x$MFPR" >"$T/hkp.asc"
  check "compose: the key over hkp:// (11371)" 1 "$(gpg --with-colons --show-keys "$T/hkp.asc" 2>/dev/null | grep -c '^pub' || true)"
  check "compose: the same key over https and hkp" "$(cat "$T/https.asc")" "$(cat "$T/hkp.asc")"
  # shellcheck disable=SC2086
  check "compose: an unconfirmed address is not published" 404 \
    "$(curl -s -o /dev/null -w '%{http_code}' $H "$HS/pks/lookup?op=get&search=multi@keydir.test")"
  if grep -qE '^[[:space:]]*listen 80[; ]' "$SRC/deploy/nginx/keydir.conf"; then
    check "compose: http (80) redirects to https" 301 \
      "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: keys.example.org' "http://127.0.0.1:$P80/pks/lookup?op=get&search=0x$MFPR")"
  fi
  # shellcheck disable=SC2086
  check "compose: the data is in the named volume" 1 \
    "$(dk volume ls -q | grep -c "^${RUNID}_keydir-data\$" || true)"
  check "compose: keydird backup into the volume keydir-backup" 0 \
    "$("${CP[@]}" exec -T keydird keydird backup --data /var/lib/keydir --out /var/lib/keydir-backup/t1 >"$T/backup.out" 2>&1; echo $?)"
  check "compose: the backup checks clean" 0 \
    "$("${CP[@]}" exec -T keydird keydird check --data /var/lib/keydir-backup/t1 --deep >>"$T/backup.out" 2>&1; echo $?)"
  # shellcheck disable=SC2154 # fails: the harness's
  [ "$fails" -eq 0 ] || sed 's/^/#   /' "$T/backup.out"
  "${CP[@]}" down -v >/dev/null 2>&1 || true
fi

echo "# image build: cold $COLD s, cached $BUILD_SECONDS s; image $((SIZE / 1000000)) MB; test $(($(date +%s) - STARTED)) s"
finish
