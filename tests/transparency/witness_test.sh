#!/usr/bin/env bash
# The transparency log with a witness nobody here wrote: Sigsum's
# `sigsum-witness` (Debian's sigsum-go, a C2SP tlog-witness server) cosigns
# keydird's checkpoints, with keys made by `sigsum-key`.
# - keydird's verifier key is the one sigsum-key derives from the same
#   public key (the signed-note vkey format, checked by another program);
# - keydird posts each new checkpoint to the witness (add-checkpoint, with
#   consistency proofs from the size the witness saw), checks the witness's
#   cosignature and serves it; the cosignature is checked again here with
#   Python's cryptography, and by `keydir fetch --audit --log-witness`;
# - checkpoints are dated by the log (cosignature/v1 by its own key) and
#   dated again after --log-checkpoint-interval when nothing changed; the
#   client refuses a checkpoint older than --log-max-age;
# - a fork: a second keydird made from a backup of the first, with the same
#   log key and other uploads, is refused by the witness (it has seen the
#   first one's tree), keydird says so, and `keydir fetch --audit
#   --log-witness` refuses that directory's answers (exit 4), while the
#   first one's pass.
#   witness_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: witness_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
if ! command -v sigsum-witness >/dev/null || ! command -v sigsum-key >/dev/null; then
  echo "SKIP: sigsum-witness and sigsum-key (Debian package sigsum-go, bookworm-backports) are not installed"
  exit 77
fi
if ! python3 -c 'import cryptography' 2>/dev/null; then
  echo "SKIP: python3-cryptography is not installed"
  exit 77
fi
use_temp_dir
K="$B/keydir"
unset KEYDIR_SERVER KEYDIR_PROGRESS
export XDG_CONFIG_HOME=$T/config XDG_STATE_HOME=$T/state

# --- keys, all made by sigsum-key ------------------------------------------------
sigsum-key generate -o "$T/witness.key"
sigsum-key generate -o "$T/log.ssh"
WHASH=$(sigsum-key to-hash -k "$T/witness.key.pub")
WNAME=sigsum.org/v1/witness/$WHASH # the name sigsum-witness signs with
WVKEY=$(sigsum-key to-vkey -k "$T/witness.key.pub" -n "$WNAME" -t cosignature/v1)
LOG_VKEY=$(sigsum-key to-vkey -k "$T/log.ssh.pub") # origin sigsum.org/v1/tree/<hash>
ORIGIN=${LOG_VKEY%%+*}
# keydird's log key file: its origin and the Ed25519 seed of log.ssh.
mkdir -m 700 "$T/data"
python3 - "$T/log.ssh" "$ORIGIN" "$T/data/log.key" <<'EOF'
import base64, os, sys
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, load_ssh_private_key)
key = load_ssh_private_key(open(sys.argv[1], "rb").read(), password=None)
seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
fd = os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, ("keydir transparency log key v1\n%s\n%s\n" % (
    sys.argv[2], base64.b64encode(seed).decode())).encode())
os.close(fd)
EOF

# --- the witness -----------------------------------------------------------------
WPORT=$(free_port)
# Its routes are Go 1.22 patterns ("POST /add-checkpoint"); its go.mod
# predates them, so Go's older mux would take them for host names.
GODEBUG=httpmuxgo121=0 sigsum-witness --signing-key "$T/witness.key" --log-key "$T/log.ssh.pub" \
  --state-file "$T/witness.state" "127.0.0.1:$WPORT" >"$T/witness.log" 2>&1 &
PIDS+=($!)
wait_port 127.0.0.1 "$WPORT"

start_keydird one --data "$T/data" --add-rate 0 --log-checkpoint-interval 2 \
  --log-witness "http://127.0.0.1:$WPORT $WVKEY"
S1=$U
check "keydird's verifier key is the one sigsum-key derives" "$LOG_VKEY" "$(curl -s "$S1/log/vkey" | head -n 1)"
curl -s "$S1/about" >"$T/about.html"
check "/about shows the log's verifier key and the witness's key" "1 1" \
  "$(grep -c -F "<pre>$LOG_VKEY</pre>" "$T/about.html") $(grep -c -F "$WVKEY" "$T/about.html")"

