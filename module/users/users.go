// Package users holds the gateway's users (declared in the configuration or
// stored at runtime), checks their passwords and roles, and runs sign-in
// sessions with anti-CSRF tokens; each user has a stable opaque subject
// for the applications they sign in to.
package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/applinks/caddy-applinks/module/ratelimit"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// Errors of the directory.
var (
	// ErrBadCredentials means the user is unknown or the password is wrong.
	ErrBadCredentials = errors.New("unknown user or wrong password")
	// ErrDisabled means the user exists but may not sign in or hold tokens.
	ErrDisabled = errors.New("user is disabled")
	// ErrBusy means too many passwords are being checked at once; the
	// caller may try again shortly.
	ErrBusy = errors.New("too many sign-ins at once")
)

// ConfigUser declares a local user in the configuration.
type ConfigUser struct {
	// Name is the user name typed at sign-in; it identifies the user in
	// grants and in X-Forwarded-User.
	Name string `json:"name"`
	// Password is a bcrypt hash, as printed by `caddy hash-password`.
	Password string `json:"password"`
	// Role is READ, WRITE, ADMIN or SYSTEM_ADMIN. Default: READ.
	Role string `json:"role,omitempty"`
}

// User is a user as the gateway sees it.
type User struct {
	Name     string
	Role     scope.Scope
	Disabled bool
	// Source is "config" or "runtime".
	Source string
	// Since is when a stored user was created; sessions older than that
	// belonged to an earlier user of the same name. Zero for Caddyfile
	// users.
	Since time.Time
	hash  []byte
	// stamp changes with the password, role or disabled state; sessions
	// started under another stamp have ended.
	stamp string
}

// DirectoryStore is what a Directory keeps in the store: runtime users and
// every user's subject.
type DirectoryStore interface {
	store.UserStore
	store.SubjectStore
}

// Directory finds users.
type Directory struct {
	config map[string]User
	store  DirectoryStore
	// dummy is hashed against when the user is unknown, so that a wrong
	// name takes as long as a wrong password.
	dummy []byte
	// checks bounds concurrent password checks, so a sign-in flood leaves
	// CPU to the token endpoint and the guard.
	checks *ratelimit.Gate
}

// NewDirectory returns a directory of the declared users and those in st;
// checks bounds how many passwords Authenticate checks at once.
func NewDirectory(st DirectoryStore, declared []ConfigUser, checks *ratelimit.Gate) (*Directory, error) {
	d := &Directory{config: map[string]User{}, store: st, checks: checks}
	for _, c := range declared {
		if err := c.Check(); err != nil {
			return nil, err
		}
		if _, dup := d.config[c.Name]; dup {
			return nil, fmt.Errorf("user %q declared twice", c.Name)
		}
		cost, err := bcrypt.Cost([]byte(c.Password))
		if err != nil {
			return nil, fmt.Errorf("user %q: the password must be a bcrypt hash, as `caddy hash-password` prints it: %w", c.Name, err)
		}
		role := scope.Read
		if c.Role != "" {
			role, _ = scope.Parse(c.Role) // checked
		}
		d.config[c.Name] = User{Name: c.Name, Role: role, Source: "config", hash: []byte(c.Password), stamp: configStamp(c.Password, role)}
		if d.dummy == nil {
			d.dummy, _ = bcrypt.GenerateFromPassword([]byte("applinks-dummy-password"), cost)
		}
	}
	if d.dummy == nil {
		d.dummy, _ = bcrypt.GenerateFromPassword([]byte("applinks-dummy-password"), bcrypt.DefaultCost)
	}
	return d, nil
}

// Get returns the user with the given name.
func (d *Directory) Get(ctx context.Context, name string) (User, error) {
	if u, ok := d.config[name]; ok {
		return u, nil
	}
	su, err := d.store.GetUser(ctx, name)
	if err != nil {
		return User{}, err
	}
	var role scope.Scope // None: the user's provider gives it no role now
	if err := role.UnmarshalText([]byte(su.Role)); err != nil {
		return User{}, fmt.Errorf("stored user %q: %w", name, err)
	}
	return User{Name: su.Name, Role: role, Disabled: su.Disabled, Source: "runtime", Since: su.CreatedAt, hash: []byte(su.PasswordHash), stamp: su.Stamp}, nil
}

// Authenticate checks a name and password; a wrong name costs as much time
// as a wrong password. It waits for room among the concurrent password
// checks; ErrBusy when there is none soon, or the context's error when the
// request ends first.
func (d *Directory) Authenticate(ctx context.Context, name, password string) (User, error) {
	release, err := d.checks.Enter(ctx)
	if errors.Is(err, ratelimit.ErrBusy) {
		return User{}, ErrBusy
	}
	if err != nil {
		return User{}, fmt.Errorf("checking password: %w", err)
	}
	defer release()
	u, err := d.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && len(u.hash) == 0) {
		_ = bcrypt.CompareHashAndPassword(d.dummy, []byte(password))
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, err
	}
	if bcrypt.CompareHashAndPassword(u.hash, []byte(password)) != nil {
		return User{}, ErrBadCredentials
	}
	if u.Disabled {
		return User{}, ErrDisabled
	}
	return u, nil
}

// Role returns the current role of the enabled user who authorized
// something at authorizedAt; ErrDisabled or store.ErrNotFound otherwise,
// also ErrNotFound when the user of that name was created after
// authorizedAt: a user deleted and created again does not inherit what
// the earlier one authorized.
func (d *Directory) Role(ctx context.Context, name string, authorizedAt time.Time) (scope.Scope, error) {
	u, err := d.Get(ctx, name)
	if err != nil {
		return scope.None, err
	}
	if authorizedAt.Before(u.Since) {
		return scope.None, store.ErrNotFound
	}
	if u.Disabled || u.Role == scope.None {
		return scope.None, ErrDisabled
	}
	return u.Role, nil
}

// NewStamp returns a random sign-in stamp for a stored user (see
// store.User.Stamp).
func NewStamp() string { return rand.Text() }

// configStamp is the sign-in stamp of a user declared in the configuration:
// it changes when the password hash or the role is changed there, which
// ends the user's sessions.
func configStamp(passwordHash string, role scope.Scope) string {
	sum := sha256.Sum256([]byte("applinks config user\x00" + passwordHash + "\x00" + role.String()))
	return "cfg-" + hex.EncodeToString(sum[:12])
}
