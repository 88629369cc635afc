package grants

import (
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/token"
)

// TestSealedChildOpensOnlyWithItsParent: the pair kept for retries cannot
// be opened with another refresh token, nor with the hash the store
// keeps of the parent, so reading the database does not yield it.
func TestSealedChildOpensOnlyWithItsParent(t *testing.T) {
	parent := token.New(token.Refresh)
	want := child{AccessToken: token.New(token.Access), RefreshToken: token.New(token.Refresh), Scope: "WRITE", AccessExpiresAt: time.Unix(1700000000, 0).UTC()}
	sealed, err := sealChild(parent, want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openChild(parent, sealed)
	if err != nil || got != want {
		t.Fatalf("openChild with the parent = %+v, %v; want %+v", got, err, want)
	}
	for name, key := range map[string]string{
		"another refresh token": token.New(token.Refresh),
		"the stored hash":       string(token.Hash(parent)),
	} {
		if _, err := openChild(key, sealed); err == nil {
			t.Errorf("the sealed pair opens with %s", name)
		}
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := openChild(parent, sealed); err == nil {
		t.Error("a tampered sealed pair opens")
	}
}

// BenchmarkSealChild is the cost the first use of a refresh token adds.
func BenchmarkSealChild(b *testing.B) {
	parent := token.New(token.Refresh)
	c := child{AccessToken: token.New(token.Access), RefreshToken: token.New(token.Refresh), Scope: "WRITE", AccessExpiresAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sealChild(parent, c); err != nil {
			b.Fatal(err)
		}
	}
}
