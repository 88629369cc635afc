package outgoing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// countingTally counts re-sealed values and does not pace.
type countingTally struct{ resealed int }

func (t *countingTally) Found(secret.Outcome) {}
func (t *countingTally) Resealed(n int) error {
	t.resealed += n
	return nil
}

// BenchmarkResealConnections measures re-sealing the provider tokens of
// 10,000 connections on Badger, without the app's pauses: each iteration
// rotates them from one key to the other and back.
func BenchmarkResealConnections(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	st := badgertest.Open(b)
	x, err := secret.FromPassphrase("the first key of the benchmark, 32+ characters")
	if err != nil {
		b.Fatal(err)
	}
	y, err := secret.FromPassphrase("the second key of the benchmark, 32+ characters")
	if err != nil {
		b.Fatal(err)
	}
	seed := resealService(st, x)
	for i := range n {
		c := store.Connection{LinkID: "drive", UserID: fmt.Sprintf("user-%05d", i), Status: StatusValid, Generation: 1, CreatedAt: time.Now().UTC()}
		if err := seed.seal(&c, &oauth2.Token{AccessToken: fmt.Sprintf("at-%d", i), RefreshToken: fmt.Sprintf("rt-%d", i), Expiry: time.Now().Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if err := st.PutConnection(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
	toY, err := y.WithPrevious(x)
	if err != nil {
		b.Fatal(err)
	}
	toX, err := x.WithPrevious(y)
	if err != nil {
		b.Fatal(err)
	}
	services := []*Service{resealService(st, toY), resealService(st, toX)}
	total := 0
	start := time.Now()
	i := 0
	for b.Loop() {
		t := &countingTally{}
		if err := services[i%2].ResealConnections(ctx, t); err != nil {
			b.Fatal(err)
		}
		if t.resealed != n {
			b.Fatalf("re-sealed %d connections, want %d", t.resealed, n)
		}
		total += t.resealed
		i++
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "values/s")
}
