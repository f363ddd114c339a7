package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The C2SP paths are Go's sumdb paths without the height element.
func TestTilePath(t *testing.T) {
	cases := map[tlog.Tile]string{
		{H: 8, L: 0, N: 0, W: 256}:        "tile/0/000",
		{H: 8, L: 0, N: 5, W: 3}:          "tile/0/005.p/3",
		{H: 8, L: 1, N: 1234067, W: 256}:  "tile/1/x001/x234/067",
		{H: 8, L: 2, N: 1000, W: 255}:     "tile/2/x001/000.p/255",
		{H: 8, L: -1, N: 999, W: 256}:     "tile/entries/999",
		{H: 8, L: -1, N: 1234567, W: 1}:   "tile/entries/x001/x234/567.p/1",
		{H: 8, L: 0, N: 1000000000, W: 7}: "tile/0/x001/x000/x000/000.p/7",
	}
	for tile, want := range cases {
		if got := tilePath(tile); got != want {
			t.Errorf("tilePath(%+v) = %q, want %q", tile, got, want)
		}
		goPath := strings.Replace(tile.Path(), "tile/8/data/", "tile/8/entries/", 1)
		if got := strings.Replace(goPath, "tile/8/", "tile/", 1); got != want {
			t.Errorf("Go's path of %+v is %q, ours %q", tile, tile.Path(), want)
		}
	}
	for n := int64(0); n < 3000000; n += 997 {
		tile := tlog.Tile{H: 8, L: 0, N: n, W: 256}
		if got, want := tilePath(tile), strings.Replace(tile.Path(), "tile/8/", "tile/", 1); got != want {
			t.Fatalf("N=%d: %q, Go %q", n, got, want)
		}
	}
}

func be16(n int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(n)) }

func head(kind byte, seq uint64) []byte {
	b := []byte{1, kind}
	b = binary.BigEndian.AppendUint64(b, seq)
	return binary.BigEndian.AppendUint64(b, 1700000000)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestParseEntry(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, 32)
	fp4 := append([]byte{4}, bytes.Repeat([]byte{0xaa}, 20)...)
	fp6 := append([]byte{6}, bytes.Repeat([]byte{0xbb}, 32)...)
	sum := bytes.Repeat([]byte{1}, 32)
	c1, c2 := bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	good := []struct {
		i int64
		b []byte
	}{
		{0, cat(head(0, 0), []byte{1, 0, 0, 0}, salt)},
		{0, cat(head(0, 0), []byte{2, 14, 8, 1}, salt)},
		{1, cat(head(1, 5), fp4, sum, be16(0))},
		{2, cat(head(1, 6), fp6, sum, be16(2), c1, c2)},
		{3, cat(head(2, 7), fp4)},
	}
	for _, g := range good {
		if _, err := parseEntry(g.i, g.b); err != nil {
			t.Errorf("entry %d %x: %v", g.i, g.b, err)
		}
	}
	bad := []struct {
		i    int64
		b    []byte
		want string
	}{
		{0, cat([]byte{2, 0}, head(0, 0)[2:], []byte{1, 0, 0, 0}, salt), "format"},
		{1, cat(head(0, 0), []byte{1, 0, 0, 0}, salt), "kind 0 at index 1"},
		{0, cat(head(1, 1), fp4, sum, be16(0)), "kind 1 at index 0"},
		{0, cat(head(0, 3), []byte{1, 0, 0, 0}, salt), "seq"},
		{0, cat(head(0, 0), []byte{1, 1, 0, 0}, salt), "scheme 1"},
		{0, cat(head(0, 0), []byte{3, 0, 0, 0}, salt), "scheme 3"},
		{0, cat(head(0, 0), []byte{1, 0, 0, 0}, salt, []byte{0}), "37 bytes"},
		{1, cat(head(1, 1), []byte{5}, fp4[1:], sum, be16(0)), "key version 5"},
		{1, cat(head(1, 1), fp4, sum, be16(1)), "count 1"},
		{1, cat(head(1, 1), fp4, sum, be16(2), c2, c1), "ascending"},
		{1, cat(head(1, 1), fp4, sum, be16(2), c1, c1), "ascending"},
		{1, cat(head(1, 1), fp4, sum, be16(1), c1, []byte{0}), "count 1"},
		{1, cat(head(1, 1), fp6[:20]), "cut"},
		{1, cat(head(2, 1), fp4, []byte{0}), "trailing"},
		{1, cat(head(3, 1), fp4), "kind 3"},
		{1, head(1, 1)[:17], "shorter"},
	}
	for _, c := range bad {
		_, err := parseEntry(c.i, c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("entry %d %x: error %v, want one saying %q", c.i, c.b, err, c.want)
		}
	}
}

