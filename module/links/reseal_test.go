package links_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/links"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret/secrettest"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// TestResealKeepsASecretRotatedDuringThePass: after an at-rest key
// rotation, the registry re-seals the client secrets that the old key
// sealed so that the new key alone opens them, counts a secret that no
// key opens as unreadable and leaves it in place, and a secret rotated
// between the pass's read and its write is kept: the pass writes the link
// as it is stored then, not as it read it.
func TestResealKeepsASecretRotatedDuringThePass(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKeys := secrettest.Passphrase(t, "the at-rest key before the rotation, 32+ chars")
	newKey := secrettest.Passphrase(t, "the at-rest key after the rotation, 32+ chars")
	before, err := links.New(st, oldKeys, nil, time.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	create := func(r *links.Registry, name string) (links.Link, string) {
		l, sec, err := r.Create(ctx, links.NewLink{Name: name, RedirectURIs: []string{"https://app.example.com/cb"}, Ceiling: scope.Write})
		if err != nil {
			t.Fatal(err)
		}
		return l, sec
	}
	jira, jiraSecret := create(before, "jira")
	wiki, wikiSecret := create(before, "wiki")
	if _, _, err := before.Create(ctx, links.NewLink{Name: "spa", RedirectURIs: []string{"http://localhost/cb"}, Ceiling: scope.Read, Public: true}); err != nil {
		t.Fatal(err)
	}
	// A link whose secret a stranger's key sealed (a record restored from
	// another gateway's backup).
	stranger := secrettest.Passphrase(t, "a key this gateway never had, 32+ characters")
	strangers, err := links.New(st, stranger, nil, time.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	lost, _ := create(strangers, "lost")

	rotating, err := newKey.WithPrevious(oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := links.New(st, rotating, nil, time.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	var rotated string
	tally := &secrettest.Tally{DuringCensus: func() {
		if rotated, err = reg.RotateSecret(ctx, jira.ID, time.Hour, "admin"); err != nil {
			t.Error(err)
		}
	}}
	if err := reg.Reseal(ctx, tally); err != nil {
		t.Fatalf("Reseal: %v", err)
	}
	if got, want := tally.Counts(), (secrettest.Counts{Previous: 2, Unreadable: 1, Resealed: 2, Writes: 2}); got != want {
		t.Errorf("the pass told %+v, want %+v", got, want)
	}

	after, err := links.New(st, newKey, nil, time.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ clientID, secret, what string }{
		{jira.ClientID, rotated, "the secret rotated during the pass"},
		{jira.ClientID, jiraSecret, "the secret it replaced, in its overlap"},
		{wiki.ClientID, wikiSecret, "a secret re-sealed by the pass"},
	} {
		if _, err := after.Authenticate(ctx, c.clientID, c.secret); err != nil {
			t.Errorf("with the new key alone, %s does not authenticate: %v", c.what, err)
		}
	}
	l, err := st.GetLink(ctx, lost.ID)
	if err != nil || len(l.Secrets) != 1 {
		t.Fatalf("the link with an unreadable secret: %v, %d secrets; want it kept", err, len(l.Secrets))
	}
	if _, err := stranger.Open(l.Secrets[0].Sealed, []byte(l.ID)); err != nil {
		t.Fatalf("the unreadable secret was changed: %v", err)
	}

	again := &secrettest.Tally{}
	if err := reg.Reseal(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, want := again.Counts(), (secrettest.Counts{Current: 3, Unreadable: 1}); got != want {
		t.Errorf("a second pass told %+v, want %+v (nothing left to re-seal, nothing written)", got, want)
	}
}

// TestResealOfADeletedLinkIsNotAnError: a link deleted between the
// pass's read and its write is gone, not an error, and not re-created.
func TestResealOfADeletedLinkIsNotAnError(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKeys := secrettest.Passphrase(t, "the at-rest key before the rotation, 32+ chars")
	before, err := links.New(st, oldKeys, nil, time.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := before.Create(ctx, links.NewLink{Name: "jira", RedirectURIs: []string{"https://app.example.com/cb"}, Ceiling: scope.Write})
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := secrettest.Passphrase(t, "the at-rest key after the rotation, 32+ chars").WithPrevious(oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := links.New(st, rotating, nil, time.Now, zap.NewNop(), func() {})
	if err != nil {
		t.Fatal(err)
	}
	tally := &secrettest.Tally{DuringCensus: func() {
		if err := reg.Delete(ctx, l.ID, "admin"); err != nil {
			t.Error(err)
		}
	}}
	if err := reg.Reseal(ctx, tally); err != nil {
		t.Fatalf("Reseal over a link deleted meanwhile: %v", err)
	}
	if _, err := st.GetLink(ctx, l.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the deleted link after the pass: %v, want ErrNotFound", err)
	}
}
