package token

import (
	"encoding/base64"
	"encoding/binary"
	"testing"
)

// FuzzTokenRoundTrip: a token built from any 32 random bytes and any of
// the prefixes is valid for that prefix only, decodes back to those bytes
// in the one canonical spelling, and is refused after any one of its
// characters is replaced, so no typo or forged variant reaches the store.
func FuzzTokenRoundTrip(f *testing.F) {
	f.Add(make([]byte, randomLen), uint8(0), uint8(10), byte('A'))
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint8(1), uint8(51), byte('_'))
	f.Add([]byte{0xff, 0xfe}, uint8(4), uint8(4), byte('-'))
	prefixes := [...]string{Access, Refresh, Code, ClientSecret, Session}
	f.Fuzz(func(t *testing.T, random []byte, which, at uint8, c byte) {
		if len(random) != randomLen {
			return
		}
		prefix := prefixes[int(which)%len(prefixes)]
		var buf [randomLen + sumLen]byte
		copy(buf[:], random)
		binary.BigEndian.PutUint32(buf[randomLen:], checksum(prefix, random))
		tok := prefix + base64.RawURLEncoding.EncodeToString(buf[:])
		if len(tok) != Len || !Valid(tok, prefix) || Kind(tok) != prefix {
			t.Fatalf("%q: Valid %v, Kind %q", tok, Valid(tok, prefix), Kind(tok))
		}
		for _, p := range prefixes {
			if p != prefix && Valid(tok, p) {
				t.Fatalf("%q is also valid as %q", tok, p)
			}
		}
		dec, err := base64.RawURLEncoding.Strict().DecodeString(tok[prefixLen:])
		if err != nil || string(dec[:randomLen]) != string(random) {
			t.Fatalf("%q decodes to %x, %v", tok, dec, err)
		}
		i := int(at) % len(tok)
		if tok[i] == c {
			return
		}
		changed := tok[:i] + string(c) + tok[i+1:]
		if Kind(changed) != "" {
			t.Fatalf("%q with byte %d changed to %q is still a %q token", tok, i, c, Kind(changed))
		}
	})
}
