// Lookups with "Keydir-Log-Proof: 1" (--lookups, --address): the answer is
// the published form the log commits to, and its headers prove it.
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// proved is one certificate of a lookup answer: its entry, proven in the
// tree of the answer's checkpoint.
type proved struct {
	index int64
	entry []byte
	e     *entry
}

// getProof fetches a lookup with the proof header (HKP paths with
// options=proof: without it); the body and the certificates its
// Keydir-Log-Inclusion header proves.
func (o *oracle) getProof(path string, v note.Verifier, cp checkpoint) ([]byte, []proved, error) {
	req, err := http.NewRequest("GET", o.base+path, nil)
	if err != nil {
		return nil, nil, err
	}
	if !strings.Contains(path, "options=mr,proof") {
		req.Header.Set("Keydir-Log-Proof", "1")
	}
	if req.URL.Fragment != "" {
		req.Host, req.URL.Fragment = req.URL.Fragment, "" // WKD: "#domain" is the Host
	}
	resp, err := o.client.Do(req)
	if err != nil {
		fmt.Printf("FAIL network: GET %s: %v\n", path, err)
		o.fails++
		o.finish(4)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return nil, nil, fmt.Errorf("GET %s: %v", path, err)
	}
	if resp.StatusCode == 404 || resp.StatusCode == 410 {
		return nil, nil, errNotFound{path}
	}
	if resp.StatusCode != 200 {
		return nil, nil, fmt.Errorf("GET %s: status %d: %.120q", path, resp.StatusCode, body.Bytes())
	}
	cpB64, incl := resp.Header.Get("Keydir-Log-Checkpoint"), resp.Header.Get("Keydir-Log-Inclusion")
	if cpB64 == "" || incl == "" {
		return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Checkpoint %q, Keydir-Log-Inclusion %q", path, cpB64, incl)
	}
	text, err := base64.StdEncoding.Strict().DecodeString(cpB64)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Checkpoint is not base64: %v", path, err)
	}
	c, err := openCheckpoint(text, v)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Checkpoint: %v", path, err)
	}
	// The answer's tree and the oracle's are one log.
	if err := o.sameLog(c, cp); err != nil {
		return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Checkpoint (size %d) and /log/checkpoint (size %d): %v", path, c.size, cp.size, err)
	}
	var out []proved
	for _, one := range strings.Split(incl, "; ") {
		f := strings.Split(one, " ")
		if len(f) == 2 {
			f = append(f, "")
		}
		if len(f) != 3 {
			return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Inclusion part %q: want <index> <entry> <hashes>", path, one)
		}
		i, err := strconv.ParseInt(f[0], 10, 64)
		e, err2 := base64.StdEncoding.Strict().DecodeString(f[1])
		if err != nil || err2 != nil {
			return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Inclusion part %q: bad index or entry", path, one)
		}
		var p tlog.RecordProof
		if f[2] != "" {
			for _, s := range strings.Split(f[2], ",") {
				b, err := base64.StdEncoding.Strict().DecodeString(s)
				if err != nil || len(b) != tlog.HashSize {
					return nil, nil, fmt.Errorf("GET %s: Keydir-Log-Inclusion hash %q", path, s)
				}
				p = append(p, tlog.Hash(*(*[32]byte)(b)))
			}
		}
		if err := tlog.CheckRecord(p, c.size, c.root, i, tlog.RecordHash(e)); err != nil {
			return nil, nil, fmt.Errorf("GET %s: entry %d not proven in the tree of size %d: %v (tlog.CheckRecord)", path, i, c.size, err)
		}
		pe, err := parseEntry(i, e)
		if err != nil {
			return nil, nil, fmt.Errorf("GET %s: proven entry %d malformed: %v", path, i, err)
		}
		if pe.kind != kindCert {
			return nil, nil, fmt.Errorf("GET %s: proven entry %d is of kind %d, not a certificate", path, i, pe.kind)
		}
		out = append(out, proved{i, e, pe})
	}
	return body.Bytes(), out, nil
}

type errNotFound struct{ path string }

func (e errNotFound) Error() string { return "GET " + e.path + ": 404 or 410" }

