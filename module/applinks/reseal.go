package applinks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/outgoing"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/users"
)

// The pace of re-sealing: a pause after every resealBatch writes, so that
// a pass over many records leaves the store to the requests.
const (
	resealBatch = 100
	resealPause = 20 * time.Millisecond
	// resealAgain is the wait before checking again after a pass that
	// re-sealed something, and resealRecheck after one that found nothing
	// to do: a gateway of a cluster still sealing with the previous key
	// may have written some meanwhile.
	resealAgain   = time.Second
	resealRecheck = 15 * time.Minute
	// resealRetry is the wait after a failed pass.
	resealRetry = time.Minute
	// resealLock is the cluster-wide lock a pass holds, so that one
	// gateway re-seals at a time.
	resealLock = "at-rest re-seal"
)

// Kinds of sealed records in AtRestStatus: each is re-sealed by the
// service that owns it.
const (
	// SealedIncomingSecrets are the client secrets of incoming links
	// created at runtime or registered (links.Registry).
	SealedIncomingSecrets = "incoming_link_secrets"
	// SealedOutgoingSecrets are the client secrets of outgoing links
	// created at runtime (outgoing.Service).
	SealedOutgoingSecrets = "outgoing_link_secrets"
	// SealedConnections are the provider tokens of outgoing connections
	// (outgoing.Service).
	SealedConnections = "outgoing_connections"
	// SealedSigningKeys are the private keys that sign ID tokens
	// (signing.Keyring).
	SealedSigningKeys = "signing_keys"
	// SealedConsumerIdentity is the private key of the gateway's OAuth
	// 1.0a consumer identity (outgoing.Service.Consumer).
	SealedConsumerIdentity = "oauth1_consumer_identity"
)

// Kinds of short-lived sealed values in AtRestStatus: they are not
// re-sealed, and need the previous key until they expire.
const (
	// ShortLivedOutgoingAuthorizations are pending outgoing
	// authorizations (their PKCE verifiers).
	ShortLivedOutgoingAuthorizations = "pending_outgoing_authorizations"
	// ShortLivedSignInState are the state cookies of sign-ins through an
	// OpenID Connect provider.
	ShortLivedSignInState = "oidc_sign_in_state_cookies"
)

// SealedCount counts the stored values of one kind by the key that opens
// them.
type SealedCount struct {
	Kind string `json:"kind"`
	// Current are sealed with the current key.
	Current int `json:"current"`
	// Previous are sealed with a previous key and wait to be re-sealed.
	Previous int `json:"previous"`
	// Unreadable open with none of the configured keys; they are left as
	// they are, never deleted.
	Unreadable int `json:"unreadable"`
}

// ShortLived is a kind of short-lived sealed value, which is not
// re-sealed.
type ShortLived struct {
	Kind string `json:"kind"`
	// TTL is how long such a value lives, e.g. "10m0s".
	TTL string `json:"ttl"`
	// NeedsPreviousUntil is when the last of them sealed with a previous
	// key has expired: TTL after the rotation began. Zero when the store
	// was never re-keyed.
	NeedsPreviousUntil time.Time `json:"needs_previous_until,omitzero"`
}

// AtRestStatus is how far a rotation of the at-rest key has come on this
// gateway, for administrators: GET /applinks/keys/at-rest.
type AtRestStatus struct {
	// PreviousKeys is how many previous keys are configured.
	PreviousKeys int `json:"previous_keys"`
	// RekeyedAt is when the store's key check was moved to the current
	// key: when the rotation began. Zero when the store never was
	// re-keyed.
	RekeyedAt time.Time `json:"rekeyed_at,omitzero"`
	// Running: a pass is re-sealing now. Waiting: one waits for another
	// gateway's pass (cluster mode).
	Running bool `json:"running"`
	Waiting bool `json:"waiting,omitempty"`
	// Done: the last complete pass found every stored value sealed with
	// the current key (or unreadable), at CheckedAt.
	Done      bool      `json:"done"`
	CheckedAt time.Time `json:"checked_at,omitzero"`
	// Error is why the last pass failed; it is tried again.
	Error string `json:"error,omitempty"`
	// Records are the counts of the latest pass, by kind.
	Records    []SealedCount `json:"records"`
	ShortLived []ShortLived  `json:"short_lived"`
	// CanRemovePrevious says whether the previous keys may be removed
	// now, and Statement says it in a sentence with what is left.
	CanRemovePrevious bool   `json:"can_remove_previous"`
	Statement         string `json:"statement"`
}