func TestSplitBundle(t *testing.T) {
	es, err := splitBundle(cat(be16(3), []byte("abc"), be16(0), be16(1), []byte("z")))
	if err != nil || len(es) != 3 || string(es[0]) != "abc" || len(es[1]) != 0 || string(es[2]) != "z" {
		t.Errorf("split: %q %v", es, err)
	}
	for _, b := range [][]byte{{0}, cat(be16(4), []byte("abc")), cat(be16(1), []byte("a"), []byte{0})} {
		if _, err := splitBundle(b); err == nil {
			t.Errorf("split %x: no error", b)
		}
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	c, err := parseCheckpoint("example.org/log\n12\n" + root + "\n")
	if err != nil || c.size != 12 || c.origin != "example.org/log" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, s := range []string{
		"o\n012\n" + root + "\n", "o\n-1\n" + root + "\n", "o\n1\n" + root, "o\n1\n" + root + "\next\n",
		"o\n1\nAAAA\n", "\n1\n" + root + "\n", "o\n1\n" + strings.TrimRight(root, "=") + "\n",
	} {
		if _, err := parseCheckpoint(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

func TestSample(t *testing.T) {
	s := sample(1000, 50)
	if len(s) != 50 || s[0] != 0 || s[49] != 999 {
		t.Errorf("%v", s)
	}
	if s := sample(3, 50); len(s) != 3 {
		t.Errorf("%v", s)
	}
}

func TestDearmor(t *testing.T) {
	a := "-----BEGIN PGP PUBLIC KEY BLOCK-----\nComment: x\n\naGVsbG8g\nd29ybGQ=\n=AAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"
	if got := string(dearmor([]byte(a))); got != "hello world" {
		t.Errorf("dearmor: %q", got)
	}
	if dearmor([]byte("\x99\x01")) != nil {
		t.Errorf("binary dearmored")
	}
}

// gpg-wks-client --print-wkd-hash Joe.Doe@Example.ORG: iy9q119eutrkn8s1mk4r39qejnbu3n5q
func TestZbase32(t *testing.T) {
	h := sha1.Sum([]byte("joe.doe"))
	if got := zbase32(h[:]); got != "iy9q119eutrkn8s1mk4r39qejnbu3n5q" {
		t.Errorf("zbase32: %s", got)
	}
}

// The blinded fingerprint of scheme 2 logs, against the vectors computed
// with Python's hmac and hashlib (tests/unit/tlog/tlog_test.cpp has the
// one-liner and checks keydir's C++ against the same values).
func TestBlindVfpr(t *testing.T) {
	salt, f4, f6 := make([]byte, 32), []byte{4}, []byte{6}
	for i := range salt {
		salt[i] = byte(i)
	}
	for i := 0xa0; i < 0xb4; i++ {
		f4 = append(f4, byte(i))
	}
	for i := 0x40; i < 0x60; i++ {
		f6 = append(f6, byte(i))
	}
	for _, c := range []struct {
		vfpr []byte
		want string
	}{
		{f4, "04cc6eefa8e0c69ddc5cb91ba96c8266f534251fd2"},
		{f6, "066dbd0fb22bf079110be0c4b3b7e2b3f765729e1306cc1d3991712edf5323ecb1"},
	} {
		if got := hex.EncodeToString(blindVfpr(salt, c.vfpr)); got != c.want {
			t.Errorf("blindVfpr(%x) = %s, want %s", c.vfpr, got, c.want)
		}
	}
	known, err := parseFingerprints("A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3, 06" + hex.EncodeToString(f6[1:]))
	if err != nil || len(known) != 2 || !bytes.Equal(known[0], f4) || !bytes.Equal(known[1], f6) {
		t.Errorf("parseFingerprints: %x, %v", known, err)
	}
	if _, err := parseFingerprints("abcd"); err == nil {
		t.Errorf("parseFingerprints took a 2-octet fingerprint")
	}
}
