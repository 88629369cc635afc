package token

import (
	"hash/crc32"
	"testing"
)

// TestChecksumIsCRC32: the hand-rolled loop equals the standard CRC-32
// (IEEE) of prefix and random part, so tokens stay checkable by any tool.
func TestChecksumIsCRC32(t *testing.T) {
	for _, random := range [][]byte{nil, {0}, []byte("0123456789abcdef0123456789abcdef")} {
		for _, prefix := range []string{"", Access, Refresh, "x"} {
			want := crc32.ChecksumIEEE(append([]byte(prefix), random...))
			if got := checksum(prefix, random); got != want {
				t.Errorf("checksum(%q, %x) = %08x, want %08x", prefix, random, got, want)
			}
		}
	}
}

// TestValidDoesNotAllocate: the guard calls Valid on every request.
func TestValidDoesNotAllocate(t *testing.T) {
	tok := New(Access)
	if n := testing.AllocsPerRun(100, func() { Valid(tok, Access) }); n != 0 {
		t.Fatalf("Valid allocates %v times per call", n)
	}
}
