package users

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/applinks/caddy-applinks/module/store"
)

// Subject returns the user's subject: the opaque, stable identifier other
// applications know them by (the OpenID Connect sub claim). It is random,
// created on first need for a user that has none (users declared in the
// configuration, and users stored before subjects existed), and is never
// given to another user: deleting a user forgets it, and a new user of the
// same name gets a new one (NewSubject). store.ErrNotFound when there is
// no such user.
func (d *Directory) Subject(ctx context.Context, name string, now time.Time) (string, error) {
	sub, err := d.store.GetSubject(ctx, name)
	if err == nil {
		return sub.Subject, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	if _, err := d.Get(ctx, name); err != nil {
		return "", err
	}
	err = d.store.CreateSubject(ctx, newSubject(name, now))
	if err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return "", fmt.Errorf("creating the subject of %q: %w", name, err)
	}
	// Read back: of concurrent first uses, one subject won.
	if sub, err = d.store.GetSubject(ctx, name); err != nil {
		return "", err
	}
	return sub.Subject, nil
}

// NewSubject gives a user just created a new subject, replacing any an
// earlier user of the same name left behind.
func (d *Directory) NewSubject(ctx context.Context, name string, now time.Time) error {
	if err := d.store.PutSubject(ctx, newSubject(name, now)); err != nil {
		return fmt.Errorf("creating the subject of %q: %w", name, err)
	}
	return nil
}

// concurrentCreation is how recent a subject found for a user about to be
// created must be to count as one another gateway made for the same
// creation, rather than one an earlier user of the name left behind.
const concurrentCreation = time.Minute

// subjectForNewUser gives a user about to be created its subject: a new
// one, unless another gateway sharing the store is creating the same user
// at this moment and made one already (both then agree on it, instead of
// the later replacing the subject of a user that exists by then). An
// older subject is one an earlier user of the name left behind, and is
// replaced.
func (d *Directory) subjectForNewUser(ctx context.Context, name string, now time.Time) error {
	err := d.store.CreateSubject(ctx, newSubject(name, now))
	if !errors.Is(err, store.ErrAlreadyExists) {
		if err != nil {
			return fmt.Errorf("creating the subject of %q: %w", name, err)
		}
		return nil
	}
	cur, err := d.store.GetSubject(ctx, name)
	if err == nil && now.Sub(cur.CreatedAt).Abs() < concurrentCreation {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading the subject of %q: %w", name, err)
	}
	return d.NewSubject(ctx, name, now)
}

// ForgetSubject deletes the subject of a deleted user, so that it is never
// seen again.
func (d *Directory) ForgetSubject(ctx context.Context, name string) error {
	if err := d.store.DeleteSubject(ctx, name); err != nil {
		return fmt.Errorf("forgetting the subject of %q: %w", name, err)
	}
	return nil
}

// newSubject returns a random subject for the user: 130 bits, base32.
func newSubject(name string, now time.Time) store.Subject {
	return store.Subject{UserID: name, Subject: rand.Text(), CreatedAt: now.UTC()}
}
