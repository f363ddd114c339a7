// keydir-log-oracle: checks a keydird transparency log with code keydir's
// authors did not write: Debian's golang.org/x/mod/sumdb/tlog (RFC 6962
// hashing, tiles, proofs) and golang.org/x/mod/sumdb/note (signed notes).
//
//	keydir-log-oracle --url http://127.0.0.1:PORT [--vkey-file F | --vkey S]
//	                  [--state FILE] [--inclusion I,...] [--full]
//
// One "ok ..." or "FAIL ..." line per check, then a summary line. Exit
// status: 0 all checks passed, 1 a check failed, 2 usage, 3 the log went
// back (a stored checkpoint newer than the served one, or no consistency
// proof between them), 4 network.
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type oracle struct {
	base     string
	client   *http.Client
	oks      int
	fails    int
	rollback bool
	tiles    map[string][]byte // tile bodies by path (re-authenticated at every read)
}

func (o *oracle) ok(format string, a ...interface{}) {
	o.oks++
	fmt.Printf("ok   "+format+"\n", a...)
}

func (o *oracle) fail(format string, a ...interface{}) {
	o.fails++
	fmt.Printf("FAIL "+format+"\n", a...)
}

// fatal: a failed check the rest cannot go on from.
func (o *oracle) fatal(code int, format string, a ...interface{}) {
	o.fail(format, a...)
	o.finish(code)
}

func (o *oracle) finish(code int) {
	if o.rollback && code != 2 {
		code = 3 // the log went back: that outweighs all else
	} else if code == 0 && o.fails > 0 {
		code = 1
	}
	if code == 0 {
		fmt.Printf("oracle: all %d checks passed\n", o.oks)
	} else {
		fmt.Printf("oracle: %d of %d checks failed (exit %d)\n", o.fails, o.oks+o.fails, code)
	}
	os.Exit(code)
}

// get fetches a path of the server; a transport error ends the run (exit 4).
func (o *oracle) get(path string) (body []byte, status int, ctype string) {
	resp, err := o.client.Get(o.base + path)
	if err != nil {
		fmt.Printf("FAIL network: GET %s: %v\n", path, err)
		o.fails++
		o.finish(4)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		fmt.Printf("FAIL network: GET %s: reading the body: %v\n", path, err)
		o.fails++
		o.finish(4)
	}
	return body, resp.StatusCode, resp.Header.Get("Content-Type")
}

// get200 fetches a path that must answer 200.
func (o *oracle) get200(path string) ([]byte, error) {
	body, status, _ := o.get(path)
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d: %.120q", path, status, body)
	}
	return body, nil
}

// tileReader serves Go's tlog the C2SP tiles of keydird. Everything it
// returns is checked by tlog.TileHashReader against the signed root.
type tileReader struct{ o *oracle }

func (r tileReader) Height() int { return tileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := "/log/" + tilePath(t)
		if b, ok := r.o.tiles[p]; ok {
			data[i] = b
			continue
		}
		b, err := r.o.get200(p)
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("GET %s: %d bytes, want %d", p, len(b), t.W*tlog.HashSize)
		}
		r.o.tiles[p] = b
		data[i] = b
	}
	return data, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// openCheckpoint verifies a signed note with v and parses its checkpoint.
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, err
	}
	c, err := parseCheckpoint(n.Text)
	if err != nil {
		return c, err
	}
	if c.origin != v.Name() {
		return c, fmt.Errorf("origin %q, but the verifier key is %q's", c.origin, v.Name())
	}
	return c, nil
}

type proofJSON struct {
	Index  *int64   `json:"index"`
	Size   *int64   `json:"size"`
	Old    *int64   `json:"old"`
	New    *int64   `json:"new"`
	Hashes []string `json:"hashes"`
}

