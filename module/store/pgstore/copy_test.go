package pgstore

import (
	"testing"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
	"github.com/applinks/caddy-applinks/module/store/storetest"
)

// newBadger opens a Badger store in a temporary directory.
func newBadger(t *testing.T) store.Store { return badgertest.Open(t) }

func TestCopy(t *testing.T) {
	storetest.RunCopyTests(t, newStore, newStore)
}

// TestCopyFromBadger is the migration of a gateway from Badger to
// PostgreSQL.
func TestCopyFromBadger(t *testing.T) {
	storetest.RunCopyTests(t, newBadger, newStore)
}

// TestCopyToBadger is the way back, from PostgreSQL to Badger.
func TestCopyToBadger(t *testing.T) {
	storetest.RunCopyTests(t, newStore, newBadger)
}
