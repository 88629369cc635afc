package outgoing

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/secret/secrettest"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/store/badgerstore/badgertest"
)

// fixedProvider is a provider with fixed endpoints, loaded from any JSON.
type fixedProvider struct{}

func (fixedProvider) Endpoint(context.Context, *http.Client) (oauth2.Endpoint, error) {
	return oauth2.Endpoint{AuthURL: "https://idp.example/authorize", TokenURL: "https://idp.example/token"}, nil
}
func (fixedProvider) Scopes(link []string) []string            { return link }
func (fixedProvider) AuthCodeOptions() []oauth2.AuthCodeOption { return nil }

// resealService returns a service over st sealing with keys.
func resealService(st store.Store, keys *secret.Keys) *Service {
	load := func(json.RawMessage) (Provider, error) { return fixedProvider{}, nil }
	return NewService(nil, st, keys, load, zap.NewNop(), time.Now, Reach{})
}

// TestResealConnectionsKeepsATokenRefreshedDuringThePass: after an
// at-rest key rotation the provider tokens the old key sealed are
// re-sealed so that the new key alone opens them, with their generation,
// status and times unchanged; a token refreshed between the pass's read
// and its write is kept (the pass never writes back the token it read),
// and a token no key opens is counted as unreadable and left as it is.
func TestResealConnectionsKeepsATokenRefreshedDuringThePass(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKeys := secrettest.Passphrase(t, "the at-rest key before the rotation, 32+ chars")
	newKey := secrettest.Passphrase(t, "the at-rest key after the rotation, 32+ chars")
	stranger := secrettest.Passphrase(t, "a key this gateway never had, 32+ characters")
	put := func(keys *secret.Keys, linkID, userID, access string) store.Connection {
		s := resealService(st, keys)
		c := store.Connection{LinkID: linkID, UserID: userID, Status: StatusRecoverable, Failures: 2, Generation: 3,
			CreatedAt: time.Now().UTC().Truncate(time.Millisecond), UpdatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := s.seal(&c, &oauth2.Token{AccessToken: access, RefreshToken: "rt-" + access}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice := put(oldKeys, "drive", "alice", "at-alice")
	put(oldKeys, "drive", "bob", "at-bob")
	put(oldKeys, "mail", "", "at-shared")
	lost := put(stranger, "drive", "carol", "at-carol")

	rotating, err := newKey.WithPrevious(oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	s := resealService(st, rotating)
	tally := &secrettest.Tally{DuringCensus: func() {
		// A refresh's write, as refresh makes it.
		_, err := st.UpdateConnection(ctx, "drive", "bob", func(cur *store.Connection) error {
			cur.Generation++
			return s.seal(cur, &oauth2.Token{AccessToken: "at-bob-refreshed", RefreshToken: "rt-bob-rotated"})
		})
		if err != nil {
			t.Error(err)
		}
	}}
	if err := s.ResealConnections(ctx, tally); err != nil {
		t.Fatalf("ResealConnections: %v", err)
	}
	if got, want := tally.Counts(), (secrettest.Counts{Previous: 3, Unreadable: 1, Resealed: 3, Writes: 3}); got != want {
		t.Errorf("the pass told %+v, want %+v", got, want)
	}

	after := resealService(st, newKey)
	for user, want := range map[string]string{"alice": "at-alice", "bob": "at-bob-refreshed"} {
		c, err := st.GetConnection(ctx, "drive", user)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := after.open(c)
		if err != nil || tok.AccessToken != want {
			t.Errorf("%s's token with the new key alone: %v, %v; want %s", user, tok, err, want)
		}
	}
	if c, err := st.GetConnection(ctx, "drive", "bob"); err != nil || c.Generation != 4 {
		t.Errorf("bob's connection after a refresh during the pass: generation %d, %v; want 4", c.Generation, err)
	}
	c, err := st.GetConnection(ctx, "drive", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if c.Generation != alice.Generation || c.Status != alice.Status || c.Failures != alice.Failures || !c.UpdatedAt.Equal(alice.UpdatedAt) {
		t.Errorf("re-sealing changed more than the sealed token: %+v, was %+v", c, alice)
	}
	if shared, err := st.GetConnection(ctx, "mail", ""); err != nil {
		t.Fatal(err)
	} else if tok, err := after.open(shared); err != nil || tok.AccessToken != "at-shared" {
		t.Errorf("the shared connection with the new key alone: %v, %v", tok, err)
	}
	c, err = st.GetConnection(ctx, "drive", "carol")
	if err != nil || string(c.Sealed) != string(lost.Sealed) {
		t.Errorf("the unreadable connection was changed or deleted: %v", err)
	}
}

// TestResealLinksKeepsASecretReplacedDuringThePass: the client secret of a
// runtime outgoing link sealed with the old key is re-sealed; one that an
// administrator replaces between the pass's read and its write keeps the
// new value.
func TestResealLinksKeepsASecretReplacedDuringThePass(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKeys := secrettest.Passphrase(t, "the at-rest key before the rotation, 32+ chars")
	newKey := secrettest.Passphrase(t, "the at-rest key after the rotation, 32+ chars")
	before := resealService(st, oldKeys)
	for _, name := range []string{"drive", "mail"} {
		_, err := before.Create(ctx, NewOutgoing{ConfigLink: ConfigLink{Name: name, ProviderRaw: json.RawMessage(`{"provider":"fixed"}`), ClientID: "gw", ClientSecret: name + "-secret"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := before.Create(ctx, NewOutgoing{ConfigLink: ConfigLink{Name: "public", ProviderRaw: json.RawMessage(`{"provider":"fixed"}`), ClientID: "gw"}}); err != nil {
		t.Fatal(err)
	}
	rotating, err := newKey.WithPrevious(oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	s := resealService(st, rotating)
	tally := &secrettest.Tally{DuringCensus: func() {
		if _, err := s.Update(ctx, "mail", EditOutgoing{ClientID: "gw2", ClientSecret: "mail-secret-2"}, "admin"); err != nil {
			t.Error(err)
		}
	}}
	if err := s.ResealLinks(ctx, tally); err != nil {
		t.Fatalf("ResealLinks: %v", err)
	}
	if got, want := tally.Counts(), (secrettest.Counts{Previous: 2, Resealed: 2, Writes: 2}); got != want {
		t.Errorf("the pass told %+v, want %+v (a link without a secret is not counted)", got, want)
	}
	after := resealService(st, newKey)
	for name, want := range map[string]string{"drive": "drive-secret", "mail": "mail-secret-2"} {
		l, err := after.Link(ctx, name)
		if err != nil || l.ClientSecret != want {
			t.Errorf("outgoing link %s with the new key alone: %v; want secret %q", name, err, want)
			continue
		}
	}
}

// TestResealConsumerOpensWithTheNewKeyAlone: after an at-rest key
// rotation the private key of the gateway's OAuth 1.0a consumer identity
// is re-sealed, so that the consumer key and key pair that other products
// were given keep working once the previous key is removed.
func TestResealConsumerOpensWithTheNewKeyAlone(t *testing.T) {
	ctx := context.Background()
	st := badgertest.Open(t)
	oldKeys := secrettest.Passphrase(t, "the at-rest key before the rotation, 32+ chars")
	newKey := secrettest.Passphrase(t, "the at-rest key after the rotation, 32+ chars")
	before, err := resealService(st, oldKeys).Consumer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resealService(st, newKey).Consumer(ctx); err == nil {
		t.Fatal("the new key alone opened the consumer's key before the re-seal")
	}
	rotating, err := newKey.WithPrevious(oldKeys)
	if err != nil {
		t.Fatal(err)
	}
	tally := &secrettest.Tally{}
	if err := resealService(st, rotating).ResealConsumer(ctx, tally); err != nil {
		t.Fatalf("ResealConsumer: %v", err)
	}
	if got, want := tally.Counts(), (secrettest.Counts{Previous: 1, Resealed: 1, Writes: 1}); got != want {
		t.Errorf("the pass told %+v, want %+v", got, want)
	}
	after, err := resealService(st, newKey).Consumer(ctx)
	if err != nil {
		t.Fatalf("the new key alone after the re-seal: %v", err)
	}
	if after.PublicKeyPEM() != before.PublicKeyPEM() || after.ConsumerKey(&Link{}) != before.ConsumerKey(&Link{}) {
		t.Error("re-sealing changed the consumer key or key pair other products were given")
	}
	again := &secrettest.Tally{}
	if err := resealService(st, rotating).ResealConsumer(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, want := again.Counts(), (secrettest.Counts{Current: 1}); got != want {
		t.Errorf("a second pass told %+v, want %+v", got, want)
	}
}
