#!/usr/bin/env bash
# WKD and VKS lookup load with wrk, against a running keydird that holds a
# corpus and serves WKD for its domain.
#   tests/bench/wkd_vks_load.sh BASE_URL CORPUS_DIR DOMAIN
# CORPUS_DIR as made by ../shared/bench/make-corpus.sh (emails.txt: "KEYID
# address", fingerprints.txt). Cases: WKD direct method (Host: DOMAIN), VKS
# by-email, VKS by-fingerprint, and HKP op=get by e-mail for comparison.
# Environment: DURATION (10s), THREADS (2), CONNS (32).
set -euo pipefail
BASE=${1:?usage: wkd_vks_load.sh BASE_URL CORPUS_DIR DOMAIN}
CORPUS=${2:?usage: wkd_vks_load.sh BASE_URL CORPUS_DIR DOMAIN}
DOMAIN=${3:?usage: wkd_vks_load.sh BASE_URL CORPUS_DIR DOMAIN}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/wrk_table.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$CORPUS" "$DOMAIN" "$W" <<'PY'
import hashlib, sys
corpus, domain, w = sys.argv[1:]
zb = "ybndrfg8ejkmcpqxot1uwisza345h769"
def zbase32(b):
    bits = "".join(f"{x:08b}" for x in b)
    return "".join(zb[int(bits[i:i + 5].ljust(5, "0"), 2)] for i in range(0, len(bits), 5))
emails = sorted({l.split()[-1] for l in open(f"{corpus}/emails.txt") if l.strip()})
mine = [e for e in emails if e.lower().endswith("@" + domain)]
with open(f"{w}/wkd", "w") as f:
    for e in mine:
        local = e.rsplit("@", 1)[0].lower()
        f.write(f"{domain} /.well-known/openpgpkey/hu/{zbase32(hashlib.sha1(local.encode()).digest())}?l={local}\n")
with open(f"{w}/vks-email", "w") as f:
    for e in emails:
        f.write(f"keys /vks/v1/by-email/{e.replace('@', '%40')}\n")
with open(f"{w}/hkp-email", "w") as f:
    for e in emails:
        f.write(f"keys /pks/lookup?op=get&options=mr&search={e.replace('@', '%40')}\n")
with open(f"{w}/vks-fpr", "w") as f:
    for l in open(f"{corpus}/fingerprints.txt"):
        if l.strip():
            f.write(f"keys /vks/v1/by-fingerprint/{l.strip().upper()}\n")
print(f"{len(mine)} addresses at {domain}, {len(emails)} in all")
PY
wrk_table "$BASE" "$W" wkd vks-email vks-fpr hkp-email
