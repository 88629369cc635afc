package token_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/token"
)

var prefixes = []string{token.Access, token.Refresh, token.Code, token.ClientSecret, token.Session, token.OAuth1Access, token.OAuth1Request, token.OAuth1Secret}

func TestNew(t *testing.T) {
	for _, p := range prefixes {
		t.Run(p, func(t *testing.T) {
			tok := token.New(p)
			if !strings.HasPrefix(tok, p) {
				t.Fatalf("New(%q) = %q: missing prefix", p, tok)
			}
			if len(tok) != token.Len {
				t.Fatalf("len(New(%q)) = %d, want Len = %d", p, len(tok), token.Len)
			}
			raw, err := base64.RawURLEncoding.DecodeString(tok[len(p):])
			if err != nil {
				t.Fatalf("New(%q) = %q: body is not base64url: %v", p, tok, err)
			}
			if len(raw) != 36 {
				t.Fatalf("New(%q) body decodes to %d bytes, want 36", p, len(raw))
			}
			if !token.Valid(tok, p) {
				t.Fatalf("Valid(New(%q), %q) = false", p, p)
			}
			if got := token.Kind(tok); got != p {
				t.Fatalf("Kind(New(%q)) = %q", p, got)
			}
		})
	}
}

func TestNewIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok := token.New(token.Access)
		if seen[tok] {
			t.Fatalf("New returned %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestLenIs52(t *testing.T) {
	// 4-byte prefix + base64url (no padding) of 32 random + 4 checksum bytes.
	if token.Len != 4+48 {
		t.Fatalf("Len = %d, want 52", token.Len)
	}
}

// flip replaces the byte at i with another base64url character.
func flip(tok string, i int) string {
	b := []byte(tok)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestValid(t *testing.T) {
	good := token.New(token.Access)
	tests := []struct {
		name   string
		tok    string
		prefix string
		want   bool
	}{
		{"fresh token", good, token.Access, true},
		{"other kind asked", good, token.Refresh, false},
		{"prefix swapped", token.Refresh + good[4:], token.Refresh, false},
		{"prefix swapped, asked old", token.Refresh + good[4:], token.Access, false},
		{"first body char flipped", flip(good, 4), token.Access, false},
		{"middle char flipped", flip(good, 20), token.Access, false},
		{"last char flipped", flip(good, token.Len-1), token.Access, false},
		{"one char short", good[:token.Len-1], token.Access, false},
		{"one char long", good + "A", token.Access, false},
		{"empty", "", token.Access, false},
		{"prefix only", token.Access, token.Access, false},
		{"non-base64 char", good[:10] + "!" + good[11:], token.Access, false},
		{"standard base64 char +", good[:10] + "+" + good[11:], token.Access, false},
		{"padding char", good[:token.Len-1] + "=", token.Access, false},
		{"newline inside", good[:10] + "\n" + good[11:], token.Access, false},
		{"upper-cased prefix", strings.ToUpper(token.Access) + good[4:], token.Access, false},
		{"all A body", token.Access + strings.Repeat("A", 48), token.Access, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := token.Valid(tt.tok, tt.prefix); got != tt.want {
				t.Fatalf("Valid(%q, %q) = %v, want %v", tt.tok, tt.prefix, got, tt.want)
			}
		})
	}
}

// Every single-character change of a token must be refused: CRC-32 detects
// all single-symbol errors in such a short message.
func TestValidRejectsEverySingleFlip(t *testing.T) {
	for _, p := range prefixes {
		tok := token.New(p)
		for i := range len(tok) {
			if f := flip(tok, i); token.Valid(f, p) {
				t.Fatalf("Valid accepted %q (%q with byte %d changed)", f, tok, i)
			}
		}
	}
}

// The base64 decoder skips '\n' and '\r', so a 52-byte string holding a
// newline decodes to only 35 bytes. Valid must refuse it even when the
// checksum of the short decoding matches (its missing last byte read as 0).
func TestValidRefusesShortDecoding(t *testing.T) {
	for _, p := range prefixes {
		var buf [36]byte
		for {
			if _, err := rand.Read(buf[:32]); err != nil {
				t.Fatal(err)
			}
			sum := crc32.ChecksumIEEE(append([]byte(p), buf[:32]...))
			if sum&0xff == 0 {
				binary.BigEndian.PutUint32(buf[32:], sum)
				break
			}
		}
		enc := base64.RawURLEncoding.EncodeToString(buf[:35]) // 47 characters
		for _, nl := range []string{"\n", "\r"} {
			tok := p + enc[:20] + nl + enc[20:]
			if len(tok) != token.Len {
				t.Fatalf("test setup: length %d", len(tok))
			}
			if token.Valid(tok, p) {
				t.Errorf("Valid accepted %q, which decodes to 35 bytes", tok)
			}
			if k := token.Kind(tok); k != "" {
				t.Errorf("Kind(%q) = %q", tok, k)
			}
		}
	}
}

func TestKind(t *testing.T) {
	acc := token.New(token.Access)
	tests := []struct {
		name string
		tok  string
		want string
	}{
		{"access", acc, token.Access},
		{"refresh", token.New(token.Refresh), token.Refresh},
		{"code", token.New(token.Code), token.Code},
		{"client secret", token.New(token.ClientSecret), token.ClientSecret},
		{"session", token.New(token.Session), token.Session},
		{"bad checksum", flip(acc, 30), ""},
		{"unknown prefix", "xyz_" + acc[4:], ""},
		{"truncated", acc[:40], ""},
		{"empty", "", ""},
		{"prefix only", token.Access, ""},
		{"random text", "hello world", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := token.Kind(tt.tok); got != tt.want {
				t.Fatalf("Kind(%q) = %q, want %q", tt.tok, got, tt.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		// FIPS 180-2 test vectors.
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := hex.EncodeToString(token.Hash(tt.in)); got != tt.want {
				t.Fatalf("Hash(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	t.Run("token", func(t *testing.T) {
		tok := token.New(token.Refresh)
		want := sha256.Sum256([]byte(tok))
		if got := token.Hash(tok); !bytes.Equal(got, want[:]) {
			t.Fatalf("Hash(%q) = %x, want %x", tok, got, want)
		}
		if bytes.Equal(token.Hash(tok), token.Hash(token.New(token.Refresh))) {
			t.Fatal("two tokens hash alike")
		}
	})
}

func FuzzValid(f *testing.F) {
	for _, p := range prefixes {
		tok := token.New(p)
		f.Add(tok)
		f.Add(flip(tok, 10))
		f.Add(tok[:30])
	}
	f.Add("")
	f.Add("ala_")
	f.Add(token.Access + strings.Repeat("_", 48))
	f.Add(token.Access + strings.Repeat("\n", 48))
	f.Fuzz(func(t *testing.T, tok string) {
		kind := token.Kind(tok) // must not panic
		valid := 0
		for _, p := range prefixes {
			if token.Valid(tok, p) {
				valid++
				if kind != p {
					t.Fatalf("Valid(%q, %q) but Kind = %q", tok, p, kind)
				}
				if len(tok) != token.Len {
					t.Fatalf("Valid(%q, %q) with length %d", tok, p, len(tok))
				}
			}
		}
		if valid > 1 {
			t.Fatalf("%q is valid for %d prefixes", tok, valid)
		}
		if kind != "" && valid == 0 {
			t.Fatalf("Kind(%q) = %q but Valid refuses it", tok, kind)
		}
	})
}