// resealing is the state of the background re-seal passes, which the
// status reads while a pass writes.
type resealing struct {
	mu        sync.Mutex
	running   bool
	waiting   bool
	counts    []SealedCount
	completed bool // a pass has completed
	done      bool
	checkedAt time.Time
	err       error
	writes    int
}

// sealedKind is one kind of sealed record and the service method that
// re-seals it.
type sealedKind struct {
	name   string
	reseal func(ctx context.Context, tally secret.Tally) error
}

// sealedKinds are the kinds of sealed records the store holds.
func (a *App) sealedKinds() []sealedKind {
	return []sealedKind{
		{SealedIncomingSecrets, a.links.Reseal},
		{SealedOutgoingSecrets, a.outgoing.ResealLinks},
		{SealedConnections, a.outgoing.ResealConnections},
		{SealedSigningKeys, func(ctx context.Context, t secret.Tally) error { return a.keyring.Reseal(ctx, t) }},
		{SealedConsumerIdentity, a.outgoing.ResealConsumer},
	}
}

// resealInBackground re-seals with the current key, pass after pass,
// every stored value a previous key sealed, until the configuration is
// unloaded: a pass that re-sealed something is followed by another, to
// confirm nothing is left; after one that found nothing, it checks again
// every resealRecheck. It is started when previous keys are configured.
func (a *App) resealInBackground() {
	announced := false
	for {
		found, err := a.resealPass()
		if a.ctx.Err() != nil {
			return
		}
		wait := resealRecheck
		switch {
		case err != nil:
			a.logger.Warn("re-sealing stored values with the current at-rest key; trying again", zap.Error(err), zap.Duration("in", resealRetry))
			wait = resealRetry
		case found > 0:
			a.logger.Info("re-sealed stored values with the current at-rest key", zap.Int("values", found))
			wait = resealAgain
		case !announced:
			announced = true
			a.logger.Info("every stored value is sealed with the current at-rest key; `caddy applinks keys at-rest` says when the previous keys can be removed")
		}
		t := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// resealPass runs every kind's re-seal once, holding the cluster-wide
// lock when the store is shared, and returns how many values it found
// sealed with a previous key.
func (a *App) resealPass() (found int, err error) {
	r := &a.resealing
	kinds := a.sealedKinds()
	pass := func(ctx context.Context) error {
		r.mu.Lock()
		r.running, r.waiting, r.writes = true, false, 0
		r.counts = make([]SealedCount, len(kinds))
		for i, k := range kinds {
			r.counts[i].Kind = k.name
		}
		r.mu.Unlock()
		for i, k := range kinds {
			t := &kindTally{r: r, i: i, ctx: ctx}
			err := k.reseal(ctx, t)
			found += t.found
			if err != nil {
				return fmt.Errorf("%s: %w", k.name, err)
			}
		}
		return nil
	}
	if _, err = a.open(); err == nil {
		if a.shared != nil {
			r.mu.Lock()
			r.waiting = true
			r.mu.Unlock()
			err = a.shared.Exclusively(a.ctx, resealLock, pass)
		} else {
			err = pass(a.ctx)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running, r.waiting, r.err = false, false, err
	switch {
	case err == nil:
		r.completed, r.done, r.checkedAt = true, found == 0, time.Now().UTC()
	case found > 0:
		r.done = false
	}
	return found, err
}

// kindTally counts one kind's values into the state and paces the
// writes.
type kindTally struct {
	r     *resealing
	i     int
	ctx   context.Context
	found int // values found sealed with a previous key
}

// Found counts a value as the census found it.
func (t *kindTally) Found(o secret.Outcome) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	c := &t.r.counts[t.i]
	switch o {
	case secret.Current:
		c.Current++
	case secret.Resealed:
		c.Previous++
		t.found++
	case secret.Unreadable:
		c.Unreadable++
	}
}

// Resealed moves n values from previous to current, and pauses after
// every resealBatch writes; it fails once the configuration is unloaded.
func (t *kindTally) Resealed(n int) error {
	t.r.mu.Lock()
	c := &t.r.counts[t.i]
	c.Previous -= n
	c.Current += n
	t.r.writes++
	pause := t.r.writes%resealBatch == 0
	t.r.mu.Unlock()
	if pause {
		p := time.NewTimer(resealPause)
		select {
		case <-t.ctx.Done():
			p.Stop()
		case <-p.C:
		}
	}
	return t.ctx.Err()
}

// AtRestStatus says how far the rotation of the at-rest key has come:
// the counts of the latest re-seal pass, whether one runs, for how long
// short-lived values still need the previous key, and whether the
// previous keys can be removed now.
func (a *App) AtRestStatus(ctx context.Context, now time.Time) (AtRestStatus, error) {
	st, err := a.open()
	if err != nil {
		return AtRestStatus{}, err
	}
	kc, err := st.GetKeyCheck(ctx)
	if err != nil {
		return AtRestStatus{}, fmt.Errorf("reading the at-rest key check: %w", err)
	}
	s := AtRestStatus{PreviousKeys: len(a.keys.Previous()), Records: []SealedCount{}}
	if len(kc.Retired) > 0 {
		s.RekeyedAt = kc.CreatedAt.UTC()
	}
	r := &a.resealing
	r.mu.Lock()
	s.Running, s.Waiting, s.Done, s.CheckedAt = r.running, r.waiting, r.done, r.checkedAt
	s.Records = append(s.Records, r.counts...)
	if r.err != nil {
		s.Error = r.err.Error()
	}
	completed := r.completed
	r.mu.Unlock()

	var until time.Time
	for _, sl := range []struct {
		kind string
		ttl  time.Duration
	}{{ShortLivedOutgoingAuthorizations, outgoing.PendingTTL}, {ShortLivedSignInState, users.OIDCStateTTL}} {
		v := ShortLived{Kind: sl.kind, TTL: sl.ttl.String()}
		if !s.RekeyedAt.IsZero() {
			v.NeedsPreviousUntil = s.RekeyedAt.Add(sl.ttl)
			if v.NeedsPreviousUntil.After(until) {
				until = v.NeedsPreviousUntil
			}
		}
		s.ShortLived = append(s.ShortLived, v)
	}
	s.CanRemovePrevious, s.Statement = a.removalStatement(s, completed, until, now)
	return s, nil
}

// removalStatement says whether the previous keys can be removed now,
// and why not.
func (a *App) removalStatement(s AtRestStatus, completed bool, until, now time.Time) (bool, string) {
	if s.PreviousKeys == 0 {
		return false, "No previous at-rest key is configured: nothing is re-sealed."
	}
	previous, unreadable := 0, 0
	for _, c := range s.Records {
		previous += c.Previous
		unreadable += c.Unreadable
	}
	var note string
	if unreadable > 0 {
		note = fmt.Sprintf(" %d stored values open with none of the configured keys: they stay unreadable whatever is removed (they are kept, not deleted).", unreadable)
	}
	switch {
	case !completed && s.Error != "":
		return false, "Not yet: re-sealing failed and is tried again (" + s.Error + ")." + note
	case !s.Done:
		left := "re-sealing has not finished its first pass"
		if previous > 0 {
			left = fmt.Sprintf("%d stored values are still sealed with a previous key", previous)
		} else if completed {
			left = "re-sealing is confirming that nothing is left"
		}
		return false, "Not yet: " + left + "; keep the previous keys until this says they can go." + note
	case now.Before(until):
		return false, fmt.Sprintf("Not yet: every stored value is sealed with the current key, but pending outgoing authorizations and sign-in state cookies from before the rotation need the previous key until %s.%s",
			until.Format(time.RFC3339), note)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Yes: every stored value is sealed with the current key (checked %s); remove previous_secret_key and previous_key_file and restart", s.CheckedAt.Format(time.RFC3339))
	if a.shared != nil {
		b.WriteString(", once every gateway sharing the store runs with the current key")
	}
	b.WriteString(". A form opened before the rotation then needs a reload, and a browser remembered before it counts as a new device once.")
	b.WriteString(note)
	return true, b.String()
}