// proof fetches a proof and checks the numbers it echoes.
func (o *oracle) proof(path string, want map[string]int64) ([]tlog.Hash, error) {
	body, err := o.get200(path)
	if err != nil {
		return nil, err
	}
	var p proofJSON
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("GET %s: not JSON: %v: %.120q", path, err, body)
	}
	got := map[string]*int64{"index": p.Index, "size": p.Size, "old": p.Old, "new": p.New}
	for k, v := range want {
		if got[k] == nil || *got[k] != v {
			return nil, fmt.Errorf("GET %s: %q is not %d: %.200q", path, k, v, body)
		}
	}
	if p.Hashes == nil {
		return nil, fmt.Errorf("GET %s: no \"hashes\" array: %.200q", path, body)
	}
	hs := make([]tlog.Hash, len(p.Hashes))
	for i, s := range p.Hashes {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("GET %s: hash %d %q is not base64 of 32 bytes", path, i, s)
		}
		copy(hs[i][:], b)
	}
	return hs, nil
}

// sample: about n indices of [0, size), 0 and size-1 among them.
func sample(size int64, n int64) []int64 {
	var out []int64
	if size <= n {
		for i := int64(0); i < size; i++ {
			out = append(out, i)
		}
		return out
	}
	for k := int64(0); k < n; k++ {
		out = append(out, k*(size-1)/(n-1))
	}
	return out
}

