package applinks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

// MinPasswordLength is the shortest password an administrator may set.
const MinPasswordLength = 8

// Errors of SaveUser, each about one field of the change; IsUserInputError
// tells them from failures of the store.
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

// UserChange is an administrator's change to a stored user.
type UserChange struct {
	// Password, when not empty, replaces the password; a new user needs one.
	Password string
	Role     scope.Scope
	Disabled bool
	// Create refuses to change an existing user (ErrUserExists).
	Create bool
}

// ConfigUser reports whether name is a user declared in the configuration.
func (a *App) ConfigUser(name string) bool {
	return slices.ContainsFunc(a.LocalUsers, func(c users.ConfigUser) bool { return c.Name == name })
}

// UserEntry is a user as administrators see it: never a password hash.
type UserEntry struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled,omitempty"`
	// Source is "config" (the Caddyfile), "runtime" (a local user stored
	// by an administrator) or "oidc" (signs in through a provider).
	Source string `json:"source"`
	// Provider is the issuer an "oidc" user signs in with.
	Provider string `json:"-"`
}

// ListUsers returns the users declared in the configuration, then the
// stored ones by name.
func (a *App) ListUsers(ctx context.Context) ([]UserEntry, error) {
	out := []UserEntry{}
	for _, c := range a.LocalUsers {
		u, err := a.users.Get(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, UserEntry{Name: u.Name, Role: u.Role.String(), Disabled: u.Disabled, Source: "config"})
	}
	stored, err := a.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range stored {
		e := UserEntry{Name: u.Name, Role: u.Role, Disabled: u.Disabled, Source: "runtime"}
		if u.Provider != "" {
			e.Source, e.Provider = "oidc", u.Provider
		}
		out = append(out, e)
	}
	return out, nil
}

// SaveUser creates or updates the stored user name, hashing its password
// with bcrypt. A role change or disabling is felt on the next request of
// every token of the user; a new password, a role change, disabling or
// enabling ends every session of the user (a sign-in that checked the old
// password while the change was made included). A new user gets a new
// subject, never one of an earlier user of the same name.
func (a *App) SaveUser(ctx context.Context, name string, c UserChange, by string) (u store.User, created bool, err error) {
	if err := validateUserName(name); err != nil {
		return store.User{}, false, err
	}
	if a.ConfigUser(name) {
		return store.User{}, false, ErrUserReadOnly
	}
	if c.Role < scope.Read || c.Role > scope.SystemAdmin {
		return store.User{}, false, ErrInvalidRole
	}
	a.usersMu.Lock()
	defer a.usersMu.Unlock()
	now := time.Now().UTC()
	u, err = a.store.GetUser(ctx, name)
	created = errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		return store.User{}, false, err
	}
	if c.Create && !created {
		return store.User{}, false, ErrUserExists
	}
	if created {
		u = store.User{Name: name, CreatedAt: now}
		if c.Password == "" {
			return store.User{}, false, ErrPasswordRequired
		}
	}
	if c.Password != "" {
		if u.Provider != "" {
			return store.User{}, false, ErrNoPassword
		}
		if len([]rune(c.Password)) < MinPasswordLength {
			return store.User{}, false, ErrPasswordTooShort
		}
		if len(c.Password) > 72 {
			return store.User{}, false, ErrPasswordTooLong
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.DefaultCost)
		if err != nil {
			return store.User{}, false, fmt.Errorf("hashing the password: %w", err)
		}
		u.PasswordHash = string(hash)
	}
	signedOut := !created && (c.Password != "" || u.Role != c.Role.String() || u.Disabled != c.Disabled)
	if created || signedOut {
		u.Stamp = users.NewStamp()
	}
	u.Role, u.Disabled, u.UpdatedAt = c.Role.String(), c.Disabled, now
	if created {
		// Before the user exists, so that nobody sees another subject
		// first.
		if err := a.users.NewSubject(ctx, name, now); err != nil {
			return store.User{}, false, err
		}
	}
	if err := a.store.PutUser(ctx, u); err != nil {
		return store.User{}, false, err
	}
	a.epoch.Bump()
	ended := 0
	if signedOut {
		// The new stamp has ended the sessions already; this removes them.
		if ended, err = a.sessions.EndAll(ctx, name); err != nil {
			return store.User{}, false, err
		}
	}
	a.audit.Info("user saved", zap.String("user", name), zap.String("role", u.Role), zap.Bool("disabled", u.Disabled), zap.Bool("password_changed", c.Password != ""), zap.Int("sessions_ended", ended), zap.String("by", by))
	return u, created, nil
}

// DeleteUser removes a stored user with everything that is theirs: grants
// (and so tokens), outgoing connections, sessions and the subject are
// deleted. A later user of the same name inherits none of them: not a
// session (see also users.User.Since) and not the subject.
func (a *App) DeleteUser(ctx context.Context, name, by string) error {
	if a.ConfigUser(name) {
		return ErrUserReadOnly
	}
	if _, err := a.RevokeUserGrants(ctx, name, by); err != nil {
		return err
	}
	conns, err := a.store.ListConnections(ctx, store.ConnectionFilter{UserID: name})
	if err != nil {
		return err
	}
	for _, c := range conns {
		if err := a.store.DeleteConnection(ctx, c.LinkID, name); err != nil {
			return err
		}
	}
	if err := a.store.DeleteUser(ctx, name); err != nil {
		return err
	}
	a.epoch.Bump()
	if _, err := a.sessions.EndAll(ctx, name); err != nil {
		return err
	}
	if err := a.users.ForgetSubject(ctx, name); err != nil {
		return err
	}
	a.audit.Info("user deleted", zap.String("user", name), zap.String("by", by))
	return nil
}

// SignOutUser ends every session of a user, declared in the configuration
// or stored, in every browser, and returns how many there were; the user
// can sign in again. store.ErrNotFound when there is no such user.
func (a *App) SignOutUser(ctx context.Context, name, by string) (int, error) {
	if _, err := a.users.Get(ctx, name); err != nil {
		return 0, err
	}
	n, err := a.sessions.EndAll(ctx, name)
	if err != nil {
		return 0, err
	}
	a.audit.Info("user signed out everywhere", zap.String("user", name), zap.Int("sessions_ended", n), zap.String("by", by))
	return n, nil
}

// RevokeUserGrants revokes every grant of a user, with its tokens, and
// returns how many there were.
func (a *App) RevokeUserGrants(ctx context.Context, name, by string) (int, error) {
	gs, err := a.store.ListGrants(ctx, store.GrantFilter{UserID: name})
	if err != nil {
		return 0, err
	}
	for _, g := range gs {
		if err := a.grants.RevokeGrant(ctx, g.ID, by); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	return len(gs), nil
}

func validateUserName(name string) error {
	if strings.TrimSpace(name) == "" || name == "." || name == ".." || len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '/' }) {
		return ErrInvalidUserName
	}
	return nil
}

// IsUserInputError reports whether err is about the administrator's input
// to SaveUser or DeleteUser (and not a failure of the store).
func IsUserInputError(err error) bool {
	for _, e := range []error{ErrUserReadOnly, ErrUserExists, ErrPasswordRequired, ErrPasswordTooShort, ErrPasswordTooLong, ErrInvalidUserName, ErrInvalidRole, ErrNoPassword} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
