package storetest

import (
	"crypto/rand"
	"testing"

	"github.com/applinks/caddy-applinks/module/store"
)

// newSubject returns a random subject for user.
func newSubject(user string) store.Subject {
	return store.Subject{UserID: user, Subject: rand.Text(), CreatedAt: now()}
}

func testSubjects(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetSubject(ctx, "alice")
	wantErr(t, "GetSubject of a user without one", err, store.ErrNotFound)

	alice, alicia := newSubject("alice"), newSubject("alicia")
	must(t, "CreateSubject", s.CreateSubject(ctx, alice))
	must(t, "CreateSubject", s.CreateSubject(ctx, alicia))
	wantErr(t, "CreateSubject for a user with one", s.CreateSubject(ctx, newSubject("alice")), store.ErrAlreadyExists)
	for _, want := range []store.Subject{alice, alicia} {
		got, err := s.GetSubject(ctx, want.UserID)
		must(t, "GetSubject", err)
		checkEqual(t, "subject", got, want)
	}

	replaced := newSubject("alice")
	must(t, "PutSubject replacing", s.PutSubject(ctx, replaced))
	got, err := s.GetSubject(ctx, "alice")
	must(t, "GetSubject", err)
	checkEqual(t, "replaced subject", got, replaced)
	fresh := newSubject("bob")
	must(t, "PutSubject creating", s.PutSubject(ctx, fresh))
	got, err = s.GetSubject(ctx, "bob")
	must(t, "GetSubject", err)
	checkEqual(t, "created subject", got, fresh)

	must(t, "DeleteSubject", s.DeleteSubject(ctx, "alice"))
	_, err = s.GetSubject(ctx, "alice")
	wantErr(t, "GetSubject of a deleted subject", err, store.ErrNotFound)
	got, err = s.GetSubject(ctx, "alicia")
	must(t, "GetSubject of another user", err)
	checkEqual(t, "other subject", got, alicia)
	must(t, "DeleteSubject of a deleted subject", s.DeleteSubject(ctx, "alice"))
	must(t, "CreateSubject after DeleteSubject", s.CreateSubject(ctx, newSubject("alice")))
}

func testConcurrentCreateSubject(t *testing.T, s store.Store) {
	ctx := t.Context()
	subs := make([]store.Subject, contenders)
	errs := make([]error, contenders)
	for i := range subs {
		subs[i] = newSubject("alice")
	}
	race(contenders, func(i int) {
		errs[i] = s.CreateSubject(ctx, subs[i])
	})
	w := checkOneWinner(t, "concurrent CreateSubject", errs, store.ErrAlreadyExists)
	got, err := s.GetSubject(ctx, "alice")
	must(t, "GetSubject", err)
	checkEqual(t, "subject", got, subs[w])
}
