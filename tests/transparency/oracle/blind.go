// Blinded fingerprints (docs/transparency.md, "Entries"): in a log whose
// header names commitment scheme 2 (scrypt: verified and managed mode), an
// entry's fingerprint field is
//
//	HMAC-SHA-256(salt, "keydir fingerprint v1\n" || version || fingerprint)
//
// truncated to the fingerprint's length; the version octet stays in clear.
// Computed here with Go's crypto/hmac and crypto/sha256, not keydir's code.
// Such a log gives no fingerprint to look up: the oracle checks /log/entry
// and lookups by fingerprint for the fingerprints it is given
// (--fingerprints), and that none of them appears in clear.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

const fingerprintLabel = "keydir fingerprint v1\n"

// blindVfpr: the entry field of a certificate (version || fingerprint) in a
// scheme 2 log with this salt.
func blindVfpr(salt, vfpr []byte) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(fingerprintLabel))
	m.Write(vfpr) // the version octet, then the fingerprint
	return append([]byte{vfpr[0]}, m.Sum(nil)[:len(vfpr)-1]...)
}

// parseFingerprints reads --fingerprints: comma-separated hex fingerprints,
// 40 digits (v4) or 64 (v6), optionally with the 04/06 prefix of /log/entry.
func parseFingerprints(s string) ([][]byte, error) {
	var out [][]byte
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if len(f) == 42 && strings.HasPrefix(f, "04") || len(f) == 66 && strings.HasPrefix(f, "06") {
			f = f[2:]
		}
		b, err := hex.DecodeString(f)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%q is not hex", f)
		case len(b) == 20:
			out = append(out, append([]byte{4}, b...))
		case len(b) == 32:
			out = append(out, append([]byte{6}, b...))
		default:
			return nil, fmt.Errorf("%q is neither a v4 (40 digits) nor a v6 fingerprint (64)", f)
		}
	}
	return out, nil
}

// names: which certificate an entry's field stands for, as far as the
// oracle can know. A scheme 1 log names every certificate in clear; a
// scheme 2 log only the --fingerprints given, by their blinded form.
type names struct {
	blinded bool
	real    map[string]string // field hex -> vfpr hex (scheme 2: of the known ones)
	known   [][]byte          // --fingerprints, as vfprs
}

func newNames(header *entry, salt []byte, known [][]byte) *names {
	n := &names{blinded: header != nil && header.scheme == 2, real: map[string]string{}, known: known}
	if n.blinded {
		for _, v := range known {
			n.real[hex.EncodeToString(blindVfpr(salt, v))] = hex.EncodeToString(v)
		}
	}
	return n
}

// of: the real vfpr hex of the certificate whose entry field is `field`.
func (n *names) of(field string) (string, bool) {
	if !n.blinded {
		return field, true
	}
	r, ok := n.real[field]
	return r, ok
}

// sample: about max fields of `latest` whose certificate the oracle can
// name (sorted).
func (n *names) sample(latest map[string]int64, max int64) []string {
	if !n.blinded {
		return sortedSample(latest, max)
	}
	var out []string
	for f := range n.real {
		if _, ok := latest[f]; ok {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	if int64(len(out)) > max {
		out = out[:max]
	}
	return out
}

// checkBlinded: in a scheme 2 log no entry carries a known fingerprint in
// clear, and each known certificate's blinded field is found or reported.
func checkBlinded(o *oracle, n *names, fields map[string][]int64) {
	if !n.blinded {
		return
	}
	if len(n.known) == 0 {
		fmt.Printf("note the log blinds fingerprints (scheme 2): /log/entry and lookups by fingerprint are checked only for --fingerprints, none given\n")
		return
	}
	bad, found := 0, 0
	for _, v := range n.known {
		clear := hex.EncodeToString(v)
		if at, ok := fields[clear]; ok {
			bad++
			o.fail("blinded: entries %v carry the fingerprint %s in clear; a scheme 2 log blinds it (HMAC-SHA-256 with the header's salt)", at, clear)
		}
	}
	for f := range n.real {
		if _, ok := fields[f]; ok {
			found++
		}
	}
	if bad == 0 {
		o.ok("blinded: none of the %d fingerprints given appears in clear; %d of them are in the log by their blinded form", len(n.known), found)
	}
}
