package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/applinks/caddy-applinks/module/store"
)

// Columns of codes, grants (as g) and tokens (as t), in the order of the
// dest and args functions below.
const (
	codeColumns = `hash, link_id, client_id, user_id, redirect_uri, scope, code_challenge,
	code_challenge_method, nonce, oidc_scopes, auth_time, created_at, expires_at, grant_id, resource`
	grantColumns = `g.id, g.link_id, g.client_id, g.user_id, g.scope, g.oidc_scopes, g.auth_time,
	g.generation, g.created_at, g.updated_at, g.expires_at, g.resource`
	tokenColumns = `t.hash, t.kind, t.grant_id, t.generation, t.scope, t.issued_at, t.expires_at,
	t.keep_until, t.used_at, t.access_hash, t.sealed_child, t.sealed_secret`
)

// selectTokenAndGrant reads the token with hash $1 and its grant, both
// live at $2.
const selectTokenAndGrant = `SELECT ` + tokenColumns + `, ` + grantColumns + `
FROM tokens t JOIN grants g ON g.id = t.grant_id
WHERE t.hash = $1 AND t.expiry > $2 AND (g.expires_at IS NULL OR g.expires_at > $2)`

// Writes of codes, grants and tokens, which replace a record of the same
// key as Badger's writes do.
const (
	upsertCode = `INSERT INTO codes (` + codeColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
	ON CONFLICT (hash) DO UPDATE SET link_id = EXCLUDED.link_id, client_id = EXCLUDED.client_id,
		user_id = EXCLUDED.user_id, redirect_uri = EXCLUDED.redirect_uri, scope = EXCLUDED.scope,
		code_challenge = EXCLUDED.code_challenge, code_challenge_method = EXCLUDED.code_challenge_method,
		nonce = EXCLUDED.nonce, oidc_scopes = EXCLUDED.oidc_scopes, auth_time = EXCLUDED.auth_time,
		created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, grant_id = EXCLUDED.grant_id,
		resource = EXCLUDED.resource`
	upsertGrant = `INSERT INTO grants (id, link_id, client_id, user_id, scope, oidc_scopes, auth_time,
		generation, created_at, updated_at, expires_at, resource)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	ON CONFLICT (id) DO UPDATE SET link_id = EXCLUDED.link_id, client_id = EXCLUDED.client_id,
		user_id = EXCLUDED.user_id, scope = EXCLUDED.scope, oidc_scopes = EXCLUDED.oidc_scopes,
		auth_time = EXCLUDED.auth_time, generation = EXCLUDED.generation, created_at = EXCLUDED.created_at,
		updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at, resource = EXCLUDED.resource`
	upsertToken = `INSERT INTO tokens (hash, kind, grant_id, generation, scope, issued_at, expires_at,
		keep_until, used_at, access_hash, sealed_child, sealed_secret)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	ON CONFLICT (hash) DO UPDATE SET kind = EXCLUDED.kind, grant_id = EXCLUDED.grant_id,
		generation = EXCLUDED.generation, scope = EXCLUDED.scope, issued_at = EXCLUDED.issued_at,
		expires_at = EXCLUDED.expires_at, keep_until = EXCLUDED.keep_until, used_at = EXCLUDED.used_at,
		access_hash = EXCLUDED.access_hash, sealed_child = EXCLUDED.sealed_child, sealed_secret = EXCLUDED.sealed_secret`
	updateToken = `UPDATE tokens SET kind = $2, grant_id = $3, generation = $4, scope = $5, issued_at = $6,
		expires_at = $7, keep_until = $8, used_at = $9, access_hash = $10, sealed_child = $11, sealed_secret = $12
	WHERE hash = $1`
)

// CreateCode stores a new authorization code until c.ExpiresAt; an
// existing code of the same hash is replaced.
func (s *Store) CreateCode(ctx context.Context, c store.Code) error {
	if _, err := s.pool.Exec(ctx, upsertCode, codeArgs(c)...); err != nil {
		return failed(err, "creating code")
	}
	return nil
}

// RedeemCode locks the live code with the given hash and calls fn with it.
// The code (its GrantID set to the new grant's id), the grant, the tokens
// and the deletions of the Issue are committed in one transaction; nothing
// is written when fn fails, and fn's error is returned unchanged.
// Concurrent redemptions of one code wait for the lock, so fn sees the
// code as the one before left it.
func (s *Store) RedeemCode(ctx context.Context, codeHash []byte, fn func(store.Code) (store.Issue, error)) (store.Issue, error) {
	var (
		c     store.Code
		issue store.Issue
	)
	err := s.update(ctx, func(b *pgx.Batch) {
		b.Queue("SELECT "+codeColumns+" FROM codes WHERE hash = $1 AND expires_at > $2 FOR UPDATE", codeHash, s.now()).
			QueryRow(func(row pgx.Row) error {
				c = store.Code{}
				return row.Scan(codeDest(&c)...)
			})
	}, func(b *pgx.Batch) error {
		iss, err := fn(c)
		if err != nil {
			return updaterError{err}
		}
		if iss.Grant.ID == "" {
			return errors.New("the issue has no grant id")
		}
		b.Queue("UPDATE codes SET grant_id = $2 WHERE hash = $1", codeHash, iss.Grant.ID)
		queueIssue(b, iss)
		issue = iss
		return nil
	})
	if err != nil {
		return store.Issue{}, failed(err, "redeeming code")
	}
	return issue, nil
}

// RotateRefresh locks the live refresh token with the given hash and its
// live grant and calls fn. The token as fn left it, the deletions, the
// tokens and the grant of the Issue (whose id must be the token's grant
// id) are committed in one transaction; nothing is written when fn fails,
// and fn's error is returned unchanged. store.ErrNotFound, without calling
// fn, when the token or its grant is gone. Concurrent rotations of one
// token wait for the lock, so fn sees what the one before left.
func (s *Store) RotateRefresh(ctx context.Context, refreshHash []byte, fn func(*store.Grant, *store.Token) (store.Issue, error)) (store.Issue, error) {
	var (
		tok   store.Token
		g     store.Grant
		issue store.Issue
	)
	err := s.update(ctx, func(b *pgx.Batch) {
		b.Queue(selectTokenAndGrant+" FOR UPDATE", refreshHash, s.now()).QueryRow(func(row pgx.Row) error {
			tok, g = store.Token{}, store.Grant{}
			return row.Scan(append(tokenDest(&tok), grantDest(&g)...)...)
		})
	}, func(b *pgx.Batch) error {
		grantID := g.ID
		iss, err := fn(&g, &tok)
		if err != nil {
			return updaterError{err}
		}
		if iss.Grant.ID != grantID {
			return fmt.Errorf("the issue's grant id %q is not the token's %q", iss.Grant.ID, grantID)
		}
		args := tokenArgs(tok)
		args[0] = refreshHash
		b.Queue(updateToken, args...)
		queueIssue(b, iss)
		issue = iss
		return nil
	})
	if err != nil {
		return store.Issue{}, failed(err, "rotating refresh token")
	}
	return issue, nil
}

// LookupToken returns the live token with the given hash and its live
// grant; store.ErrNotFound when either is gone.
func (s *Store) LookupToken(ctx context.Context, hash []byte) (store.Token, store.Grant, error) {
	var (
		tok store.Token
		g   store.Grant
	)
	err := s.pool.QueryRow(ctx, selectTokenAndGrant, hash, s.now()).Scan(append(tokenDest(&tok), grantDest(&g)...)...)
	if err != nil {
		return store.Token{}, store.Grant{}, failed(err, "looking up token")
	}
	return tok, g, nil
}

// GetGrant returns the live grant with the given id.
func (s *Store) GetGrant(ctx context.Context, id string) (store.Grant, error) {
	var g store.Grant
	err := s.pool.QueryRow(ctx, "SELECT "+grantColumns+" FROM grants g WHERE g.id = $1 AND "+liveGrant("$2"), id, s.now()).
		Scan(grantDest(&g)...)
	if err != nil {
		return store.Grant{}, failed(err, "getting grant "+strconv.Quote(id))
	}
	return g, nil
}

// ListGrants returns the live grants of one user (filter.UserID set), of
// one link (filter.LinkID set), of one user through one link (both set),
// or all of them (both empty), ordered by id. Each filter reads an index.
func (s *Store) ListGrants(ctx context.Context, filter store.GrantFilter) ([]store.Grant, error) {
	// One statement per filter, rather than conditions on empty
	// parameters, so that each prepared statement has a plan that uses
	// its index.
	args := []any{s.now()}
	where := []string{liveGrant("$1")}
	if filter.UserID != "" {
		args = append(args, filter.UserID)
		where = append(where, "g.user_id = $"+strconv.Itoa(len(args)))
	}
	if filter.LinkID != "" {
		args = append(args, filter.LinkID)
		where = append(where, "g.link_id = $"+strconv.Itoa(len(args)))
	}
	rows, err := s.pool.Query(ctx, "SELECT "+grantColumns+" FROM grants g WHERE "+
		strings.Join(where, " AND ")+" ORDER BY g.id", args...)
	grants, err := collect(rows, err, grantDest)
	if err != nil {
		return nil, failed(err, "listing grants")
	}
	return grants, nil
}

// DeleteGrant removes a grant and, through the foreign key, its tokens.
// Deleting a grant that is already gone is not an error. It locks the
// grant before its tokens, a rotation the other way round, so when the two
// deadlock and PostgreSQL aborts the deletion, it runs again.
func (s *Store) DeleteGrant(ctx context.Context, id string) error {
	err := s.retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, "DELETE FROM grants WHERE id = $1", id)
		return err
	})
	if err != nil {
		return failed(err, "deleting grant "+strconv.Quote(id))
	}
	return nil
}

// liveGrant is the condition that grant g has not expired at the time
// in parameter p.
func liveGrant(p string) string {
	return "(g.expires_at IS NULL OR g.expires_at > " + p + ")"
}

// queueIssue queues the writes of an Issue: the deletions, the grant and
// then its tokens.
func queueIssue(b *pgx.Batch, iss store.Issue) {
	if len(iss.Delete) > 0 {
		b.Queue("DELETE FROM tokens WHERE hash = ANY($1)", iss.Delete)
	}
	b.Queue(upsertGrant, grantArgs(iss.Grant)...)
	for _, t := range iss.Tokens {
		b.Queue(upsertToken, tokenArgs(t)...)
	}
}

// codeDest returns the scan targets of codeColumns.
func codeDest(c *store.Code) []any {
	return []any{&c.Hash, &c.LinkID, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Scope, &c.CodeChallenge,
		&c.CodeChallengeMethod, &c.Nonce, &c.OIDCScopes, (*nullTime)(&c.AuthTime), &c.CreatedAt, &c.ExpiresAt, &c.GrantID, &c.Resource}
}

// codeArgs returns the values of codeColumns.
func codeArgs(c store.Code) []any {
	return []any{c.Hash, c.LinkID, c.ClientID, c.UserID, c.RedirectURI, c.Scope, c.CodeChallenge,
		c.CodeChallengeMethod, c.Nonce, c.OIDCScopes, nullTime(c.AuthTime), c.CreatedAt, c.ExpiresAt, c.GrantID, c.Resource}
}

// grantDest returns the scan targets of grantColumns.
func grantDest(g *store.Grant) []any {
	return []any{&g.ID, &g.LinkID, &g.ClientID, &g.UserID, &g.Scope, &g.OIDCScopes, (*nullTime)(&g.AuthTime),
		&g.Generation, &g.CreatedAt, &g.UpdatedAt, (*nullTime)(&g.ExpiresAt), &g.Resource}
}

// grantArgs returns the values of grantColumns.
func grantArgs(g store.Grant) []any {
	return []any{g.ID, g.LinkID, g.ClientID, g.UserID, g.Scope, g.OIDCScopes, nullTime(g.AuthTime),
		g.Generation, g.CreatedAt, g.UpdatedAt, nullTime(g.ExpiresAt), g.Resource}
}

// tokenDest returns the scan targets of tokenColumns.
func tokenDest(t *store.Token) []any {
	return []any{&t.Hash, &t.Kind, &t.GrantID, &t.Generation, &t.Scope, &t.IssuedAt, &t.ExpiresAt,
		(*nullTime)(&t.KeepUntil), (*nullTime)(&t.UsedAt), &t.AccessHash, &t.SealedChild, &t.SealedSecret}
}

// tokenArgs returns the values of tokenColumns.
func tokenArgs(t store.Token) []any {
	return []any{t.Hash, string(t.Kind), t.GrantID, t.Generation, t.Scope, t.IssuedAt, t.ExpiresAt,
		nullTime(t.KeepUntil), nullTime(t.UsedAt), t.AccessHash, t.SealedChild, t.SealedSecret}
}
