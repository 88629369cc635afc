// Package storetest is the conformance suite that every store.Store backend must pass.
//
// A backend's tests call RunTests and RunConcurrencyTests with a function
// that returns a fresh, empty store for one subtest and releases it with
// t.Cleanup:
//
//	func TestStore(t *testing.T) {
//		storetest.RunTests(t, func(t *testing.T) store.Store {
//			s, err := Open(t.TempDir(), Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Records are compared field by field; times are compared with Equal, and
// the fixtures use UTC times truncated to the millisecond, so a backend may
// round-trip times through JSON or a database timestamp column. Nil and
// empty slices are treated alike. Expiry is checked with real waits and a
// tolerance of one second (Badger's TTL granularity): a record must be
// returned before its expiry and must be gone one second after it.
//
// Where store.go leaves room, the suite expects:
//   - errors from updater closures come back so that errors.Is matches them;
//   - DeleteLink of a missing link gives store.ErrNotFound;
//   - records written with an expiry in the past are not returned;
//   - ListGrants and ListConnections may return records in any order;
//   - a pending authorization is not returned once its ExpiresAt has
//     passed, even by a fraction of a second;
//   - link and user ids of connections may hold any (UTF-8) characters
//     but NUL, and the user id may be empty (a shared connection);
//   - ListSigningKeys leaves out keys written with an ExpiresAt in the
//     past, and a key replaced by such a record;
//   - of concurrent updates of one record, the losers fail with their
//     updater's error or with store.ErrConflict;
//   - UpdateUser refuses an updater that changes the name, with an error
//     and without a write;
//   - GarbageCollect deletes no live record, and succeeds (with a count
//     of 0 or more) whatever has expired.
package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// subTest is one conformance test, run on a fresh store.
type subTest struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// RunTests runs the functional conformance tests, each on a fresh store
// from newStore. The expiry tests share one wait of under three seconds.
func RunTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	runTests(t, newStore, []subTest{
		{"LinkCreateGet", testLinkCreateGet},
		{"LinkNotFound", testLinkNotFound},
		{"LinkDuplicates", testLinkDuplicates},
		{"ListLinksOrder", testListLinksOrder},
		{"UpdateLink", testUpdateLink},
		{"UpdateLinkFnError", testUpdateLinkFnError},
		{"UpdateLinkRename", testUpdateLinkRename},
		{"UpdateLinkRenameTaken", testUpdateLinkRenameTaken},
		{"DeleteLink", testDeleteLink},
		{"RedeemCode", testRedeemCode},
		{"RedeemCodeNotFound", testRedeemCodeNotFound},
		{"RedeemCodeFnError", testRedeemCodeFnError},
		{"RotateRefresh", testRotateRefresh},
		{"RotateRefreshFnError", testRotateRefreshFnError},
		{"RotateRefreshRetry", testRotateRefreshRetry},
		{"RotateRefreshNotFound", testRotateRefreshNotFound},
		{"LookupToken", testLookupToken},
		{"CreateGrant", testCreateGrant},
		{"ListGrants", testListGrants},
		{"DeleteGrant", testDeleteGrant},
		{"Sessions", testSessions},
		{"DeleteUserSessions", testDeleteUserSessions},
		{"Users", testUsers},
		{"UpdateUserCreate", testUpdateUserCreate},
		{"UpdateUserUpdate", testUpdateUserUpdate},
		{"UpdateUserFnError", testUpdateUserFnError},
		{"UpdateUserRename", testUpdateUserRename},
		{"Subjects", testSubjects},
		{"SigningKeys", testSigningKeys},
		{"UpdateSigningKey", testUpdateSigningKey},
		{"KeyCheck", testKeyCheck},
		{"UpdateKeyCheck", testUpdateKeyCheck},
		{"Pending", testPending},
		{"Connections", testConnections},
		{"UpdateConnectionFnError", testUpdateConnectionFnError},
		{"ListConnections", testListConnections},
		{"DeleteConnection", testDeleteConnection},
		{"OutgoingLinks", testOutgoingLinks},
		{"UpdateOutgoingLink", testUpdateOutgoingLink},
		{"UpdateOutgoingLinkFnError", testUpdateOutgoingLinkFnError},
		{"RequestTokens", testRequestTokens},
		{"RedeemRequestToken", testRedeemRequestToken},
		{"Nonces", testNonces},
		{"OAuth1OutgoingLinks", testOAuth1OutgoingLinks},
		{"ConsumerIdentity", testConsumerIdentity},
		{"UpdateConsumerIdentityMissing", testUpdateConsumerIdentityMissing},
		{"WrittenExpired", testWrittenExpired},
		{"GarbageCollectEmpty", testGarbageCollectEmpty},
		{"GarbageCollectWrittenExpired", testGarbageCollectWrittenExpired},
	})
	t.Run("Expiry", func(t *testing.T) {
		runExpiryTests(t, newStore, []expiryTest{
			{"Code", expiryCode},
			{"Token", expiryToken},
			{"Grant", expiryGrant},
			{"GrantExtended", expiryGrantExtended},
			{"Session", expirySession},
			{"SigningKey", expirySigningKey},
			{"Pending", expiryPending},
			{"OAuth1", expiryOAuth1},
			{"GarbageCollect", expiryGarbageCollect},
		})
	})
}

