// Package secrettest gives the tests of the services that re-seal their
// records a secret.Tally that counts what a pass tells it.
package secrettest

import (
	"sync"
	"testing"

	"github.com/applinks/caddy-applinks/module/secret"
)

// Tally counts the values a re-seal pass finds and re-seals. It is safe
// for concurrent use.
type Tally struct {
	// DuringCensus, when set, runs once, at the first value found: after
	// the pass has read its records and before it writes any, so that a
	// test can change a record the pass is about to re-seal.
	DuringCensus func()

	mu                            sync.Mutex
	current, previous, unreadable int
	resealed, writes              int
}

// Found counts a value as the census found it.
func (t *Tally) Found(o secret.Outcome) {
	t.mu.Lock()
	hook := t.DuringCensus
	t.DuringCensus = nil
	switch o {
	case secret.Current:
		t.current++
	case secret.Resealed:
		t.previous++
	case secret.Unreadable:
		t.unreadable++
	}
	t.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// Resealed counts one write that re-sealed n values.
func (t *Tally) Resealed(n int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.resealed += n
	t.writes++
	return nil
}

// Counts are what the pass told: the census (values of the current key,
// of a previous key, unreadable), then how many values it re-sealed in
// how many writes.
type Counts struct {
	Current, Previous, Unreadable int
	Resealed, Writes              int
}

// Counts returns what the pass told so far.
func (t *Tally) Counts() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Counts{t.current, t.previous, t.unreadable, t.resealed, t.writes}
}

// Passphrase returns the keys derived from passphrase p, failing the test
// when it is refused.
func Passphrase(t testing.TB, p string) *secret.Keys {
	t.Helper()
	k, err := secret.FromPassphrase(p)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
