package applinks

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applinks/caddy-applinks/internal/nearest"
	"github.com/applinks/caddy-applinks/module/signing"
	"github.com/applinks/caddy-applinks/module/store"
)

// opening is the part of the app's setup that touches the disk, done
// once by open: opening the store (Badger takes an exclusive lock on its
// directory), writing a generated key file and loading or creating the
// signing keys. Provision does none of it, so that `caddy validate`
// provisions a configuration beside a running gateway without tripping
// over the lock and without leaving files behind.
type opening struct {
	mu     sync.Mutex
	done   atomic.Bool // opened is set
	opened store.Store
	// keyFile is where the key generated in Provision is written, when no
	// key file existed then; empty once written or with a secret_key.
	keyFile string
	// required are the outgoing links named by the handlers.
	required []string
}

// open opens the store, checks that the at-rest key is the one it was
// sealed with, writes a generated key file and loads the signing keys,
// once: the first of Start and a request (some may come
// before Start, as apps start in no fixed order) does it, and the others
// wait for it. A failed attempt is made again by the next call. Once the
// configuration is unloaded, open refuses to start opening.
func (a *App) open() (store.Store, error) {
	o := &a.opening
	if o.done.Load() {
		return o.opened, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done.Load() {
		return o.opened, nil
	}
	if err := a.ctx.Err(); err != nil {
		return nil, fmt.Errorf("opening store: the configuration is unloaded: %w", err)
	}
	st, err := a.backend.OpenStore(a.ctx)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	// Before anything is written: a wrong key must not seal new records
	// or write a new key file over the trace of the right one.
	step, err := a.checkKey(a.ctx, st)
	if err != nil {
		return nil, err
	}
	if o.keyFile != "" {
		if err := a.keys.WriteKeyFile(o.keyFile); err != nil {
			return nil, fmt.Errorf("saving at-rest key: %w", err)
		}
		o.keyFile = ""
	}
	// Recorded (or re-keyed) once the key is kept, so that a key file
	// that could not be written does not leave a check no key passes,
	// and before anything is sealed with the key.
	switch step {
	case keyCheckRecord:
		err = a.recordKeyCheck(a.ctx, st, time.Now())
	case keyCheckRekey:
		err = a.rekey(a.ctx, st, time.Now())
	}
	if err != nil {
		return nil, err
	}
	keyring, err := signing.New(a.ctx, st, a.keys, a.IDTokenAlgorithm, time.Duration(a.AccessTokenTTL), time.Now)
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	a.keyring = keyring
	a.joinCluster(st)
	o.opened = st
	o.done.Store(true)
	return st, nil
}

// RequireOutgoingLink records that a handler of this configuration sends
// the token of the outgoing link name: Start fails unless the link is
// declared in the configuration or was created at runtime. It is checked
// then and not in the handler's Provision, which cannot read the store.
func (a *App) RequireOutgoingLink(name string) {
	a.opening.mu.Lock()
	defer a.opening.mu.Unlock()
	a.opening.required = append(a.opening.required, name)
}

// checkRequiredLinks fails, in one sentence, for the first outgoing link
// a handler names that neither the configuration declares nor the store
// holds.
func (a *App) checkRequiredLinks() error {
	a.opening.mu.Lock()
	required := a.opening.required
	a.opening.mu.Unlock()
	for _, name := range required {
		_, err := a.outgoing.Link(a.ctx, name)
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("outgoing_token %s: reading the link: %w", name, err)
		}
		return fmt.Errorf("outgoing_token %s: there is no outgoing link of this name%s; declare it with outgoing %s in the applinks global option or create it in the admin UI", name, nearest.Suggest(name, a.outgoingNames()), name)
	}
	return nil
}

// outgoingNames returns the names of the declared and stored outgoing
// links; those that cannot be read are left out.
func (a *App) outgoingNames() []string {
	var names []string
	for _, c := range a.OutgoingLinks {
		names = append(names, c.Name)
	}
	if stored, err := a.store.ListOutgoingLinks(a.ctx); err == nil {
		for _, l := range stored {
			names = append(names, l.Name)
		}
	}
	return names
}