// RunConcurrencyTests runs the tests of atomicity under concurrent use,
// each on a fresh store from newStore.
func RunConcurrencyTests(t *testing.T, newStore func(t *testing.T) store.Store) {
	runTests(t, newStore, []subTest{
		{"RotateRefresh", testConcurrentRotateRefresh},
		{"RedeemCode", testConcurrentRedeemCode},
		{"UpdateLink", testConcurrentUpdateLink},
		{"CreateLinkSameName", testConcurrentCreateLink},
		{"TakePending", testConcurrentTakePending},
		{"UpdateConnection", testConcurrentUpdateConnection},
		{"UpdateOutgoingLink", testConcurrentUpdateOutgoingLink},
		{"CreateSubject", testConcurrentCreateSubject},
		{"UpdateUser", testConcurrentUpdateUser},
		{"RedeemRequestToken", testConcurrentRedeemRequestToken},
		{"RememberNonce", testConcurrentRememberNonce},
		{"CreateConsumerIdentity", testConcurrentCreateConsumerIdentity},
	})
}

func runTests(t *testing.T, newStore func(t *testing.T) store.Store, tests []subTest) {
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			test.run(t, newStore(t))
		})
	}
}

// Errors returned by the updater closures of the tests.
var (
	errBoom     = errors.New("updater failed")
	errPeek     = errors.New("only looking")
	errUsed     = errors.New("refresh token already used")
	errRedeemed = errors.New("code already redeemed")
)

// now returns the current time as the fixtures store it.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}

// newHash returns a random 32-byte hash.
func newHash() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// newLink returns a link with every field set.
func newLink(name string) store.Link {
	n := now()
	return store.Link{
		ID:           "link-" + rand.Text(),
		Name:         name,
		RedirectURIs: []string{"https://" + name + ".example/callback", "http://127.0.0.1/callback"},
		Ceiling:      "openid profile email",
		ClientID:     "client-" + rand.Text(),
		Secrets: []store.Secret{
			{Sealed: newHash(), CreatedAt: n.Add(-48 * time.Hour), ExpiresAt: n.Add(time.Hour)},
			{Sealed: newHash(), CreatedAt: n},
		},
		RequirePKCE: true,
		Public:      true,
		ServiceUser: "svc-" + name,
		Registered:  true,
		Disabled:    true,
		OAuth1: &store.OAuth1Consumer{
			PublicKey: "-----BEGIN PUBLIC KEY-----\n" + rand.Text() + "\n-----END PUBLIC KEY-----\n",
			Callback:  "https://" + name + ".example/plugins/servlet/applinks/oauth/login.dance/access",
			TwoLegged: true, ExecuteAs: "svc-" + name, Impersonation: true,
		},
		LastUsedAt: n.Add(-time.Hour),
		CreatedAt:  n.Add(-48 * time.Hour),
		UpdatedAt:  n,
		CreatedBy:  "admin",
	}
}

// newCode returns a code of user for l that expires after ttl.
func newCode(l store.Link, user string, ttl time.Duration) store.Code {
	n := now()
	return store.Code{
		Hash:                newHash(),
		LinkID:              l.ID,
		ClientID:            l.ClientID,
		UserID:              user,
		RedirectURI:         l.RedirectURIs[0],
		Scope:               "openid profile",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Nonce:               "n-0S6_WzA2Mj",
		OIDCScopes:          []string{"openid", "profile", "email"},
		AuthTime:            n.Add(-5 * time.Minute),
		Resource:            "https://" + l.Name + ".example/mcp",
		CreatedAt:           n,
		ExpiresAt:           n.Add(ttl),
	}
}

// lifetimes of what issueFor and rotate issue.
type lifetimes struct {
	grant, access, refresh time.Duration
}

// longLived is for tests that do not wait for expiry.
var longLived = lifetimes{grant: 24 * time.Hour, access: time.Hour, refresh: 24 * time.Hour}

// issueFor returns what the token endpoint issues for c: a new grant with
// an access token and a refresh token (in this order).
func issueFor(c store.Code, lt lifetimes) store.Issue {
	n := now()
	g := store.Grant{
		ID:         "grant-" + rand.Text(),
		LinkID:     c.LinkID,
		ClientID:   c.ClientID,
		UserID:     c.UserID,
		Scope:      c.Scope,
		OIDCScopes: c.OIDCScopes,
		AuthTime:   c.AuthTime,
		Resource:   c.Resource,
		Generation: 1,
		CreatedAt:  n,
		UpdatedAt:  n,
		ExpiresAt:  n.Add(lt.grant),
	}
	return store.Issue{Grant: g, Tokens: tokenPair(g, lt)}
}

