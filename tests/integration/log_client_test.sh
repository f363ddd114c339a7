#!/usr/bin/env bash
# The client side of the transparency log end to end: the real keydird
# (open mode, its log on), keys made by gpg, `keydir fetch --audit` by
# fingerprint, by address and through the VKS API (and refresh --audit), the
# log key pinned on first use (and a pin or --log-key the server's key does
# not match), `keydir monitor` with and without --allow, and a proxy in front
# of keydird that lies: (a) it serves another stored form of the key asked for under the
# current proof, or (a') under its own entry, proven in the current tree (a
# stale answer: exit 4), (b) it serves an older checkpoint after a newer one
# was seen (rollback: exit 8, fetch and monitor), (c) it flips a hash of the
# inclusion proof (exit 4), (d) of a consistency proof (exit 8).
#   log_client_test.sh BUILD_DIR
set -euo pipefail
B=${1:?usage: log_client_test.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../support/harness.sh"
use_temp_dir
K="$B/keydir"
unset KEYDIR_SERVER KEYDIR_PROGRESS
export XDG_CONFIG_HOME=$T/config # no user configuration
export XDG_STATE_HOME=$T/state   # the client's pins and checkpoints
ST=$XDG_STATE_HOME/keydir

start_keydird server --data "$T/data" --add-rate 0
S=$U

OWNER=$T/gnupg-owner
mkdir -m 700 "$OWNER"
og() { GNUPGHOME=$OWNER gpg --batch --quiet --pinentry-mode loopback --passphrase '' "$@" 2>/dev/null; }
fpr_of() { og --with-colons --list-keys "$1" | awk -F: '/^fpr/{print $10; exit}'; }
lower() { tr 'A-F' 'a-f'; }
upload() { "$K" upload --server "$S" "$1" >/dev/null 2>&1; }

og --quick-gen-key "Alice <alice@keydir.test>" ed25519 sign 1y
og --quick-gen-key "Bob <bob@keydir.test>" ed25519 sign 1y
og --quick-gen-key "Mallory <mallory@keydir.test>" ed25519 sign 1y
A=$(fpr_of alice@keydir.test)
BO=$(fpr_of bob@keydir.test)
M=$(fpr_of mallory@keydir.test)
VA=04$(echo "$A" | lower)
VM=04$(echo "$M" | lower)
og --export --armor "$A" >"$T/alice1.asc"
og --export --armor "$BO" >"$T/bob.asc"
check "upload alice and bob" 0 "$(upload "$T/alice1.asc" && upload "$T/bob.asc"; echo $?)"
# Alice's published form now, as a lookup serves it (for the swap below).
curl -s -D "$T/alice1.headers" -H 'Keydir-Log-Proof: 1' "$S/pks/lookup?op=get&options=mr&search=0x$A" >"$T/alice1.served"
check "keydird serves /log/vkey" 200 "$(curl -s -o "$T/vkey" -w '%{http_code}' "$S/log/vkey")"
VKEY=$(head -n 1 "$T/vkey")
ORIGIN=${VKEY%%+*}

# --- fetch --audit ---------------------------------------------------------------
audit() { # EXIT NAME ARGS...: keydir fetch --audit ARGS; out and err in $T/out, $T/err
  local want=$1 name=$2 rc=0
  shift 2
  "$K" fetch --audit --no-wkd "$@" >"$T/out" 2>"$T/err" || rc=$?
  check "$name: exit $want" "$want" "$rc"
  if [ "$rc" != "$want" ]; then sed 's/^/      /' "$T/err"; fi
}
audit 0 "audit by fingerprint (first use)" --server "$S" "$A"
check "first use: the key is pinned, and said" 1 \
  "$(grep -c "^keydir: pinned log key ${ORIGIN}+[0-9a-f]\{8\} for $S on first use\$" "$T/err" || true)"
check "audit by fingerprint: the audited line" 1 \
  "$(grep -c "^keydir: audited: 1 certificate(s) in $ORIGIN at size [0-9]*\$" "$T/err" || true)"
check "audit by fingerprint: the key on stdout" 1 "$(grep -c 'BEGIN PGP PUBLIC KEY BLOCK' "$T/out" || true)"
check "the pin file" "$S $VKEY" "$(cat "$ST/log-pins")"
check "state folder 0700, files 0600" "700 600 600" \
  "$(stat -c %a "$ST") $(stat -c %a "$ST/log-pins") $(stat -c %a "$ST"/log-*.state)"
audit 0 "audit by address" --server "$S" alice@keydir.test
check "second use: nothing pinned again" 0 "$(grep -c 'pinned log key' "$T/err" || true)"
check "audit by address: the audited line" 1 "$(grep -c '^keydir: audited: 1 certificate(s)' "$T/err" || true)"
check "audit by address: the scheme is cached" 1 "$(grep -c '^scheme ' "$ST"/log-*.state || true)"
audit 0 "audit through the VKS API" --server "$S" --vks "$A"
audit 0 "--log-key given" --server "$S" --log-key "$VKEY" "$BO"
# Another key of the same name (made here): the checkpoint cannot verify.
OTHER=$(python3 - "$ORIGIN" <<'EOF'
import base64, hashlib, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
name = sys.argv[1]
pub = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
h = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
print("%s+%s+%s" % (name, h.hex(), base64.b64encode(b"\x01" + pub).decode()))
EOF
)
audit 4 "--log-key of another key" --server "$S" --log-key "$OTHER" "$A"
check "--log-key of another key: nothing on stdout" 0 "$(wc -c <"$T/out")"
cp "$ST/log-pins" "$T/pins.good"
echo "$S $OTHER" >"$ST/log-pins"
audit 4 "a pin the server's key does not match" --server "$S" "$A"
check "the mismatch is reported, the pin wins" 1 "$(grep -c 'is not the one trusted for it' "$T/err" || true)"
check "the pin is kept" "$S $OTHER" "$(cat "$ST/log-pins")"
cp "$T/pins.good" "$ST/log-pins"

# --- monitor ---------------------------------------------------------------------
mon() { # EXIT NAME ARGS...: keydir monitor ARGS; out and err in $T/mout, $T/merr
  local want=$1 name=$2 rc=0
  shift 2
  "$K" monitor "$@" >"$T/mout" 2>"$T/merr" || rc=$?
  check "$name: exit $want" "$want" "$rc"
  if [ "$rc" != "$want" ]; then sed 's/^/      /' "$T/merr" "$T/mout"; fi
}
mon 9 "monitor without --allow: an alert" --server "$S" alice@keydir.test
check "the ALERT line" 1 \
  "$(grep -c "^ALERT alice@keydir.test bound to $VA at entry [0-9]* ([0-9T:Z-]*)\$" "$T/mout" || true)"
check "the published line" 1 "$(grep -c " $VA alice@keydir.test published" "$T/mout" || true)"
mon 0 "monitor again: nothing new" --server "$S" alice@keydir.test
check "nothing new: nothing printed" 0 "$(cat "$T/mout" "$T/merr" | wc -c)"
mon 0 "monitor -v: nothing new, said on stderr" --server "$S" -v alice@keydir.test
check "-v: what was checked" 1 "$(grep -c '^keydir: monitor: checked 0 new entries' "$T/merr" || true)"
# Alice's key changes (a new subkey): a new entry for her address.
og --quick-add-key "$A" cv25519 encr 1y
og --export --armor "$A" >"$T/alice2.asc"
check "upload alice's update" 0 "$(upload "$T/alice2.asc"; echo $?)"
mon 0 "monitor --allow alice: her update is no alert" --server "$S" --allow "$A" alice@keydir.test
check "her update is reported as published" 1 "$(grep -c " $VA alice@keydir.test published" "$T/mout" || true)"
check "no ALERT" 0 "$(grep -c '^ALERT' "$T/mout" || true)"
# Mallory publishes a key with Alice's address.
og --quick-add-uid "$M" "Alice <alice@keydir.test>"
og --export --armor "$M" >"$T/mallory.asc"
check "upload mallory's key with alice's address" 0 "$(upload "$T/mallory.asc"; echo $?)"
mon 9 "monitor --allow alice: mallory's key is an alert" --server "$S" --allow "$A" alice@keydir.test bob@keydir.test
check "the ALERT names mallory's key" 1 "$(grep -c "^ALERT alice@keydir.test bound to $VM " "$T/mout" || true)"
check "and only it" 1 "$(grep -c '^ALERT' "$T/mout" || true)"
# A fresh state folder: the first run reads the whole log.
XDG_STATE_HOME=$T/state2 mon 9 "monitor, first run: the whole log" --server "$S" --allow "$A" alice@keydir.test
check "first run: alice's two entries and mallory's" "2 1" \
  "$(grep -c " $VA alice@keydir.test published" "$T/mout") $(grep -c "^ALERT alice@keydir.test bound to $VM " "$T/mout")"
audit 0 "audit by address: both keys" --server "$S" alice@keydir.test
check "both keys audited" 1 "$(grep -c '^keydir: audited: 2 certificate(s)' "$T/err" || true)"

# --- a lying proxy ---------------------------------------------------------------
cat >"$T/proxy.py" <<'EOF'
import base64, sys, urllib.request, urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
up, portfile, swapfile = sys.argv[1], sys.argv[2], sys.argv[3]
state = {"mode": "", "first_header": None, "first_note": None}
def flip(b64):
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        if self.path.startswith("/proxy/mode"):
            state["mode"] = self.path.partition("=")[2]
            return self.reply(200, {}, b"ok\n")
        req = urllib.request.Request(up + self.path)
        if self.headers.get("Keydir-Log-Proof"):
            req.add_header("Keydir-Log-Proof", self.headers["Keydir-Log-Proof"])
        try:
            r = urllib.request.urlopen(req, timeout=20)
            code, body, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            code, body, hdrs = e.code, e.read(), e.headers
        out = {k: hdrs[k] for k in ("Content-Type", "Keydir-Log-Checkpoint", "Keydir-Log-Inclusion") if hdrs.get(k)}
        mode = state["mode"]
        if "Keydir-Log-Checkpoint" in out and state["first_header"] is None:
            state["first_header"] = out["Keydir-Log-Checkpoint"]
        if self.path == "/log/checkpoint" and state["first_note"] is None:
            state["first_note"] = body
        if mode == "swap" and "Keydir-Log-Inclusion" in out:
            body = open(swapfile, "rb").read()
        if mode == "stale" and "Keydir-Log-Inclusion" in out:
            # The earlier form with its own entry, proven in the current tree.
            body = open(swapfile, "rb").read()
            old = [l.split(":", 1)[1].strip() for l in open(swapfile.replace(".served", ".headers"))
                   if l.lower().startswith("keydir-log-inclusion:")][0]
            index, entry = old.split(" ")[:2]
            size = base64.b64decode(out["Keydir-Log-Checkpoint"]).decode().split("\n")[1]
            import json
            p = json.load(urllib.request.urlopen("%s/log/proof/inclusion?index=%s&size=%s" % (up, index, size)))
            out["Keydir-Log-Inclusion"] = "%s %s %s" % (index, entry, ",".join(p["hashes"]))
        if mode == "rollback":
            if "Keydir-Log-Checkpoint" in out:
                out["Keydir-Log-Checkpoint"] = state["first_header"]
            if self.path == "/log/checkpoint":
                body = state["first_note"]
        if mode == "proof" and "Keydir-Log-Inclusion" in out:
            index, entry, hashes = out["Keydir-Log-Inclusion"].split("; ")[0].split(" ")
            hs = hashes.split(",")
            hs[0] = flip(hs[0])
            out["Keydir-Log-Inclusion"] = " ".join([index, entry, ",".join(hs)])
        if mode == "consistency" and self.path.startswith("/log/proof/consistency"):
            import json
            j = json.loads(body)
            j["hashes"][-1] = flip(j["hashes"][-1])
            body = json.dumps(j).encode()
        self.reply(code, out, body)
    def reply(self, code, hdrs, body):
        self.send_response(code)
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write("%d\n" % srv.server_address[1])
srv.serve_forever()
EOF
python3 "$T/proxy.py" "$S" "$T/proxy.port" "$T/alice1.served" 2>"$T/proxy.err" &
PIDS+=("$!")
wait_for test -s "$T/proxy.port" || { cat "$T/proxy.err"; echo "FAIL  the proxy did not start"; exit 1; }
P=http://127.0.0.1:$(head -n 1 "$T/proxy.port")
mode() { curl -s -o /dev/null "$P/proxy/mode?m=$1"; }
export XDG_STATE_HOME=$T/state-proxy
audit 0 "through the honest proxy" --server "$P" "$A"

mode swap
audit 4 "(a) alice's earlier published form under the current proof" --server "$P" "$A"
check "(a) the reason" 1 "$(grep -c 'is of other octets than the ones served' "$T/err" || true)"
check "(a) nothing on stdout" 0 "$(wc -c <"$T/out")"
mode stale
audit 4 "(a') alice's earlier form with its own entry, proven in the current tree" --server "$P" "$A"
check "(a') the reason: a stale answer" 1 "$(grep -c 'a stale answer: the log holds entry [0-9]* for '"$VA"', newer than entry' "$T/err" || true)"
check "(a') nothing on stdout" 0 "$(wc -c <"$T/out")"
mode proof
audit 4 "(c) a flipped hash in the inclusion proof" --server "$P" "$A"
check "(c) the reason" 1 "$(grep -c 'inclusion proof of entry [0-9]* in the tree of size [0-9]* does not verify' "$T/err" || true)"
check "(c) nothing on stdout" 0 "$(wc -c <"$T/out")"
rc=0
"$K" refresh --audit --server "$P" --keyring "$T/alice1.asc" >"$T/out" 2>"$T/err" || rc=$?
check "(c) refresh --audit: exit 4, the key failed" "4 1" "$rc $(grep -c '^  error: the log audit of the server' "$T/out" || true)"
mode ""
rc=0
"$K" refresh --audit --server "$P" --keyring "$T/alice1.asc" >"$T/out" 2>"$T/err" || rc=$?
check "refresh --audit, honest: exit 0, the new subkey" "0 1" "$rc $(grep -c '^  new subkey' "$T/out" || true)"

# The log grows; the client sees the newer checkpoint, then the proxy rolls back.
mode ""
"$K" monitor --server "$P" bob@keydir.test >/dev/null 2>&1 || true
og --quick-add-uid "$BO" "Bob <bob@work.keydir.test>"
og --export --armor "$BO" >"$T/bob2.asc"
check "upload bob's update" 0 "$(upload "$T/bob2.asc"; echo $?)"
mode consistency
mon 8 "(d) a flipped hash in the consistency proof (monitor)" --server "$P" bob@keydir.test
check "(d) the fork is reported" 1 "$(grep -c 'consistency proof from size [0-9]* to [0-9]* does not verify' "$T/merr" || true)"
mode ""
audit 0 "the newer checkpoint, honestly" --server "$P" "$BO"
mode rollback
audit 8 "(b) an older checkpoint after a newer one (fetch)" --server "$P" "$A"
check "(b) rollback named, both checkpoints printed" "1 1 1" \
  "$(grep -c 'rollback: the log shrank from' "$T/err") $(grep -c '^keydir: checkpoint seen before' "$T/err") $(grep -c '^keydir: checkpoint now' "$T/err")"
check "(b) nothing on stdout" 0 "$(wc -c <"$T/out")"
mon 8 "(b) an older checkpoint after a newer one (monitor)" --server "$P" bob@keydir.test
mode ""
audit 0 "the proxy honest again" --server "$P" "$A"
finish "log client: all checks passed"