func main() {
	fs := flag.NewFlagSet("keydir-log-oracle", flag.ContinueOnError)
	url := fs.String("url", "", "base URL of keydird, e.g. http://127.0.0.1:11371")
	vkeyFile := fs.String("vkey-file", "", "the verifier key, from a file (else GET /log/vkey)")
	vkeyArg := fs.String("vkey", "", "the verifier key")
	state := fs.String("state", "", "file with the last checkpoint seen; the new one is written to it")
	inclusion := fs.String("inclusion", "", "comma-separated entry indices whose inclusion proofs are checked")
	full := fs.Bool("full", false, "check every entry bundle, a sample of inclusion proofs, /log/entry and 404s")
	lookups := fs.Bool("lookups", false, "with --full: lookups by fingerprint with Keydir-Log-Proof: 1 answer what the log holds")
	address := fs.String("address", "", "with --full: comma-separated addresses whose lookups (Keydir-Log-Proof: 1) are checked")
	wkd := fs.Bool("wkd", false, "with --address: also WKD's direct method (Host: the address's domain)")
	fprs := fs.String("fingerprints", "", "with --full: comma-separated fingerprints known to be in a log that blinds them (scheme 2), checked by /log/entry and --lookups")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of one HTTP request")
	if err := fs.Parse(os.Args[1:]); err != nil || fs.NArg() != 0 || *url == "" || (*vkeyFile != "" && *vkeyArg != "") ||
		((*lookups || *address != "" || *fprs != "") && !*full) {
		fmt.Fprintln(os.Stderr, "usage: keydir-log-oracle --url http://HOST:PORT [--vkey-file F | --vkey STRING] [--state FILE] [--inclusion I,...] [--full [--lookups] [--address A,...] [--fingerprints F,...]]")
		os.Exit(2)
	}
	known, err := parseFingerprints(*fprs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keydir-log-oracle: --fingerprints: %v\n", err)
		os.Exit(2)
	}
	var wantIdx []int64
	if *inclusion != "" {
		for _, s := range strings.Split(*inclusion, ",") {
			i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil || i < 0 {
				fmt.Fprintf(os.Stderr, "keydir-log-oracle: --inclusion: %q is not an index\n", s)
				os.Exit(2)
			}
			wantIdx = append(wantIdx, i)
		}
	}
	o := &oracle{base: strings.TrimRight(*url, "/"), client: &http.Client{Timeout: *timeout}, tiles: map[string][]byte{}}

	// The verifier key.
	var vkey string
	switch {
	case *vkeyFile != "":
		b, err := os.ReadFile(*vkeyFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "keydir-log-oracle: %v\n", err)
			os.Exit(2)
		}
		vkey = strings.TrimSpace(string(b))
	case *vkeyArg != "":
		vkey = strings.TrimSpace(*vkeyArg)
	default:
		b, err := o.get200("/log/vkey")
		if err != nil {
			o.fatal(1, "vkey: %v", err)
		}
		if strings.Count(string(b), "\n") != 1 || !strings.HasSuffix(string(b), "\n") {
			o.fail("vkey: /log/vkey is not one newline-terminated line: %q", b)
		}
		vkey = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		o.fatal(1, "vkey: note.NewVerifier(%q): %v", vkey, err)
	}
	o.ok("vkey: %s (key hash %08x)", v.Name(), v.KeyHash())
	if *vkeyFile != "" || *vkeyArg != "" {
		if b, status, _ := o.get("/log/vkey"); status != 200 || strings.TrimSpace(string(b)) != vkey {
			o.fail("vkey: /log/vkey answers %d %q, not the given key", status, b)
		} else {
			o.ok("vkey: /log/vkey serves the given key")
		}
	}

	// The checkpoint.
	cpText, status, ctype := o.get("/log/checkpoint")
	if status != 200 {
		o.fatal(1, "checkpoint: GET /log/checkpoint: status %d: %.120q", status, cpText)
	}
	if !strings.HasPrefix(ctype, "text/plain") {
		o.fail("checkpoint: Content-Type %q, want text/plain", ctype)
	}
	cp, err := openCheckpoint(cpText, v)
	if err != nil {
		o.fatal(1, "checkpoint: %v\n%s", err, cpText)
	}
	o.ok("checkpoint: signature of %s verifies; size %d, root %s", cp.origin, cp.size, cp.root)

	// The checkpoint seen last time.
	var old *checkpoint
	var oldText []byte
	if *state != "" {
		b, err := os.ReadFile(*state)
		switch {
		case os.IsNotExist(err) || (err == nil && len(b) == 0):
			o.ok("state: %s holds no checkpoint yet", *state)
		case err != nil:
			fmt.Fprintf(os.Stderr, "keydir-log-oracle: %v\n", err)
			os.Exit(2)
		default:
			c, err := openCheckpoint(b, v)
			if err != nil {
				o.fatal(1, "state: the stored checkpoint does not verify: %v\n%s", err, b)
			}
			o.ok("state: stored checkpoint verifies; size %d, root %s", c.size, c.root)
			old, oldText = &c, b
			if c.size > cp.size || (c.size == cp.size && c.root != cp.root) {
				o.rollback = true
				what := "shrank"
				if c.size == cp.size {
					what = "has another root at the same size"
				}
				o.fail("rollback: the log %s: stored checkpoint (size %d)\n%s-- served checkpoint (size %d)\n%s",
					what, c.size, b, cp.size, cpText)
			}
		}
	}

	// The tree: every tile Go reads is checked against the signed root.
	var reader tlog.HashReader
	if cp.size == 0 {
		if cp.root != tlog.Hash(sha256.Sum256(nil)) {
			o.fail("tree: empty tree with root %s, want SHA-256(\"\")", cp.root)
		} else {
			o.ok("tree: empty, root SHA-256(\"\")")
		}
	} else {
		reader = tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, tileReader{o})
		th, err := tlog.TreeHash(cp.size, reader)
		if err != nil {
			o.fatal(1, "tree: tlog.TreeHash(%d) from the tiles: %v", cp.size, err)
		} else if th != cp.root {
			o.fatal(1, "tree: tiles give root %s, checkpoint says %s", th, cp.root)
		}
		o.ok("tree: the hash tiles give the checkpoint's root (%d tiles read)", len(o.tiles))
	}

	// Every entry (--full).
	leafHash := map[int64]tlog.Hash{}
	if *full && cp.size > 0 {
		latest, entries, nm := checkEntries(o, reader, cp.size, leafHash, known)
		if *lookups {
			checkLookups(o, v, cp, latest, entries, nm)
		}
		if *address != "" {
			if h, err := parseEntry(0, entries[0]); err == nil {
				checkAddresses(o, v, cp, strings.Split(*address, ","), *wkd, h, headerSalt(entries[0]), latest, entries)
			}
		}
	}
	var edge edges
	if *full && cp.size > 0 {
		checkTileEdges(o, &edge, cp.size)
	}

	// Inclusion proofs.
	idx := append([]int64{}, wantIdx...)
	if *full {
		idx = append(idx, sample(cp.size, 50)...)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	var uniq []int64
	for k, i := range idx {
		if k > 0 && idx[k-1] == i {
			continue
		}
		if i >= cp.size {
			o.fail("inclusion: index %d is not in the tree of size %d", i, cp.size)
			continue
		}
		uniq = append(uniq, i)
	}
	if len(uniq) > 0 {
		var need []int64
		for _, i := range uniq {
			need = append(need, tlog.StoredHashIndex(0, i))
		}
		hs, err := reader.ReadHashes(need)
		if err != nil {
			o.fatal(1, "inclusion: leaf hashes from the tiles: %v", err)
		}
		bad := 0
		for k, i := range uniq {
			if lh, ok := leafHash[i]; ok && lh != hs[k] {
				o.fail("inclusion: leaf %d: the entry hashes to %s, the tile says %s", i, lh, hs[k])
			}
			if !inclusionOK(o, i, cp, hs[k]) {
				bad++
			}
		}
		if bad == 0 {
			o.ok("inclusion: %d proofs against size %d verify (indices %d..%d)", len(uniq), cp.size, uniq[0], uniq[len(uniq)-1])
		}
		if old != nil && old.size > 0 && old.size < cp.size {
			var oi []int64
			var oh []tlog.Hash
			for k, i := range uniq {
				if i < old.size {
					oi, oh = append(oi, i), append(oh, hs[k])
				}
			}
			if len(oi) == 0 || oi[len(oi)-1] != old.size-1 {
				h, err := reader.ReadHashes([]int64{tlog.StoredHashIndex(0, old.size-1)})
				if err != nil {
					o.fatal(1, "inclusion: leaf hash %d: %v", old.size-1, err)
				}
				oi, oh = append(oi, old.size-1), append(oh, h[0])
			}
			bad = 0
			for k, i := range oi {
				if !inclusionOK(o, i, *old, oh[k]) {
					bad++
				}
			}
			if bad == 0 {
				o.ok("inclusion: %d proofs against the stored size %d verify", len(oi), old.size)
			}
		}
	}

	// Consistency with the stored checkpoint.
	if old != nil && old.size > 0 && old.size <= cp.size {
		path := fmt.Sprintf("/log/proof/consistency?old=%d&new=%d", old.size, cp.size)
		p, err := o.proof(path, map[string]int64{"old": old.size, "new": cp.size})
		if err == nil {
			err = tlog.CheckTree(tlog.TreeProof(p), cp.size, cp.root, old.size, old.root)
		}
		if err != nil {
			o.rollback = true
			o.fail("consistency: %s: %v (tlog.CheckTree)\n-- stored checkpoint\n%s-- served checkpoint\n%s", path, err, oldText, cpText)
		} else {
			o.ok("consistency: size %d -> %d (%d hashes, tlog.CheckTree)", old.size, cp.size, len(p))
		}
	}

	if *full {
		negative(o, &edge, cp.size)
		edge.report(o, v, cp.size)
	}

	if *state != "" && o.fails == 0 {
		tmp := filepath.Join(filepath.Dir(*state), "."+filepath.Base(*state)+".tmp")
		if err := os.WriteFile(tmp, cpText, 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "keydir-log-oracle: %v\n", err)
			os.Exit(2)
		}
		if err := os.Rename(tmp, *state); err != nil {
			fmt.Fprintf(os.Stderr, "keydir-log-oracle: %v\n", err)
			os.Exit(2)
		}
		o.ok("state: checkpoint of size %d written to %s", cp.size, *state)
	}
	o.finish(0)
}