// sameLog: a consistency proof between two checkpoints of the log.
func (o *oracle) sameLog(a, b checkpoint) error {
	if a.size > b.size {
		a, b = b, a
	}
	if a.size == b.size {
		if a.root != b.root {
			return fmt.Errorf("same size, other roots")
		}
		return nil
	}
	if a.size == 0 {
		return nil
	}
	p, err := o.proof(fmt.Sprintf("/log/proof/consistency?old=%d&new=%d", a.size, b.size), map[string]int64{"old": a.size, "new": b.size})
	if err == nil {
		err = tlog.CheckTree(tlog.TreeProof(p), b.size, b.root, a.size, a.root)
	}
	return err
}

// dearmor: the bytes of an ASCII-armored block (nil when b is not armored).
func dearmor(b []byte) []byte {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "-----BEGIN PGP ") {
		return nil
	}
	k := 1
	for k < len(lines) && lines[k] != "" { // armor headers
		k++
	}
	var b64 strings.Builder
	for k++; k < len(lines) && !strings.HasPrefix(lines[k], "=") && !strings.HasPrefix(lines[k], "-----END"); k++ {
		b64.WriteString(lines[k])
	}
	out, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		return nil
	}
	return out
}

// bodyMismatch explains an answer whose SHA-256 is not the entry's digest.
func bodyMismatch(path string, body, want []byte, index int64) error {
	sum := sha256.Sum256(body)
	if bytes.Equal(sum[:], want) {
		return nil
	}
	// HKP and VKS answers travel ASCII-armored (what gpg reads); the entry
	// commits to the binary published form, the armor's content.
	if bin := dearmor(body); bin != nil {
		if s := sha256.Sum256(bin); bytes.Equal(s[:], want) {
			return nil
		}
	}
	return fmt.Errorf("GET %s: SHA-256 of the answer (%d bytes, %.16q...) is %x, entry %d says %x", path, len(body), body, sum, index, want)
}

// digest is the SHA-256 of the published form a certificate entry holds.
func digest(e []byte, pe *entry) []byte { return e[18+len(pe.vfpr) : 18+len(pe.vfpr)+32] }

// hasCommitment: is c among the entry's (sorted) commitments?
func hasCommitment(e []byte, pe *entry, c []byte) bool {
	cs := e[18+len(pe.vfpr)+34:]
	for k := 0; k < pe.commitments; k++ {
		if bytes.Equal(cs[32*k:32*(k+1)], c) {
			return true
		}
	}
	return false
}

// checkLookups: by fingerprint (HKP and, for v4, VKS), the latest entry of
// each certificate is proven and its digest is the answer's.
// In a log that blinds fingerprints (scheme 2), the certificates of
// --fingerprints only.
func checkLookups(o *oracle, v note.Verifier, cp checkpoint, latest map[string]int64, entries map[int64][]byte, nm *names) {
	bad, n := 0, 0
	for _, k := range nm.sample(latest, 50) {
		i := latest[k]
		e := entries[i]
		pe, _ := parseEntry(i, e)
		if pe.kind != kindCert {
			continue // deleted: nothing to look up
		}
		certVfpr, _ := nm.of(k)
		fpr := strings.ToUpper(certVfpr[2:])
		paths := []string{"/pks/lookup?op=get&options=mr,proof&search=0x" + fpr, "/pks/lookup?op=get&options=mr&search=0x" + fpr}
		if pe.vfpr[0] == 4 {
			paths = append(paths, "/vks/v1/by-fingerprint/"+fpr)
		}
		for _, path := range paths {
			n++
			body, ps, err := o.getProof(path, v, cp)
			if err == nil && len(ps) != 1 {
				err = fmt.Errorf("GET %s: %d certificates proven, want 1", path, len(ps))
			}
			if err == nil && !bytes.Equal(ps[0].entry, e) {
				err = fmt.Errorf("GET %s: proves entry %d, the latest of %s is entry %d", path, ps[0].index, k, i)
			}
			if err == nil {
				err = bodyMismatch(path, body, digest(e, pe), i)
			}
			if err != nil {
				if bad++; bad <= 20 {
					o.fail("lookup: %v", err)
				}
			}
		}
	}
	if bad == 0 && n > 0 {
		o.ok("lookup: %d lookups by fingerprint answer the published form their proven entry commits to", n)
	}
}

