#!/usr/bin/env bash
# Web page load with wrk, against a running keydird that holds a corpus.
#   tests/bench/pages_load.sh BASE_URL CORPUS_DIR
# CORPUS_DIR as made by ../shared/bench/make-corpus.sh (emails.txt: "KEYID
# address", fingerprints.txt). Cases: the home page, a key page by
# fingerprint, a search by address, and the HTML 404 of an unknown path
# (what any client, or a scanner, gets). Every page is rendered from the
# templates; none is cached as an answer.
# Environment: DURATION (10s), THREADS (2), CONNS (32).
set -euo pipefail
BASE=${1:?usage: pages_load.sh BASE_URL CORPUS_DIR}
CORPUS=${2:?usage: pages_load.sh BASE_URL CORPUS_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/wrk_table.sh"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$CORPUS" "$W" <<'PY'
import sys
corpus, w = sys.argv[1:]
emails = sorted({l.split()[-1] for l in open(f"{corpus}/emails.txt") if l.strip()})
fprs = [l.strip().upper() for l in open(f"{corpus}/fingerprints.txt") if l.strip()]
with open(f"{w}/home", "w") as f:
    f.write("keys /\n")
with open(f"{w}/key", "w") as f:
    f.writelines(f"keys /key/{x}\n" for x in fprs)
with open(f"{w}/search", "w") as f:
    f.writelines(f"keys /search?q={e.replace('@', '%40')}\n" for e in emails)
with open(f"{w}/not-found", "w") as f:
    f.writelines(f"keys /no/such/page/{i}\n" for i in range(1000))
PY
wrk_table "$BASE" "$W" home key search not-found
