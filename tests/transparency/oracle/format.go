// The parts of keydir's log format the oracle reads itself (issue #23's wire
// contract): C2SP tile paths, entry bundles, log entries and checkpoints.
// Everything cryptographic is left to golang.org/x/mod/sumdb/{tlog,note}.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8 // C2SP tlog-tiles: always 256 hashes wide

// nPath writes a tile number as C2SP path elements: 3 digits each, all but
// the last prefixed by "x" (5 -> "005", 1234067 -> "x001/x234/067").
func nPath(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// tilePath is the C2SP path (after /log/) of a Go tile of height 8. C2SP
// paths carry no height (Go's sumdb paths do); level -1 is the entry bundle.
func tilePath(t tlog.Tile) string {
	if t.H != tileHeight {
		panic(fmt.Sprintf("tile height %d", t.H))
	}
	level := strconv.Itoa(t.L)
	if t.L == -1 {
		level = "entries"
	}
	p := "tile/" + level + "/" + nPath(t.N)
	if t.W != 1<<tileHeight {
		p += ".p/" + strconv.Itoa(t.W)
	}
	return p
}

// splitBundle splits an entry bundle (uint16 length || entry, repeated) into
// its entries; trailing bytes or a cut entry are an error.
func splitBundle(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("1 trailing byte after %d entries", len(out))
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b)-2 < n {
			return nil, fmt.Errorf("entry %d: length %d, only %d bytes left", len(out), n, len(b)-2)
		}
		out = append(out, b[2:2+n])
		b = b[2+n:]
	}
	return out, nil
}

// Entry kinds.
const (
	kindHeader  = 0x00
	kindCert    = 0x01
	kindDeleted = 0x02
)

// entry is one parsed log entry.
type entry struct {
	kind        byte
	seq, time   uint64
	vfpr        []byte // kinds 1 and 2
	scheme      byte   // kind 0
	commitments int    // kind 1
}

// parseVfpr reads key version || fingerprint from the start of b.
func parseVfpr(b []byte) ([]byte, []byte, error) {
	if len(b) < 1 {
		return nil, nil, fmt.Errorf("no key version")
	}
	n := 0
	switch b[0] {
	case 4:
		n = 20
	case 6:
		n = 32
	default:
		return nil, nil, fmt.Errorf("key version %d", b[0])
	}
	if len(b) < 1+n {
		return nil, nil, fmt.Errorf("v%d fingerprint cut at %d bytes", b[0], len(b)-1)
	}
	return b[:1+n], b[1+n:], nil
}

// parseEntry checks one entry against the contract; index is its place in
// the log (entry 0, and only entry 0, is the header).
func parseEntry(index int64, b []byte) (*entry, error) {
	if len(b) < 18 {
		return nil, fmt.Errorf("%d bytes, shorter than format, kind, seq and time", len(b))
	}
	if b[0] != 0x01 {
		return nil, fmt.Errorf("format byte 0x%02x, want 0x01", b[0])
	}
	e := &entry{kind: b[1], seq: binary.BigEndian.Uint64(b[2:]), time: binary.BigEndian.Uint64(b[10:])}
	body := b[18:]
	if (index == 0) != (e.kind == kindHeader) {
		return nil, fmt.Errorf("kind %d at index %d (the header is entry 0, and only it)", e.kind, index)
	}
	switch e.kind {
	case kindHeader:
		if e.seq != 0 {
			return nil, fmt.Errorf("header with seq %d, want 0", e.seq)
		}
		if len(body) != 4+32 {
			return nil, fmt.Errorf("header body of %d bytes, want 36", len(body))
		}
		e.scheme = body[0]
		log2N, r, p := body[1], body[2], body[3]
		switch e.scheme {
		case 1:
			if log2N != 0 || r != 0 || p != 0 {
				return nil, fmt.Errorf("scheme 1 (HMAC) with log2N=%d r=%d p=%d, want 0 0 0", log2N, r, p)
			}
		case 2:
			if log2N == 0 || log2N >= 64 || r == 0 || p == 0 {
				return nil, fmt.Errorf("scheme 2 (scrypt) with log2N=%d r=%d p=%d", log2N, r, p)
			}
		default:
			return nil, fmt.Errorf("commitment scheme %d", e.scheme)
		}
	case kindCert:
		vfpr, rest, err := parseVfpr(body)
		if err != nil {
			return nil, err
		}
		e.vfpr = vfpr
		if len(rest) < 32+2 {
			return nil, fmt.Errorf("%d bytes after vfpr, want sha256 and count", len(rest))
		}
		count := int(binary.BigEndian.Uint16(rest[32:]))
		cs := rest[34:]
		if len(cs) != 32*count {
			return nil, fmt.Errorf("count %d, but %d bytes of commitments", count, len(cs))
		}
		for i := 1; i < count; i++ {
			if bytes.Compare(cs[32*(i-1):32*i], cs[32*i:32*(i+1)]) >= 0 {
				return nil, fmt.Errorf("commitments %d and %d not ascending and distinct", i-1, i)
			}
		}
		e.commitments = count
	case kindDeleted:
		vfpr, rest, err := parseVfpr(body)
		if err != nil {
			return nil, err
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("%d trailing bytes after vfpr", len(rest))
		}
		e.vfpr = vfpr
	default:
		return nil, fmt.Errorf("kind %d", e.kind)
	}
	return e, nil
}

// checkpoint is the body of a C2SP tlog-checkpoint.
type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// parseCheckpoint reads the three lines of a checkpoint body (the text
// note.Open returns); the contract has no extension lines.
func parseCheckpoint(text string) (checkpoint, error) {
	var c checkpoint
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return c, fmt.Errorf("%d lines, want 3 newline-terminated lines", strings.Count(text, "\n"))
	}
	c.origin = lines[0]
	if c.origin == "" {
		return c, fmt.Errorf("empty origin")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return c, fmt.Errorf("tree size %q is not a decimal without leading zeros", lines[1])
	}
	c.size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return c, fmt.Errorf("root hash %q is not base64 of 32 bytes", lines[2])
	}
	copy(c.root[:], root)
	return c, nil
}
