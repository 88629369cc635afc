package applinks

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/users"
)

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
	stored, err := a.users.ListStored(ctx)
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

// SaveUser creates or updates the stored user name (see
// users.Directory.Save). A role change or disabling is felt on the next
// request of every token of the user; a new password, a role change,
// disabling or enabling ends every session of the user (a sign-in that
// checked the old password while the change was made included).
func (a *App) SaveUser(ctx context.Context, name string, c users.Change, by string) (store.User, bool, error) {
	saved, err := a.users.Save(ctx, name, c, time.Now())
	if err != nil {
		return store.User{}, false, err
	}
	a.epoch.Bump()
	ended := 0
	if saved.SignedOut {
		// The new stamp has ended the sessions already; this removes them.
		if ended, err = a.sessions.EndAll(ctx, name); err != nil {
			return store.User{}, false, err
		}
	}
	u := saved.User
	a.audit.Info("user saved", zap.String("user", name), zap.String("role", u.Role), zap.Bool("disabled", u.Disabled), zap.Bool("password_changed", c.Password != ""), zap.Int("sessions_ended", ended), zap.String("by", by))
	return u, saved.Created, nil
}

// DeleteUser removes a stored user with everything that is theirs: grants
// (and so tokens), outgoing connections, sessions and the subject are
// deleted. A later user of the same name inherits none of them: not a
// session (see also users.User.Since) and not the subject.
func (a *App) DeleteUser(ctx context.Context, name, by string) error {
	if a.users.Declared(name) {
		return users.ErrUserReadOnly
	}
	if _, err := a.grants.RevokeUser(ctx, name, by); err != nil {
		return err
	}
	if _, err := a.outgoing.DisconnectUser(ctx, name, by); err != nil {
		return err
	}
	if err := a.users.Delete(ctx, name); err != nil {
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
