package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// sessionColumns are the columns of sessions, in the order of
// sessionDest.
const sessionColumns = "hash, user_id, stamp, created_at, expires_at"

// CreateSession stores a session until sess.ExpiresAt; an existing
// session of the same hash is replaced.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (hash) DO UPDATE SET user_id = EXCLUDED.user_id, stamp = EXCLUDED.stamp,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
		sess.Hash, sess.UserID, sess.Stamp, sess.CreatedAt, sess.ExpiresAt)
	if err != nil {
		return failed(err, "creating session")
	}
	return nil
}

// GetSession returns the live session with the given hash.
func (s *Store) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	var sess store.Session
	err := s.pool.QueryRow(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE hash = $1 AND expires_at > $2", hash, s.now()).
		Scan(sessionDest(&sess)...)
	if err != nil {
		return store.Session{}, failed(err, "getting session")
	}
	return sess, nil
}

// DeleteSession removes a session; a missing one is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM sessions WHERE hash = $1", hash); err != nil {
		return failed(err, "deleting session")
	}
	return nil
}

// DeleteUserSessions removes every session of one user, expired ones
// included, and returns how many live ones there were.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `WITH d AS (DELETE FROM sessions WHERE user_id = $1 RETURNING expires_at)
		SELECT count(*) FROM d WHERE expires_at > $2`, userID, s.now()).Scan(&n)
	if err != nil {
		return 0, failed(err, "deleting sessions of user "+strconv.Quote(userID))
	}
	return n, nil
}

// userColumns are the columns of users, in the order of userDest and
// userArgs.
const userColumns = "name, password_hash, role, disabled, provider, subject, stamp, created_at, updated_at"

// upsertUser creates or replaces a user.
const upsertUser = `INSERT INTO users (` + userColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role,
		disabled = EXCLUDED.disabled, provider = EXCLUDED.provider, subject = EXCLUDED.subject,
		stamp = EXCLUDED.stamp, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`

// PutUser creates or replaces a user.
func (s *Store) PutUser(ctx context.Context, u store.User) error {
	if u.Name == "" {
		return errors.New("putting user: empty name")
	}
	if _, err := s.pool.Exec(ctx, upsertUser, userArgs(u)...); err != nil {
		return failed(err, "putting user "+strconv.Quote(u.Name))
	}
	return nil
}

// GetUser returns the user with the given name.
func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	var u store.User
	err := s.pool.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = $1", name).Scan(userDest(&u)...)
	if err != nil {
		return store.User{}, failed(err, "getting user "+strconv.Quote(name))
	}
	return u, nil
}

// UpdateUser runs fn on the stored user, or on a new one, and saves the
// result in one transaction that holds the user's row lock. When two
// updates create one user at once, the second runs again on what the
// first created.
func (s *Store) UpdateUser(ctx context.Context, name string, fn func(*store.User, bool) error) (store.User, error) {
	if name == "" {
		return store.User{}, errors.New("updating user: empty name")
	}
	var updated store.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var u store.User
		err := tx.QueryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = $1 FOR UPDATE", name).Scan(userDest(&u)...)
		exists := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if !exists {
			u = store.User{Name: name}
		}
		if err := fn(&u, exists); err != nil {
			return updaterError{err}
		}
		if u.Name != name {
			return fmt.Errorf("updater changed the name to %q", u.Name)
		}
		if exists {
			_, err = tx.Exec(ctx, upsertUser, userArgs(u)...)
			if err != nil {
				return err
			}
		} else {
			tag, err := tx.Exec(ctx, "INSERT INTO users ("+userColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING", userArgs(u)...)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return errRetry
			}
		}
		updated = u
		return nil
	})
	if err != nil {
		return store.User{}, failed(err, "updating user "+strconv.Quote(name))
	}
	return updated, nil
}

// ListUsers returns all stored users ordered by name (byte-wise).
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userColumns+" FROM users ORDER BY name")
	users, err := collect(rows, err, userDest)
	if err != nil {
		return nil, failed(err, "listing users")
	}
	return users, nil
}

// DeleteUser removes a user; a missing one is not an error.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM users WHERE name = $1", name); err != nil {
		return failed(err, "deleting user "+strconv.Quote(name))
	}
	return nil
}

// sessionDest returns the scan targets of sessionColumns.
func sessionDest(sess *store.Session) []any {
	return []any{&sess.Hash, &sess.UserID, &sess.Stamp, &sess.CreatedAt, &sess.ExpiresAt}
}

// userDest returns the scan targets of userColumns.
func userDest(u *store.User) []any {
	return []any{&u.Name, &u.PasswordHash, &u.Role, &u.Disabled, &u.Provider, &u.Subject, &u.Stamp, &u.CreatedAt, &u.UpdatedAt}
}

// userArgs returns the values of userColumns.
func userArgs(u store.User) []any {
	return []any{u.Name, u.PasswordHash, u.Role, u.Disabled, u.Provider, u.Subject, u.Stamp, u.CreatedAt, u.UpdatedAt}
}