// checkAddresses: by address (HKP, VKS), every certificate the answer holds
// is proven, commits to the address, and is the latest entry of a
// certificate; every certificate whose latest entry commits to it is there.
func checkAddresses(o *oracle, v note.Verifier, cp checkpoint, addrs []string, wkd bool, header *entry, salt []byte,
	latest map[string]int64, entries map[int64][]byte) {
	if header.scheme != 1 {
		fmt.Printf("note address commitments of scheme %d (scrypt) not checked: the oracle has only the standard library and x/mod\n", header.scheme)
		return
	}
	for _, addr := range addrs {
		norm := strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, addr)
		m := hmac.New(sha256.New, salt)
		m.Write([]byte("keydir address commitment v1\n" + norm))
		c := m.Sum(nil)
		want := map[string]bool{}
		for k, i := range latest {
			e := entries[i]
			if pe, _ := parseEntry(i, e); pe.kind == kindCert && hasCommitment(e, pe, c) {
				want[k] = true
			}
		}
		paths := []string{
			"/pks/lookup?op=get&options=mr,proof&search=" + url.QueryEscape(addr),
			"/pks/lookup?op=get&options=mr&search=" + url.QueryEscape(addr),
			"/vks/v1/by-email/" + url.PathEscape(addr),
		}
		if at := strings.LastIndex(norm, "@"); wkd && at > 0 {
			// WKD's direct method; "#domain" is the Host header.
			local := norm[:at]
			h := sha1.Sum([]byte(local))
			paths = append(paths, "/.well-known/openpgpkey/hu/"+zbase32(h[:])+"?l="+url.QueryEscape(addr[:at])+"#"+norm[at+1:])
		}
		for _, path := range paths {
			body, ps, err := o.getProof(path, v, cp)
			if _, nf := err.(errNotFound); nf && len(want) == 0 {
				o.ok("address: %s: 404 or 410, and no latest entry commits to %q", path, norm)
				continue
			}
			got := map[string]bool{}
			for k := 0; err == nil && k < len(ps); k++ {
				vf := hex.EncodeToString(ps[k].e.vfpr)
				got[vf] = true
				switch {
				case !hasCommitment(ps[k].entry, ps[k].e, c):
					err = fmt.Errorf("GET %s: proven entry %d does not commit to %q", path, ps[k].index, norm)
				case !bytes.Equal(entries[latest[vf]], ps[k].entry):
					err = fmt.Errorf("GET %s: proven entry %d is not the latest of %s (%d)", path, ps[k].index, vf, latest[vf])
				}
			}
			if err == nil && len(ps) == 1 {
				if err = bodyMismatch(path, body, digest(ps[0].entry, ps[0].e), ps[0].index); err != nil && !strings.Contains(err.Error(), "armored") {
					err = fmt.Errorf("%v (by address: the whole published form, not reduced to the address?)", err)
				}
			}
			if err == nil && fmt.Sprint(sortedKeys(got)) != fmt.Sprint(sortedKeys(want)) {
				err = fmt.Errorf("GET %s: certificates %v, the log's latest entries committing to %q are %v", path, sortedKeys(got), norm, sortedKeys(want))
			}
			if err != nil {
				o.fail("address: %v", err)
			} else {
				o.ok("address: %s: %d certificates, proven, committing to it, all the log has", path, len(ps))
			}
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// zbase32 as WKD uses it (RFC 6189 alphabet, no padding).
func zbase32(b []byte) string {
	const alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"
	var out strings.Builder
	bits, acc := 0, 0
	for _, c := range b {
		acc = acc<<8 | int(c)
		for bits += 8; bits >= 5; bits -= 5 {
			out.WriteByte(alphabet[(acc>>(bits-5))&31])
		}
	}
	if bits > 0 {
		out.WriteByte(alphabet[(acc<<(5-bits))&31])
	}
	return out.String()
}

// headerSalt: the salt of the log's header entry (entry 0).
func headerSalt(e []byte) []byte { return e[18+4 : 18+4+32] }
