package storepool

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

type counted struct{ closed *int }

func (c counted) Destruct() error { *c.closed++; return nil }

// TestRefsShareOneValueUntilTheLastRelease: two configuration generations
// opening one key share one value, made once; opening again through one
// reference takes no second share; the value is destructed once, after the
// last reference is released, and releasing twice is harmless.
func TestRefsShareOneValueUntilTheLastRelease(t *testing.T) {
	pool := caddy.NewUsagePool()
	made, closed := 0, 0
	open := func() (caddy.Destructor, error) { made++; return counted{&closed}, nil }
	var old, cur Ref
	if _, loaded, err := old.Open(pool, "k", open); err != nil || loaded {
		t.Fatalf("first Open: loaded %v, %v", loaded, err)
	}
	if _, _, err := old.Open(pool, "k", open); err != nil {
		t.Fatal(err)
	}
	if _, loaded, err := cur.Open(pool, "k", open); err != nil || !loaded {
		t.Fatalf("second generation's Open: loaded %v, %v; want the shared value", loaded, err)
	}
	if made != 1 {
		t.Fatalf("made %d values, want 1", made)
	}
	if deleted, err := old.Release(pool); err != nil || deleted || closed != 0 {
		t.Fatalf("releasing the old generation: deleted %v, %v, closed %d; want the value kept", deleted, err, closed)
	}
	if deleted, err := old.Release(pool); err != nil || deleted {
		t.Fatalf("releasing twice: %v %v", deleted, err)
	}
	if deleted, err := cur.Release(pool); err != nil || !deleted || closed != 1 {
		t.Fatalf("releasing the last reference: deleted %v, %v, closed %d; want it closed once", deleted, err, closed)
	}
}