// tokenPair returns an access and a refresh token of g's generation.
func tokenPair(g store.Grant, lt lifetimes) []store.Token {
	n := now()
	access := store.Token{
		Hash:       newHash(),
		Kind:       store.AccessToken,
		GrantID:    g.ID,
		Generation: g.Generation,
		Scope:      g.Scope,
		IssuedAt:   n,
		ExpiresAt:  n.Add(lt.access),
	}
	refresh := access
	refresh.Hash = newHash()
	refresh.Kind = store.RefreshToken
	refresh.ExpiresAt = n.Add(lt.refresh)
	refresh.AccessHash = access.Hash
	return []store.Token{access, refresh}
}

// rotate does what the token endpoint does to a refresh token in
// RotateRefresh: it marks tok used (keeping it an hour to detect replays),
// advances g to the next generation until the new refresh token expires,
// and issues a new pair that replaces tok's access token.
func rotate(g *store.Grant, tok *store.Token, lt lifetimes) store.Issue {
	n := now()
	tok.UsedAt = n
	tok.KeepUntil = n.Add(time.Hour)
	tok.SealedChild = []byte("the new pair, sealed for retries")
	g.Generation++
	g.UpdatedAt = n
	g.ExpiresAt = n.Add(lt.refresh)
	var del [][]byte
	if len(tok.AccessHash) > 0 {
		del = [][]byte{tok.AccessHash}
	}
	return store.Issue{Grant: *g, Tokens: tokenPair(*g, lt), Delete: del}
}

// grantFor creates a link's code for user and redeems it.
func grantFor(t *testing.T, s store.Store, l store.Link, user string, lt lifetimes) store.Issue {
	t.Helper()
	c := newCode(l, user, 10*time.Minute)
	if err := s.CreateCode(t.Context(), c); err != nil {
		t.Fatalf("CreateCode: %v", err)
	}
	iss, err := s.RedeemCode(t.Context(), c.Hash, func(store.Code) (store.Issue, error) {
		return issueFor(c, lt), nil
	})
	if err != nil {
		t.Fatalf("RedeemCode: %v", err)
	}
	return iss
}

// createLink stores l or fails the test.
func createLink(t *testing.T, s store.Store, l store.Link) store.Link {
	t.Helper()
	if err := s.CreateLink(t.Context(), l); err != nil {
		t.Fatalf("CreateLink(%q): %v", l.Name, err)
	}
	return l
}

// must fails the test when err is set.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr reports an error unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// checkEqual reports the fields in which got and want differ.
func checkEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	var out []string
	typ := reflect.TypeFor[T]()
	path := typ.Name()
	if path == "" {
		path = typ.String()
	}
	diff(path, reflect.ValueOf(&got).Elem(), reflect.ValueOf(&want).Elem(), &out)
	if len(out) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(out, "\n\t"))
	}
}

// checkGrants compares grant lists regardless of order.
func checkGrants(t *testing.T, what string, got []store.Grant, want ...store.Grant) {
	t.Helper()
	byID := func(a, b store.Grant) int { return strings.Compare(a.ID, b.ID) }
	got = slices.SortedFunc(slices.Values(got), byID)
	want = slices.SortedFunc(slices.Values(want), byID)
	checkEqual(t, what, got, want)
}

// listGrants lists grants or fails the test.
func listGrants(t *testing.T, s store.Store, f store.GrantFilter) []store.Grant {
	t.Helper()
	grants, err := s.ListGrants(t.Context(), f)
	if err != nil {
		t.Fatalf("ListGrants(%+v): %v", f, err)
	}
	return grants
}

// checkLookup checks that LookupToken returns tok and g.
func checkLookup(t *testing.T, s store.Store, tok store.Token, g store.Grant) {
	t.Helper()
	gotTok, gotGrant, err := s.LookupToken(t.Context(), tok.Hash)
	if err != nil {
		t.Errorf("LookupToken(%s token): %v", tok.Kind, err)
		return
	}
	checkEqual(t, "looked-up token", gotTok, tok)
	checkEqual(t, "grant of looked-up token", gotGrant, g)
}

// checkTokenGone checks that LookupToken gives store.ErrNotFound.
func checkTokenGone(t *testing.T, s store.Store, what string, hash []byte) {
	t.Helper()
	_, _, err := s.LookupToken(t.Context(), hash)
	wantErr(t, "LookupToken of "+what, err, store.ErrNotFound)
}

var timeType = reflect.TypeFor[time.Time]()

// diff appends to out a line for each difference between got and want.
func diff(path string, got, want reflect.Value, out *[]string) {
	switch {
	case got.Type() == timeType:
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			*out = append(*out, fmt.Sprintf("%s: got %v, want %v", path, g, w))
		}
	case got.Kind() == reflect.Struct:
		for i := range got.NumField() {
			if f := got.Type().Field(i); f.IsExported() {
				diff(path+"."+f.Name, got.Field(i), want.Field(i), out)
			}
		}
	case got.Kind() == reflect.Slice && got.Type().Elem().Kind() == reflect.Uint8:
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			*out = append(*out, fmt.Sprintf("%s: got %x, want %x", path, got.Bytes(), want.Bytes()))
		}
	case got.Kind() == reflect.Slice:
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %d elements, want %d", path, got.Len(), want.Len()))
			return
		}
		for i := range got.Len() {
			diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), out)
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface()))
		}
	}
}
