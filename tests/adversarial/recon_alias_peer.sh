#!/usr/bin/env bash
# The keys a reconciliation partner holds in another form (aliases: the
# partner's hash shown to it in place of keydird's, server/recon_peer.cpp),
# attacked with tests/adversarial/recon_alias_peer.py:
# - a partner whose form of a key changes twice (a third-party
#   certification added on its side, which keydird strips) must be shown its
#   current form only, not every form it ever held (a stale one is a hash
#   the partner lacks and keydird cannot serve: the partner would ask for it
#   every round);
# - a configured partner on 127.0.0.1 (Hockeypuck on the same host, or a
#   tunnel) must not be shown a form that another local process served
#   from its own HKP port: that would hide keydird's form of the key from
#   the partner.
#   recon_alias_peer.sh BUILD_DIR DATA_DIR TOOLS_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PEER="$HERE/recon_alias_peer.py"
KEY="$DATA/gpg-ed25519.pgp"
HP_LIST="drop:UAT,drop:hardRevokedCruft,drop:implausible,drop:invalidSelfSig,drop:structuralMartian,drop:unbound,drop:unparseable,schema:application/pgp-keys,versions:34,yminsky.dedup,yminsky.merge"
recon_port() { sed -n 's/^keydird: recon on .*:\([0-9]*\)$/\1/p' "$T/$1.log"; }
upload_key() { curl -s -o /dev/null -w '%{http_code}' -X POST --data-urlencode "keytext@$KEY" "$U/pks/add"; }

# ------------------------------------------- a partner's form changes twice
attack "a partner whose form of a key changes: only its current form is shown to it"
start_keydird stale --recon-listen 127.0.0.1:0 --gossip-interval 0
check "the key is uploaded" 200 "$(upload_key)"
out=$(python3 "$PEER" "$(recon_port stale)" "$KEY" stale 2>&1 || true)
answered "what keydird shows the partner" "$out"
check "before any exchange keydird shows its own form" "before: h0" "$(grep '^before:' <<<"$out")"
check "once fetched, the partner is shown its form 1 in place of keydird's" \
  "after form 1: f1" "$(grep '^after form 1:' <<<"$out")"
check "once the partner holds form 2, it is shown form 2 only (form 1 is stale)" \
  "after form 2: f2" "$(grep '^after form 2:' <<<"$out")"
stop_keydird

# ------------------------- a local process speaks for a configured partner
attack "another local process serves a form of a key for the configured partner on 127.0.0.1"
DEAD=$(free_port)
start_keydird poison --recon-listen 127.0.0.1:0 --gossip-interval 0 \
  --peer "127.0.0.1:$DEAD:$DEAD filters=hockeypuck-2.3"
check "the key is uploaded" 200 "$(upload_key)"
out=$(python3 "$PEER" "$(recon_port poison)" "$KEY" poison "$HP_LIST" "$DEAD" 2>&1 || true)
answered "what keydird shows the configured partner" "$out"
check "before: the partner is shown keydird's form" "partner before: h0" \
  "$(grep '^partner before:' <<<"$out")"
check "after: the partner is still shown keydird's form (not the local process's)" \
  "partner after: h0" "$(grep '^partner after:' <<<"$out")"
stop_keydird

finish
