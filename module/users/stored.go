package users

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// MinPasswordLength is the shortest password an administrator may set.
const MinPasswordLength = 8

// Errors of Save, each about one field of the change; IsInputError tells
// them from failures of the store.
var (
	// ErrUserReadOnly means the user is declared in the configuration.
	ErrUserReadOnly = errors.New("this user is declared in the configuration and read-only")
	// ErrPasswordRequired means a new user was given no password.
	ErrPasswordRequired = errors.New("a password is required for a new user")
	// ErrPasswordTooShort means the password is shorter than
	// MinPasswordLength.
	ErrPasswordTooShort = fmt.Errorf("the password must have at least %d characters", MinPasswordLength)
	// ErrPasswordTooLong means the password is longer than bcrypt takes.
	ErrPasswordTooLong = errors.New("the password must have at most 72 bytes")
	// ErrInvalidUserName means the name is empty, too long, has control
	// characters or '/', or is . or .. (path steps in URLs).
	ErrInvalidUserName = errors.New("a user name has 1 to 100 characters, without control characters or '/', and is not . or ..")
	// ErrInvalidRole means the role is not one of the four.
	ErrInvalidRole = errors.New("role: want READ, WRITE, ADMIN or SYSTEM_ADMIN")
	// ErrUserExists means a user to create exists already.
	ErrUserExists = errors.New("a user of this name exists already")
	// ErrNoPassword means the user signs in through an OpenID Connect
	// provider and cannot be given a password.
	ErrNoPassword = errors.New("this user signs in with an OpenID Connect provider and has no password")
)

// IsInputError reports whether err is about the administrator's input to
// Save or Delete (and not a failure of the store).
func IsInputError(err error) bool {
	for _, e := range []error{ErrUserReadOnly, ErrUserExists, ErrPasswordRequired, ErrPasswordTooShort, ErrPasswordTooLong, ErrInvalidUserName, ErrInvalidRole, ErrNoPassword} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Change is an administrator's change to a stored user.
type Change struct {
	// Password, when not empty, replaces the password; a new user needs one.
	Password string
	Role     scope.Scope
	Disabled bool
	// Create refuses to change an existing user (ErrUserExists).
	Create bool
}

// Saved is what Save did.
type Saved struct {
	// User is the user as stored now.
	User store.User
	// Created is whether the user is new.
	Created bool
	// SignedOut is whether the change (a new password, role, disabling or
	// enabling) replaced the user's sign-in stamp, which ends every
	// session of the user.
	SignedOut bool
}

// errNoSubject means a user about to be created has no new subject yet.
var errNoSubject = errors.New("the new user has no subject yet")

// errNothingToStore means a sign-in leaves nothing to store.
var errNothingToStore = errors.New("nothing to store")

// Declared reports whether name is a user declared in the configuration.
func (d *Directory) Declared(name string) bool {
	_, ok := d.config[name]
	return ok
}

// Stored returns the stored user name as it is kept, users declared in
// the configuration aside; store.ErrNotFound when there is none.
func (d *Directory) Stored(ctx context.Context, name string) (store.User, error) {
	if d.Declared(name) {
		return store.User{}, fmt.Errorf("user %q is declared in the configuration: %w", name, store.ErrNotFound)
	}
	return d.store.GetUser(ctx, name)
}

// ListStored returns the stored users ordered by name.
func (d *Directory) ListStored(ctx context.Context) ([]store.User, error) {
	return d.store.ListUsers(ctx)
}

// Save creates or updates the stored user name as an administrator asks,
// hashing a new password with bcrypt. The user is read, changed and
// written in one atomic step (store.UpdateUser), so that concurrent
// changes, from this gateway or another sharing the store, are not lost.
// A new user gets a new subject, never one of an earlier user of the same
// name, and a sign-in stamp; a new password, a role change, disabling or
// enabling replace the stamp (Saved.SignedOut).
func (d *Directory) Save(ctx context.Context, name string, c Change, now time.Time) (Saved, error) {
	if err := checkUserName(name); err != nil {
		return Saved{}, err
	}
	if d.Declared(name) {
		return Saved{}, ErrUserReadOnly
	}
	if c.Role < scope.Read || c.Role > scope.SystemAdmin {
		return Saved{}, ErrInvalidRole
	}
	// Checked before the password is hashed, and again on the version
	// the update reads.
	cur, err := d.store.GetUser(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Saved{}, err
	}
	if err := c.check(cur, err == nil); err != nil {
		return Saved{}, err
	}
	var hash string
	if c.Password != "" {
		if len([]rune(c.Password)) < MinPasswordLength {
			return Saved{}, ErrPasswordTooShort
		}
		if len(c.Password) > 72 {
			return Saved{}, ErrPasswordTooLong
		}
		h, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.DefaultCost)
		if err != nil {
			return Saved{}, fmt.Errorf("hashing the password: %w", err)
		}
		hash = string(h)
	}
	now = now.UTC()
	var signedOut bool
	u, created, err := d.update(ctx, name, now, func(u *store.User, exists bool) error {
		if err := c.check(*u, exists); err != nil {
			return err
		}
		if !exists {
			u.CreatedAt = now
		}
		if hash != "" {
			u.PasswordHash = hash
		}
		signedOut = exists && (c.Password != "" || u.Role != c.Role.String() || u.Disabled != c.Disabled)
		if !exists || signedOut {
			u.Stamp = NewStamp()
		}
		u.Role, u.Disabled, u.UpdatedAt = c.Role.String(), c.Disabled, now
		return nil
	})
	if err != nil {
		return Saved{}, err
	}
	return Saved{User: u, Created: created, SignedOut: signedOut}, nil
}

