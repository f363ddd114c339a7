#!/usr/bin/env bash
# A mode change that changes what is served without changing the addresses.
# Verified and managed mode serve a certificate without its user IDs that
# carry no published address (a name alone); open mode serves them.
# `keydird admin set-mode` rewrites every certificate whose addresses change;
# one whose addresses stay the same but whose served form changes must get a
# log entry of the new form too, or every `keydir fetch --audit` of it fails
# from then on (exit 4: the served octets are not the logged ones), and the
# log no longer says what the directory serves.
# Alice's key: "Alice <alice@example.org>" (published) and "Alice" (a name
# alone, whose one word the first user ID has too: the index is the same
# in every mode). (keydird strips photos in every mode.)
# 1. a verified store (import --publish-addresses): served with the user ID
#    only; fetch --audit passes
# 2. set-mode open: the same index, but the name is served too; fetch
#    --audit passes, `keydird check` finds log and store in agreement
# 3. set-mode verified again: the name goes; fetch --audit passes
#   log_mode_change.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
command -v gpg >/dev/null || { echo "log_mode_change: gpg is missing"; exit 1; }
K="$B/keydird"
C="$B/keydir"
D=example.org
unset KEYDIR_SERVER KEYDIR_PROGRESS
export XDG_CONFIG_HOME=$T/config
export XDG_STATE_HOME=$T/state
rc() { "$@" >"$T/out" 2>"$T/err" && echo 0 >"$T/rc" || echo $? >"$T/rc"; cat "$T/rc"; }

g=$(mktemp -d "$T/gnupg.XXXX")
chmod 700 "$g"
GNUPGHOME=$g gpg --batch --passphrase '' --pinentry-mode loopback --quick-gen-key \
  "Alice <alice@$D>" ed25519 default never 2>/dev/null
FPR=$(GNUPGHOME=$g gpg --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
GNUPGHOME=$g gpg --batch --passphrase '' --pinentry-mode loopback --quick-add-uid "$FPR" \
  "Alice" 2>/dev/null
GNUPGHOME=$g gpg --export "$FPR" >"$T/alice.pgp" 2>/dev/null

start_smtp_sink
serve() { # MODE
  local extra=()
  [ "$1" = open ] || extra=(--smtp-url "smtp://127.0.0.1:$SPORT" --smtp-from "keys@$D")
  start_keydird s --data "$T/s" --mode "$1" "${extra[@]}"
}
audit() { # EXIT NAME FPR
  local want=$1 name=$2 r=0
  "$C" fetch --audit --no-wkd --server "$U" "$3" >"$T/fetched" 2>"$T/aerr" || r=$?
  check "$name: exit $want" "$want" "$r"
  if [ "$r" != "$want" ]; then sed 's/^/      /' "$T/aerr"; fi
}
user_ids() { gpg --list-packets <"$T/fetched" 2>/dev/null | grep -c '^:user ID packet' || true; }
set_mode() { # MODE
  check "keydird admin set-mode $1" 0 "$(rc "$K" admin set-mode "$1" --data "$T/s" --yes)"
  answered "set-mode $1" "$(cat "$T/out" "$T/err")"
  check "keydird check after set-mode $1" 0 "$(rc "$K" check --data "$T/s")"
  if [ "$(cat "$T/rc")" != 0 ]; then sed 's/^/      /' "$T/out" "$T/err"; fi
}

# ---------------------------------------------------------------------------
attack "1. a verified store: the address user ID served, the name not"
check "import --mode verified --publish-addresses" 0 \
  "$(rc "$K" import --mode verified --publish-addresses --data "$T/s" "$T/alice.pgp")"
serve verified
audit 0 "fetch --audit (verified)" "$FPR"
check "one user ID served" 1 "$(user_ids)"
stop_keydird

# ---------------------------------------------------------------------------
attack "2. set-mode open: the same index, and the name served too"
set_mode open
serve open
audit 0 "fetch --audit (open)" "$FPR"
check "both user IDs served" 2 "$(user_ids)"
stop_keydird

# ---------------------------------------------------------------------------
attack "3. set-mode verified again: the name goes"
set_mode verified
serve verified
audit 0 "fetch --audit (verified again)" "$FPR"
check "one user ID served" 1 "$(user_ids)"
stop_keydird

finish
