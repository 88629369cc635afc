package secret

import (
	"crypto/hmac"
	"errors"
	"fmt"
)

// ErrSameKey means a previous key given to WithPrevious is the current
// key or another previous one.
var ErrSameKey = errors.New("the same key is given twice")

// WithPrevious returns keys that seal and MAC with k, and that open
// values and accept MACs made by k or by any of previous: the keys of a
// rotation, while values sealed before it are re-sealed. The i-th error
// (counting from 0) wraps ErrSameKey and names previous i when it is k
// or an earlier previous key. Keys from FromToken take no previous keys.
func (k *Keys) WithPrevious(previous ...*Keys) (*Keys, error) {
	seen := [][]byte{k.master}
	for i, p := range previous {
		for _, m := range seen {
			if hmac.Equal(m, p.master) {
				return nil, fmt.Errorf("previous key %d: %w", i, ErrSameKey)
			}
		}
		seen = append(seen, p.master)
	}
	out := *k
	out.previous = make([]*Keys, len(previous))
	for i, p := range previous {
		own := *p
		own.previous = nil
		out.previous[i] = &own
	}
	return &out, nil
}

// Previous returns the previous keys, each alone (without previous keys
// of its own); none outside a rotation.
func (k *Keys) Previous() []*Keys { return k.previous }

// Outcome says how a sealed value was found when re-sealing it.
type Outcome int

// Outcomes of Reseal.
const (
	// Current: the value is sealed with the current key already.
	Current Outcome = iota
	// Resealed: a previous key opened it; Reseal sealed it with the
	// current key.
	Resealed
	// Unreadable: no key opens it (see ErrUnreadable); it is left as it
	// is.
	Unreadable
)

// Reseal returns sealed as the current key would seal it: unchanged when
// the current key opens it, sealed anew when a previous key does, and
// unchanged when none does.
func (k *Keys) Reseal(sealed, additional []byte) ([]byte, Outcome) {
	plain, current, err := k.open(sealed, additional)
	switch {
	case err != nil:
		return sealed, Unreadable
	case current:
		return sealed, Current
	}
	return k.Seal(plain, additional), Resealed
}

// ErrCurrent is what an updater re-sealing a record returns when every
// value of it is sealed with the current key already (or is unreadable),
// so that the store writes nothing; the caller takes it for success.
var ErrCurrent = errors.New("sealed with the current key already")

// CheckMAC reports, in constant time, whether mac is what MAC returns for
// purpose and data under the key or under one of its previous keys, so
// that what was MACed before a rotation (an anti-CSRF token in a page, a
// cookie) still passes while the previous key is configured.
func (k *Keys) CheckMAC(mac []byte, purpose string, data ...[]byte) bool {
	ok := hmac.Equal(mac, k.MAC(purpose, data...))
	for _, p := range k.previous {
		ok = hmac.Equal(mac, p.MAC(purpose, data...)) || ok
	}
	return ok
}

// A Tally follows a re-seal pass over one kind of record: the service
// that owns the records counts each sealed value it finds, then re-seals
// those of previous keys.
type Tally interface {
	// Found counts one stored value as the pass found it, before it
	// re-seals any.
	Found(Outcome)
	// Resealed counts n values that Found counted as Resealed and that no
	// longer need a previous key: one write re-sealed them (or a
	// concurrent one replaced or deleted them). An error stops the pass
	// and is returned by it.
	Resealed(n int) error
}