// inclusionOK checks the inclusion proof of leaf i (hash lh) in tree c.
func inclusionOK(o *oracle, i int64, c checkpoint, lh tlog.Hash) bool {
	path := fmt.Sprintf("/log/proof/inclusion?index=%d&size=%d", i, c.size)
	p, err := o.proof(path, map[string]int64{"index": i, "size": c.size})
	if err == nil {
		err = tlog.CheckRecord(tlog.RecordProof(p), c.size, c.root, i, lh)
	}
	if err != nil {
		o.fail("inclusion: %s: %v (tlog.CheckRecord, leaf hash %s, root %s)", path, err, lh, c.root)
		return false
	}
	return true
}

// checkEntries reads every entry bundle, compares each entry's RFC 6962 leaf
// hash with the authenticated level-0 hash and parses the entry.
func checkEntries(o *oracle, reader tlog.HashReader, size int64, leafHash map[int64]tlog.Hash, known [][]byte) (latest map[string]int64, entries map[int64][]byte, nm *names) {
	const maxLines = 20 // FAIL lines per kind of failure; the rest are counted
	badHash, badParse, badBundle := 0, 0, 0
	latest = map[string]int64{}
	entries = map[int64][]byte{}
	fields := map[string][]int64{} // entry field hex -> the first few entries carrying it
	kinds := map[byte]int{}
	var lastSeq, lastTime uint64
	seqWarn, timeWarn := 0, 0
	for n := int64(0); n*256 < size; n++ {
		w := size - n*256
		if w > 256 {
			w = 256
		}
		path := "/log/" + tilePath(tlog.Tile{H: tileHeight, L: -1, N: n, W: int(w)})
		b, err := o.get200(path)
		var es [][]byte
		if err == nil {
			es, err = splitBundle(b)
		}
		if err == nil && int64(len(es)) != w {
			err = fmt.Errorf("GET %s: %d entries, want %d", path, len(es), w)
		}
		if err != nil {
			if badBundle++; badBundle <= maxLines {
				o.fail("entries: bundle %d: %v", n, err)
			}
			continue
		}
		need := make([]int64, w)
		for k := range need {
			need[k] = tlog.StoredHashIndex(0, n*256+int64(k))
		}
		hs, err := reader.ReadHashes(need)
		if err != nil {
			o.fatal(1, "entries: level-0 hashes of bundle %d from the tiles: %v", n, err)
		}
		for k, e := range es {
			i := n*256 + int64(k)
			lh := tlog.RecordHash(e)
			leafHash[i] = lh
			if lh != hs[k] {
				if badHash++; badHash <= maxLines {
					o.fail("entries: entry %d (%s) hashes to %s, the verified tile holds %s", i, path, lh, hs[k])
				}
			}
			pe, err := parseEntry(i, e)
			if err != nil {
				if badParse++; badParse <= maxLines {
					o.fail("entries: entry %d malformed: %v: %x", i, err, e)
				}
				continue
			}
			kinds[pe.kind]++
			entries[i] = e
			if pe.vfpr != nil {
				f := hex.EncodeToString(pe.vfpr)
				latest[f] = i
				if len(fields[f]) < 5 {
					fields[f] = append(fields[f], i)
				}
			}
			if i > 0 && pe.seq < lastSeq {
				seqWarn++
			}
			if i > 0 && pe.time < lastTime {
				timeWarn++
			}
			lastSeq, lastTime = pe.seq, pe.time
		}
	}
	for what, n := range map[string]int{"entry bundles unreadable": badBundle, "entries with a wrong leaf hash": badHash, "entries malformed": badParse} {
		if n > maxLines {
			o.fail("entries: %d %s in all (%d shown)", n, what, maxLines)
		}
	}
	if badBundle+badHash+badParse == 0 {
		o.ok("entries: %d entries in %d bundles hash to the verified leaves and parse (header, %d certificate, %d deletion entries)",
			size, (size+255)/256, kinds[kindCert], kinds[kindDeleted])
	}
	if seqWarn > 0 || timeWarn > 0 {
		fmt.Printf("note entries: seq goes down %d times, time %d times (the contract does not order them)\n", seqWarn, timeWarn)
	}

	// Which certificates the entries name: in clear, or (scheme 2) blinded.
	var header *entry
	if e, ok := entries[0]; ok {
		header, _ = parseEntry(0, e)
	}
	var salt []byte
	if header != nil {
		salt = headerSalt(entries[0])
	}
	nm = newNames(header, salt, known)
	checkBlinded(o, nm, fields)

	// /log/entry/<vfpr hex>: the latest entry of each certificate (asked
	// by its real fingerprint; in a scheme 2 log, the ones given).
	keys := nm.sample(latest, 200)
	bad := 0
	if nm.blinded {
		// A fingerprint given that the log holds no entry of: /log/entry has none either.
		for _, v := range nm.known {
			path := "/log/entry/" + hex.EncodeToString(v)
			if _, ok := latest[hex.EncodeToString(blindVfpr(salt, v))]; ok {
				continue
			}
			if body, status, _ := o.get(path); status != http.StatusNotFound {
				if bad++; bad <= maxLines {
					o.fail("entry lookup: GET %s: status %d, but no entry of the log is of that certificate: %.200q", path, status, body)
				}
			}
		}
	}
	for _, k := range keys {
		certVfpr, _ := nm.of(k)
		path := "/log/entry/" + certVfpr
		body, err := o.get200(path)
		var r struct {
			Index *int64 `json:"index"`
			Entry string `json:"entry"`
		}
		if err == nil {
			if err = json.Unmarshal(body, &r); err != nil {
				err = fmt.Errorf("GET %s: not JSON: %v: %.120q", path, err, body)
			}
		}
		if err == nil {
			want := latest[k]
			e, derr := base64.StdEncoding.Strict().DecodeString(r.Entry)
			switch {
			case r.Index == nil || *r.Index != want:
				err = fmt.Errorf("GET %s: index %v, the latest entry of that certificate is %d: %.200q", path, r.Index, want, body)
			case derr != nil || string(e) != string(entries[want]):
				err = fmt.Errorf("GET %s: entry differs from entry %d of the bundles: %.200q", path, want, body)
			}
		}
		if err != nil {
			if bad++; bad <= maxLines {
				o.fail("entry lookup: %v", err)
			}
		}
	}
	if bad == 0 && len(keys) > 0 {
		o.ok("entry lookup: /log/entry/<vfpr> gives the latest entry of %d certificates", len(keys))
	}
	return latest, entries, nm
}

