#!/usr/bin/env bash
# The Debian packages end to end:
#   bash deb_test.sh <source dir> <build dir>
# 1. dpkg-buildpackage -b with KEYDIR_PREBUILT=<build dir> (no second compile),
#    the .debs left in <build dir>/debs/ (the container test reuses them);
# 2. lintian: any E: tag fails;
# 3. a clean Debian 12 root (mmdebstrap minbase, cached for the day in
#    /var/cache/keydir-ci/), the packages installed there with apt;
# 4. keydird started from /usr/sbin as the unit's User= with exactly the
#    packaged unit's ExecStart= and the packaged configuration, in a private
#    network namespace; gpg --send-keys / --recv-keys against it;
# 5. ownership and modes, remove (data kept), purge (data, config gone).
# Needs root (chroot, mounts, namespaces) and the Debian archive; skips (77)
# saying why without them.
set -uo pipefail

SRC=${1:?usage: deb_test.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: deb_test.sh SOURCE_DIR BUILD_DIR}
SRC=$(cd "$SRC" && pwd)
BUILD=$(cd "$BUILD" && pwd)
CACHE=/var/cache/keydir-ci
MIRROR=http://deb.debian.org/debian

skip() { echo "SKIP: $*"; exit 77; }
fails=0
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "FAIL - $1: expected [$2], got [$3]"; fails=$((fails + 1)); fi
}
die() { echo "FAIL - $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || skip "needs root (chroot, mounts, dpkg in a Debian root); run ctest -L package as root"
for tool in dpkg-buildpackage dh lintian mmdebstrap unshare chroot gpg curl; do
  command -v "$tool" >/dev/null || skip "$tool is missing (deploy/setup.sh installs the package tools)"
done
for f in keydird keydir; do
  [ -x "$BUILD/$f" ] || skip "$BUILD/$f is not built"
done
TODAY=$(date -u +%F)
TARBALL=$CACHE/bookworm-minbase-$TODAY.tar
if [ ! -s "$TARBALL" ] && ! curl -fsS --max-time 20 -o /dev/null "$MIRROR/dists/bookworm/InRelease"; then
  skip "the Debian archive ($MIRROR) is out of reach: no clean Debian 12 root can be made"
fi

T=$(mktemp -d /tmp/keydir-deb.XXXXXX)
ROOT=$T/root
cleanup() {
  # Mounts are made in private mount namespaces (they vanish with them);
  # unmount anyway whatever is left below the root, deepest first.
  if [ -d "$ROOT" ]; then
    awk -v r="$ROOT" 'index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null; done
  fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# In the Debian root, with /proc, /dev and the apt caches mounted in a mount
# namespace of its own (gone when the command ends, even when it fails).
in_root() {
  unshare --mount --propagation private -- bash -c '
    set -e
    r=$1; shift
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mount --bind '"$CACHE"'/apt-archives "$r/var/cache/apt/archives"
    mount --bind '"$CACHE"'/apt-lists "$r/var/lib/apt/lists"
    trap "umount -R \"\$r/dev\" \"\$r/proc\" \"\$r/var/cache/apt/archives\" \"\$r/var/lib/apt/lists\" 2>/dev/null || true" EXIT
    chroot "$r" "$@"
  ' in_root "$ROOT" "$@"
}

# 1. The packages, from the build the tests ran on.
echo "# dpkg-buildpackage -b with KEYDIR_PREBUILT=$BUILD"
mkdir -p "$T/pkg/keydir"
cp -a "$SRC/debian" "$T/pkg/keydir/"
start=$(date +%s)
# noddebs: no -dbgsym package (the build dir keeps the debug information).
if ! (cd "$T/pkg/keydir" && KEYDIR_PREBUILT=$BUILD DEB_BUILD_OPTIONS=noddebs dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
  tail -n 40 "$T/build.log"
  die "dpkg-buildpackage -b failed (log above)"
fi
echo "ok - dpkg-buildpackage -b from the prebuilt build ($(($(date +%s) - start)) s)"
changes=$(ls "$T"/pkg/keydir_*_*.changes)
DEBS=("$T"/pkg/keydird_*.deb "$T"/pkg/keydir_*.deb)
check "two binary packages" 2 "$(ls "${DEBS[@]}" 2>/dev/null | wc -l)"
rm -rf "$BUILD/debs" && mkdir -p "$BUILD/debs" && cp "${DEBS[@]}" "$BUILD/debs/"
echo "# packages left in $BUILD/debs/: $(cd "$BUILD/debs" && echo *.deb)"

# What each package holds.
contents() { dpkg-deb -c "$1" | awk '{ print $1, $2, $6 }'; }
kd=$(contents "$T"/pkg/keydird_*.deb)
kc=$(contents "$T"/pkg/keydir_*.deb)
for f in ./usr/sbin/keydird ./usr/share/man/man8/keydird.8.gz ./lib/systemd/system/keydird.service \
         ./etc/keydir/keydird.toml ./usr/share/doc/keydir/README.md ./usr/share/doc/keydir/docs/operating.md \
         ./usr/share/doc/keydir/examples/keydird.toml.example; do
  check "keydird holds $f" yes "$(grep -q " $f\$" <<<"$kd" && echo yes || echo no)"
done
for f in ./usr/bin/keydir ./usr/share/man/man1/keydir.1.gz ./usr/share/doc/keydir/docs/client.md; do
  check "keydir holds $f" yes "$(grep -q " $f\$" <<<"$kc" && echo yes || echo no)"
done
check "conffiles of keydird" /etc/keydir/keydird.toml \
  "$(dpkg-deb --ctrl-tarfile "$T"/pkg/keydird_*.deb | tar -xO ./conffiles 2>/dev/null)"

# 2. lintian.
echo "# lintian"
lintian --display-info "$changes" >"$T/lintian.log" 2>&1
sed 's/^/#   /' "$T/lintian.log"
check "lintian: no error tags" 0 "$(grep -c '^E:' "$T/lintian.log")"

# 3. A clean Debian 12 root.
mkdir -p "$CACHE/apt-archives/partial" "$CACHE/apt-lists/partial"
if [ ! -s "$TARBALL" ]; then
  if [ -s "$CACHE/bookworm-minbase.tar" ] &&
     [ "$(date -u -r "$CACHE/bookworm-minbase.tar" +%F)" = "$TODAY" ]; then
    ln -f "$CACHE/bookworm-minbase.tar" "$TARBALL"
  else
    echo "# mmdebstrap --variant=minbase bookworm (cached in $TARBALL)"
    mmdebstrap --variant=minbase --quiet --format=tar bookworm "$TARBALL.part" "$MIRROR" >"$T/mmdebstrap.log" 2>&1 ||
      { tail -n 20 "$T/mmdebstrap.log"; rm -f "$TARBALL.part"; skip "mmdebstrap could not make a Debian 12 root (log above)"; }
    mv "$TARBALL.part" "$TARBALL"
    # The container test imports the same root (docker import).
    ln -f "$TARBALL" "$CACHE/bookworm-minbase.tar.new" && mv "$CACHE/bookworm-minbase.tar.new" "$CACHE/bookworm-minbase.tar"
  fi
  find "$CACHE" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -name "bookworm-minbase-$TODAY.tar" -delete
fi
mkdir -p "$ROOT" && tar -C "$ROOT" -xf "$TARBALL" || die "cannot unpack $TARBALL"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
mkdir -p "$ROOT/tmp/debs" && cp "${DEBS[@]}" "$ROOT/tmp/debs/"
echo "# apt-get install ./keydird_*.deb ./keydir_*.deb in the Debian 12 root"
if ! in_root env DEBIAN_FRONTEND=noninteractive sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/debs/*.deb' >"$T/install.log" 2>&1; then
  tail -n 30 "$T/install.log"
  if grep -qE 'Could not resolve|Failed to fetch|Temporary failure' "$T/install.log"; then
    skip "the Debian archive is out of reach from the root (the packages' dependencies)"
  fi
  die "apt-get install of the packages failed (log above)"
fi
echo "ok - keydird and keydir installed in a clean Debian 12 root"
status() { chroot "$ROOT" dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | tr -d ' '; }
check "keydird installed" ii "$(status keydird)"
check "keydir installed" ii "$(status keydir)"

# 4. Ownership, modes, the unit.
R() { chroot "$ROOT" "$@"; }
check "system user keydir" "keydir:/var/lib/keydir:/usr/sbin/nologin" \
  "$(R getent passwd keydir | awk -F: '{ print $1 ":" $6 ":" $7 }')"
check "keydir is a system user (uid < 1000)" yes "$([ "$(R id -u keydir)" -lt 1000 ] && echo yes || echo no)"
check "config root:keydir 0640" "root:keydir 640" "$(R stat -c '%U:%G %a' /etc/keydir/keydird.toml)"
check "data folder keydir:keydir 0700" "keydir:keydir 700" "$(R stat -c '%U:%G %a' /var/lib/keydir)"
check "unit enabled" yes "$([ -L "$ROOT/etc/systemd/system/multi-user.target.wants/keydird.service" ] && echo yes || echo no)"
check "keydird --version" "keydird 0.1.0" "$(R /usr/sbin/keydird --version 2>&1 | awk '{ print $1, $2 }')"
check "keydir --version" "keydir 0.1.0" "$(R /usr/bin/keydir --version 2>&1 | awk '{ print $1, $2 }')"
check "man keydird(8) names serve" yes "$(zcat "$ROOT/usr/share/man/man8/keydird.8.gz" | grep -q 'keydird serve' && echo yes || echo no)"

UNIT=$ROOT/lib/systemd/system/keydird.service
unit_value() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
EXEC=$(unit_value ExecStart | sed 's/^[-@+!:]*//')
USER_=$(unit_value User)
GROUP_=$(unit_value Group)
check "unit User=" keydir "$USER_"
check "unit Group=" keydir "$GROUP_"
check "unit ExecStart= runs /usr/sbin/keydird" /usr/sbin/keydird "${EXEC%% *}"
LISTEN=$(sed -n 's/^listen *= *"\(.*\)".*/\1/p' "$ROOT/etc/keydir/keydird.toml")
check "packaged config listens on 127.0.0.1:11372" 127.0.0.1:11372 "$LISTEN"
echo "# ExecStart: $EXEC"

# keydird as the unit starts it, and gpg, in a network namespace of their own
# (the loopback port cannot collide with anything on this machine).
uid=$(R id -u "${USER_:-keydir}") gid=$(R id -g "${GROUP_:-keydir}")
cat >"$T/serve.sh" <<EOF
set -u
ip link set lo up
# /proc and /dev in the root, in this private mount namespace only.
mount -t proc proc "$ROOT/proc" && mount --rbind /dev "$ROOT/dev"
trap 'umount -R "$ROOT/dev" "$ROOT/proc" 2>/dev/null' EXIT
# The unit's ExecStart=, word for word, as its User=/Group= (gid's group only:
# the unit sets no SupplementaryGroups=), twice.
# As shipped, the configuration still has the example's public-url: keydird
# refuses it (the package does not start the unit until it is configured).
chroot --userspec=$uid:$gid --groups=$gid "$ROOT" env -i HOME=/var/lib/keydir PATH=/usr/sbin:/usr/bin $EXEC \
  >"$T/shipped.log" 2>&1 &
spid=\$!
for i in \$(seq 1 100); do kill -0 \$spid 2>/dev/null || break; sleep 0.1; done
if kill -0 \$spid 2>/dev/null; then echo "shipped=started"; kill -TERM \$spid; wait \$spid
else wait \$spid; echo "shipped=\$?"; fi
# The operator configures: this server's address in public-url (the file
# rewritten in place: owner, group and mode stay).
sed 's|^public-url = .*|public-url = "http://$LISTEN"|' "$ROOT/etc/keydir/keydird.toml" >"$T/edited.toml"
cat "$T/edited.toml" >"$ROOT/etc/keydir/keydird.toml"
chroot --userspec=$uid:$gid --groups=$gid "$ROOT" env -i HOME=/var/lib/keydir PATH=/usr/sbin:/usr/bin $EXEC \
  >"$T/keydird.log" 2>&1 &
pid=\$!
up=no
for i in \$(seq 1 100); do
  if curl -fsS -o /dev/null "http://$LISTEN/" 2>/dev/null; then up=yes; break; fi
  kill -0 \$pid 2>/dev/null || break
  sleep 0.1
done
echo "started=\$up"
if [ \$up = yes ]; then
  echo "uid=\$(ps -o uid= -p \$pid | tr -d ' ')"
  export GNUPGHOME=$T/gpg1
  mkdir -m 700 -p "\$GNUPGHOME" $T/gpg2
  echo "keyserver hkp://$LISTEN" >"\$GNUPGHOME/dirmngr.conf"
  cp "\$GNUPGHOME/dirmngr.conf" $T/gpg2/
  gpg --batch --pinentry-mode loopback --passphrase '' --quick-gen-key 'Package Test <pkg@example.org>' ed25519 sign 1d >/dev/null 2>&1
  fpr=\$(gpg --batch --with-colons --list-keys pkg@example.org | awk -F: '\$1 == "fpr" { print \$10; exit }')
  gpg --batch --send-keys "\$fpr" >$T/send.log 2>&1; echo "send=\$?"
  # Verified mode: the operator publishes the address (admin socket, as the
  # data folder's owner), then a second keyring fetches the key with it.
  chroot --userspec=$uid:$gid "$ROOT" /usr/sbin/keydird admin --data /var/lib/keydir publish "\$fpr" pkg@example.org \
    >$T/publish.log 2>&1; echo "publish=\$?"
  GNUPGHOME=$T/gpg2 gpg --batch --recv-keys "\$fpr" >$T/recv.log 2>&1; echo "recv=\$?"
  echo "userid=\$(GNUPGHOME=$T/gpg2 gpg --batch --with-colons --list-keys "\$fpr" 2>/dev/null | awk -F: '\$1 == "uid" { print \$10; exit }')"
  gpgconf --kill all; GNUPGHOME=$T/gpg2 gpgconf --kill all
fi
kill -TERM \$pid 2>/dev/null; wait \$pid; echo "exit=\$?"
EOF
out=$(LISTEN=$LISTEN unshare --net --mount --propagation private -- bash "$T/serve.sh" 2>&1)
echo "$out" | sed 's/^/#   /'
val() { sed -n "s/^$1=//p" <<<"$out" | tail -n 1; }
check "the shipped config is refused until configured (exit 2)" 2 "$(val shipped)"
check "... naming public-url, the line to set" yes "$(grep -q 'public-url' "$T/shipped.log" && echo yes || echo no)"
sed 's/^/#   shipped config: /' "$T/shipped.log"
check "keydird starts with the packaged config (public-url set) and unit command line" yes "$(val started)"
if [ "$(val started)" != yes ]; then sed 's/^/#   keydird: /' "$T/keydird.log"; fi
check "keydird runs as the user keydir (uid $uid)" "$uid" "$(val uid)"
check "gpg --send-keys" 0 "$(val send)"
check "keydird admin publish (verified mode)" 0 "$(val publish)"
check "gpg --recv-keys" 0 "$(val recv)"
check "the received key carries its address" "Package Test <pkg@example.org>" "$(val userid)"
check "keydird stops on SIGTERM with 0" 0 "$(val exit)"
for f in send recv publish; do [ -s "$T/$f.log" ] && sed "s/^/#   $f: /" "$T/$f.log"; done
check "config still root:keydir 0640 after the edit" "root:keydir 640" "$(R stat -c '%U:%G %a' /etc/keydir/keydird.toml)"
check "the store is in /var/lib/keydir, owned by keydir" keydir "$(R find /var/lib/keydir -mindepth 1 -maxdepth 1 -printf '%u\n' | sort -u | tr '\n' ' ' | sed 's/ $//')"

# 5. Remove keeps data and configuration; purge takes them.
in_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq keydird keydir >"$T/remove.log" 2>&1 ||
  { tail -n 20 "$T/remove.log"; die "apt-get remove failed"; }
check "removed: keydird's state" rc "$(status keydird)"
check "removed: binary gone" no "$([ -e "$ROOT/usr/sbin/keydird" ] && echo yes || echo no)"
check "removed: data kept" yes "$([ -n "$(ls -A "$ROOT/var/lib/keydir" 2>/dev/null)" ] && echo yes || echo no)"
check "removed: config kept" yes "$([ -f "$ROOT/etc/keydir/keydird.toml" ] && echo yes || echo no)"
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq keydird keydir >"$T/purge.log" 2>&1 ||
  { tail -n 20 "$T/purge.log"; die "apt-get purge failed"; }
check "purged: keydird unknown to dpkg" "" "$(status keydird | grep -v '^un$\|^pn$')"
check "purged: /var/lib/keydir gone" no "$([ -e "$ROOT/var/lib/keydir" ] && echo yes || echo no)"
check "purged: /etc/keydir gone" no "$([ -e "$ROOT/etc/keydir" ] && echo yes || echo no)"
check "purged: statoverride gone" "" "$(R dpkg-statoverride --list /etc/keydir/keydird.toml)"
check "purged: unit symlinks gone" "" "$(find "$ROOT/etc/systemd" -name 'keydird*' 2>/dev/null)"
left=$(find "$ROOT" -xdev -user "$uid" 2>/dev/null; find "$ROOT" -xdev -name '*keydir*' ! -path "$ROOT/tmp/debs/*" ! -path "$ROOT/var/lib/dpkg/*" ! -path "$ROOT/var/cache/*" 2>/dev/null)
check "purged: no file owned by keydir, none named *keydir*" "" "$left"
echo "# left on purge, by design: the system user ($(R getent passwd keydir | cut -d: -f1,3))"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all package checks passed"
