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