// sortedSample: the keys of m, sorted; about n of them, evenly spread.
func sortedSample(m map[string]int64, n int64) []string {
	keys := []string{}
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if int64(len(keys)) <= n {
		return keys
	}
	var s []string
	for _, k := range sample(int64(len(keys)), n) {
		s = append(s, keys[k])
	}
	return s
}

// checkTileEdges: past the tree, tiles and bundles are 404; a narrower partial
// tile is a prefix of the current one.
func checkTileEdges(o *oracle, e *edges, size int64) {
	last := size / 256 // the first level-0 tile that is not full
	past := last       // the first one with no entry at all
	if size%256 != 0 {
		past++
	}
	for _, t := range []tlog.Tile{
		{H: tileHeight, L: 0, N: past, W: 256},
		{H: tileHeight, L: 0, N: past, W: 1},
		{H: tileHeight, L: -1, N: past, W: 256},
	} {
		path := "/log/" + tilePath(t)
		if _, status, _ := o.get(path); status != 404 {
			e.fail("tiles: GET %s (past size %d): status %d, want 404", path, size, status)
		} else {
			e.ok("tiles: GET %s (past size %d): 404", path, size)
		}
	}
	w := int(size % 256)
	if w == 0 {
		return
	}
	for _, l := range []int{0, -1} {
		full := "/log/" + tilePath(tlog.Tile{H: tileHeight, L: l, N: last, W: 256})
		if _, status, _ := o.get(full); status != 404 {
			e.fail("tiles: GET %s (a full tile, the tree holds %d of it): status %d, want 404", full, w, status)
		} else {
			e.ok("tiles: GET %s (a full tile, the tree holds %d of it): 404", full, w)
		}
		wider := "/log/" + tilePath(tlog.Tile{H: tileHeight, L: l, N: last, W: w + 1})
		if _, status, _ := o.get(wider); status != 404 {
			e.fail("tiles: GET %s (wider than the tree): status %d, want 404", wider, status)
		} else {
			e.ok("tiles: GET %s (wider than the tree): 404", wider)
		}
	}
	if w > 1 {
		cur := o.tiles["/log/"+tilePath(tlog.Tile{H: tileHeight, L: 0, N: last, W: w})]
		p := "/log/" + tilePath(tlog.Tile{H: tileHeight, L: 0, N: last, W: w - 1})
		b, err := o.get200(p)
		switch {
		case err != nil:
			e.fail("tiles: narrower partial tile: %v", err)
		case cur == nil:
			e.fail("tiles: the current partial tile %d.p/%d was never read", last, w)
		case string(b) != string(cur[:(w-1)*tlog.HashSize]):
			e.fail("tiles: GET %s is not a prefix of the verified tile of width %d", p, w)
		default:
			e.ok("tiles: GET %s is a prefix of the verified tile of width %d", p, w)
		}
	}
}