// check returns the error of c, if any, for the stored user u (exists
// false when there is none).
func (c Change) check(u store.User, exists bool) error {
	switch {
	case c.Create && exists:
		return ErrUserExists
	case !exists && c.Password == "":
		return ErrPasswordRequired
	case c.Password != "" && u.Provider != "":
		return ErrNoPassword
	}
	return nil
}

// Delete removes the stored user name; a missing one is not an error.
// Its grants, connections, sessions and subject are the caller's to end.
func (d *Directory) Delete(ctx context.Context, name string) error {
	if d.Declared(name) {
		return ErrUserReadOnly
	}
	return d.store.DeleteUser(ctx, name)
}

// saveSignIn creates or updates the stored user of a sign-in through the
// OpenID Connect provider issuer (named providerName for people), whose
// subject for the account is subject, and reports whether the user's role
// changed. A role of None (the provider gives the account no role any
// more) is stored too, so the user's sessions and tokens stop working at
// once; a new user without a role is not stored. The sign-in is refused
// (a refusal) for a name declared in the configuration, a user of another
// provider or of another account of this one, and a user disabled here.
func (d *Directory) saveSignIn(ctx context.Context, issuer, providerName, name, subject string, role scope.Scope, now time.Time) (bool, error) {
	if d.Declared(name) {
		return false, refusal{fmt.Sprintf("A local user named %s exists; the provider's account cannot take its place.", name)}
	}
	now = now.UTC()
	var changed bool
	_, _, err := d.update(ctx, name, now, func(u *store.User, exists bool) error {
		switch {
		case !exists && role == scope.None:
			return errNothingToStore
		case !exists:
			u.Provider, u.Subject, u.CreatedAt = issuer, subject, now
		case u.Provider != issuer:
			return refusal{fmt.Sprintf("The user %s belongs to another sign-in method.", name)}
		case u.Subject != "" && u.Subject != subject:
			return refusal{fmt.Sprintf("Another account of %s already signs in here as %s.", providerName, name)}
		case u.Disabled:
			return refusal{"Your account is disabled on this gateway."}
		}
		changed = u.Role != role.String()
		u.Role, u.UpdatedAt = role.String(), now
		return nil
	})
	if errors.Is(err, errNothingToStore) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storing user: %w", err)
	}
	return changed, nil
}

// update runs fn on the stored user name through store.UpdateUser and
// reports whether it created the user. A user it creates gets a new
// subject first, before it exists, so that nobody sees another subject
// for it (such as one an earlier user of the same name left behind): when
// fn would create the user, the update is abandoned, the subject stored
// and the update run again.
func (d *Directory) update(ctx context.Context, name string, now time.Time, fn func(u *store.User, exists bool) error) (store.User, bool, error) {
	hasSubject := false
	for {
		var created bool
		u, err := d.store.UpdateUser(ctx, name, func(u *store.User, exists bool) error {
			created = !exists
			if err := fn(u, exists); err != nil {
				return err
			}
			if created && !hasSubject {
				return errNoSubject
			}
			return nil
		})
		if errors.Is(err, errNoSubject) && !hasSubject {
			if err := d.subjectForNewUser(ctx, name, now); err != nil {
				return store.User{}, false, err
			}
			hasSubject = true
			continue
		}
		if err != nil {
			return store.User{}, false, err
		}
		return u, created, nil
	}
}

// checkUserName returns ErrInvalidUserName unless name may name a stored
// user.
func checkUserName(name string) error {
	if strings.TrimSpace(name) == "" || name == "." || name == ".." || len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '/' }) {
		return ErrInvalidUserName
	}
	return nil
}