gh() { GNUPGHOME=$T/gnupg gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@" 2>/dev/null; }
mkdir -m 700 "$T/gnupg"
fpr_of() { gh --with-colons --list-keys "$1" | awk -F: '/^fpr/{print $10; exit}'; }
newkey() { # NAME: a key for NAME@keydir.test, its armored form in $T/NAME.asc
  gh --quick-gen-key "$1 <$1@keydir.test>" ed25519 sign 1y
  gh --export --armor "$1@keydir.test" >"$T/$1.asc"
}
for n in alice bob; do
  newkey "$n"
  "$K" upload --server "$S1" "$T/$n.asc" >/dev/null
done
A=$(fpr_of alice@keydir.test)

# The served checkpoint carries the witness's cosignature of the current
# tree (keydird submits within a second of a change).
cosigned() { # URL: the checkpoint there carries a line by the witness
  curl -s "$1/log/checkpoint" >"$T/cp" && grep -q "^— $WNAME " "$T/cp"
}
wait_until 20 cosigned "$S1" || { cat "$T/cp" "$T/one.log" "$T/witness.log"; }
check "the checkpoint is cosigned by the witness" 1 "$(grep -c "^— $WNAME " "$T/cp" || true)"
check "the checkpoint is dated by the log" 1 "$(grep -c "^— $ORIGIN " "$T/cp" | awk '{print ($1 == 2)}')"
# The witness's cosignature, checked with Python's cryptography against the
# key sigsum-key wrote (C2SP tlog-cosignature/v1).
verify_cosig() { # NOTE-FILE SSH-PUB NAME: prints the cosignature's time, or fails
  python3 - "$@" <<'EOF'
import base64, hashlib, struct, sys
from cryptography.hazmat.primitives.serialization import load_ssh_public_key, Encoding, PublicFormat
note = open(sys.argv[1], encoding="utf-8").read()
pub = load_ssh_public_key(open(sys.argv[2], "rb").read())
raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
name = sys.argv[3]
kid = hashlib.sha256(name.encode() + b"\n\x04" + raw).digest()[:4]
body, sigs = note.split("\n\n", 1)
for line in sigs.splitlines():
    n, b = line[2:].split(" ")
    blob = base64.b64decode(b)
    if n == name and blob[:4] == kid:
        t = struct.unpack(">Q", blob[4:12])[0]
        pub.verify(blob[12:], ("cosignature/v1\ntime %d\n" % t).encode() + body.encode() + b"\n")
        print(t)
        sys.exit(0)
sys.exit("no cosignature by " + name)
EOF
}
check "the witness's cosignature verifies (Python)" 0 \
  "$(verify_cosig "$T/cp" "$T/witness.key.pub" "$WNAME" >/dev/null; echo $?)"
T1=$(verify_cosig "$T/cp" "$T/log.ssh.pub" "$ORIGIN")
check "the log's dating verifies (Python) and is recent" 1 \
  "$(awk -v t="$T1" -v now="$(date +%s)" 'BEGIN { print (t <= now + 1 && now - t < 30) }')"
# Dated again after the interval (2 s), the tree unchanged.
sleep 3
curl -s "$S1/log/checkpoint" >"$T/cp2"
T2=$(verify_cosig "$T/cp2" "$T/log.ssh.pub" "$ORIGIN")
check "dated again after the interval, same tree" "1 $(sed -n 2p "$T/cp")" \
  "$(awk -v a="$T1" -v b="$T2" 'BEGIN { print (b > a) }') $(sed -n 2p "$T/cp2")"

# --- the client ------------------------------------------------------------------
audit() { # EXIT NAME ARGS...
  local want=$1 name=$2 rc=0
  shift 2
  "$K" fetch --audit --no-wkd "$@" >"$T/out" 2>"$T/err" || rc=$?
  check "$name: exit $want" "$want" "$rc"
  if [ "$rc" != "$want" ]; then sed 's/^/      /' "$T/err"; fi
}
audit 0 "fetch --audit --log-witness (the witness cosigned)" --server "$S1" \
  --log-key "$LOG_VKEY" --log-witness "$WVKEY" "$A"
# A witness key nobody cosigned with: refused, after a few seconds of waiting.
sigsum-key generate -o "$T/nobody.key"
NOBODY=$(sigsum-key to-vkey -k "$T/nobody.key.pub" -n nobody.example/w -t cosignature/v1)
audit 4 "a witness that never cosigned" --server "$S1" --log-key "$LOG_VKEY" --log-witness "$NOBODY" "$A"
check "  ... says so" 1 "$(grep -c 'cosigned by 0 of the 1 witnesses required' "$T/err" || true)"
audit 0 "quorum 1 of the two" --server "$S1" --log-key "$LOG_VKEY" \
  --log-witness "$WVKEY" --log-witness "$NOBODY" --log-witness-quorum 1 "$A"
audit 2 "a signed-note key given as a witness" --server "$S1" --log-key "$LOG_VKEY" --log-witness "$LOG_VKEY" "$A"
LOG_COSIG=$(sigsum-key to-vkey -k "$T/log.ssh.pub" -n "$ORIGIN" -t cosignature/v1)
audit 2 "the log's own key as a witness (its dating would count)" --server "$S1" --log-key "$LOG_VKEY" \
  --log-witness "$LOG_COSIG" "$A"
audit 2 "one witness given twice (quorum 2)" --server "$S1" --log-key "$LOG_VKEY" \
  --log-witness "$WVKEY" --log-witness "$WVKEY" --log-witness-quorum 2 "$A"
audit 2 "--log-witness-quorum without --log-witness" --server "$S1" --log-key "$LOG_VKEY" \
  --log-witness-quorum 1 "$A"
rc=0; "$K" fetch --no-wkd --server "$S1" --log-witness "$WVKEY" "$A" >/dev/null 2>&1 || rc=$?
check "--log-witness without --audit: exit 2" 2 "$rc"
# A busy log: a write every 0.3 s keeps the current checkpoint ahead of the
# witness; the newest witnessed one catches up, and audits pass.
( for i in $(seq 1 20); do newkey "busy$i" && "$K" upload --server "$S1" "$T/busy$i.asc" >/dev/null; sleep 0.3; done ) &
BUSY=$!
sleep 1
audit 0 "fetch --audit --log-witness on a busy log" --server "$S1" --log-key "$LOG_VKEY" \
  --log-witness "$WVKEY" "$A"
check "/log/checkpoint/witnessed is cosigned" 200 "$(curl -s -o "$T/w" -w '%{http_code}' "$S1/log/checkpoint/witnessed")"
check "  ... by the witness" 1 "$(grep -c "^— $WNAME " "$T/w" || true)"
wait "$BUSY" || true
# --- a fork ----------------------------------------------------------------------
"$B/keydird" backup --data "$T/data" --out "$T/backup" >/dev/null
stop_pid "$SERVER_PID"
cp -a "$T/backup" "$T/fork"
cp "$T/data/log.key" "$T/fork/log.key" 2>/dev/null || true
# The first directory goes on: another key, cosigned.
start_keydird one --data "$T/data" --add-rate 0 --log-checkpoint-interval 2 \
  --log-witness "http://127.0.0.1:$WPORT $WVKEY"
S1=$U
newkey carol
"$K" upload --server "$S1" "$T/carol.asc" >/dev/null
SIZE1=$(curl -s "$S1/log/checkpoint" | sed -n 2p)
has_size() { curl -s "$1/log/checkpoint" >"$T/cp" && [ "$(sed -n 2p "$T/cp")" = "$2" ] && grep -q "^— $WNAME " "$T/cp"; }
wait_until 20 has_size "$S1" "$SIZE1" || cat "$T/one.log"
check "the first directory's new tree is cosigned" 0 "$(has_size "$S1" "$SIZE1"; echo $?)"
stop_pid "$SERVER_PID"
# The fork: same key, same start, another upload.
start_keydird two --data "$T/fork" --add-rate 0 --log-checkpoint-interval 2 \
  --log-witness "http://127.0.0.1:$WPORT $WVKEY"
S2=$U
newkey mallory
"$K" upload --server "$S2" "$T/mallory.asc" >/dev/null
M=$(fpr_of mallory@keydir.test)
fork_reported() { grep -q "witness $WNAME.*" "$T/two.log"; }
wait_until 20 fork_reported || true
check "the fork's keydird reports the witness's refusal" 1 \
  "$(grep -c "transparency log: witness $WNAME" "$T/two.log" | awk '{print ($1 >= 1)}')"
check "the fork's checkpoint carries no cosignature by the witness" 0 \
  "$(curl -s "$S2/log/checkpoint" | grep -c "^— $WNAME " || true)"
export XDG_STATE_HOME=$T/state2 # a client that never saw the first directory
audit 4 "fetch --audit --log-witness refuses the fork's answer" --server "$S2" \
  --log-key "$LOG_VKEY" --log-witness "$WVKEY" "$M"
check "  ... no witness has seen it" 1 "$(grep -c 'a view no witness has seen' "$T/err" || true)"
audit 0 "without --log-witness the fork is not caught by a new client (why witnesses)" \
  --server "$S2" --log-key "$LOG_VKEY" "$M"
stop_pid "$SERVER_PID"

# --- a stale view ----------------------------------------------------------------
export XDG_STATE_HOME=$T/state
# A directory that stops dating its checkpoint (here: a day's interval) serves
# the same dated checkpoint on: --log-max-age refuses it once it is older.
start_keydird one --data "$T/data" --add-rate 0 --log-checkpoint-interval 86400
S1=$U
audit 0 "a checkpoint dated now" --server "$S1" --log-key "$LOG_VKEY" --log-max-age 2 "$A"
sleep 3
audit 4 "the same checkpoint 3 s later, --log-max-age 2" --server "$S1" --log-key "$LOG_VKEY" \
  --log-max-age 2 "$A"
check "  ... a stale view" 1 "$(grep -c 'a stale view of the log' "$T/err" || true)"
audit 0 "... and with --log-max-age 60" --server "$S1" --log-key "$LOG_VKEY" --log-max-age 60 "$A"
finish