// edges holds the checks that hold only while the tree keeps the
// checkpoint's size (what is past it must be 404 or refused): they count
// when the checkpoint is still the same afterwards.
type edges struct{ oks, fails []string }

func (e *edges) ok(format string, a ...interface{}) { e.oks = append(e.oks, fmt.Sprintf(format, a...)) }
func (e *edges) fail(format string, a ...interface{}) {
	e.fails = append(e.fails, fmt.Sprintf(format, a...))
}

func (e *edges) report(o *oracle, v note.Verifier, size int64) {
	if o.rollback {
		fmt.Printf("note %d checks of what lies past size %d not counted: the served checkpoint is not the newest\n", len(e.oks)+len(e.fails), size)
		return
	}
	b, status, _ := o.get("/log/checkpoint")
	c, err := openCheckpoint(b, v)
	if status != 200 || err != nil || c.size != size {
		fmt.Printf("note %d checks of what lies past size %d not counted: the checkpoint changed meanwhile\n", len(e.oks)+len(e.fails), size)
		return
	}
	for _, m := range e.oks {
		o.ok("%s", m)
	}
	for _, m := range e.fails {
		o.fail("%s", m)
	}
}

// negative: proofs the server cannot give must be refused (4xx).
func negative(o *oracle, e *edges, size int64) {
	paths := []string{
		fmt.Sprintf("/log/proof/inclusion?index=0&size=%d", size+1),
		fmt.Sprintf("/log/proof/inclusion?index=%d&size=%d", size, size),
		fmt.Sprintf("/log/proof/consistency?old=%d&new=%d", size, size+1),
		fmt.Sprintf("/log/proof/consistency?old=%d&new=%d", size, size-1),
		"/log/proof/inclusion?index=-1&size=1",
		"/log/proof/inclusion?index=x&size=1",
	}
	if size < 2 {
		paths = paths[:3]
	}
	for _, p := range paths {
		body, status, _ := o.get(p)
		if status >= 400 && status < 500 {
			e.ok("refused: GET %s: %d", p, status)
		} else {
			e.fail("refused: GET %s: status %d, want 4xx: %.120q", p, status, body)
		}
	}
}
