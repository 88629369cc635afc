// Package store defines the records the gateway keeps and the interfaces a
// storage backend implements; it imports no database.
//
// Backends live in sub-packages (badgerstore, pgstore) and must pass the
// conformance suite in storetest. Every read-modify-write goes through an
// updater closure that the backend runs atomically, so policy stays in the
// services and the backend only guarantees all-or-nothing writes.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Backend opens a Store. Storage modules in the applinks.storage namespace
// implement it; they release what they opened in Cleanup.
type Backend interface {
	// OpenStore returns the backend's store, shared with other config
	// generations that use the same database.
	OpenStore(ctx context.Context) (Store, error)
	// KeyFile is where a generated at-rest encryption key is kept when no
	// secret_key is configured; empty when the backend cannot keep one.
	KeyFile() string
	// Location names the database for people, e.g. the Badger directory,
	// in messages; it holds no credentials.
	Location() string
}

// Sentinel errors returned by every backend; test them with errors.Is.
var (
	// ErrNotFound means the record does not exist or has expired.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means a record with the same unique key exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means a concurrent writer won; the caller may retry.
	ErrConflict = errors.New("conflicting concurrent update")
	// ErrUnavailable means the database cannot be reached now (a shared
	// backend's server is down or unreachable, or the connection was lost
	// mid-operation, whose outcome is then unknown); it may be retried
	// later.
	ErrUnavailable = errors.New("storage unavailable")
)

// Store is the whole state of one gateway. Backends are safe for
// concurrent use. Updater closures (fn arguments) may run more than once
// when a backend retries after a conflict, so they must not have side
// effects beyond the values they are given; an error returned by fn is
// returned unchanged (errors.Is and errors.As match it). A record may
// outlive its expiry by up to a second (TTL granularity) but is never
// returned when written with an expiry already past.
type Store interface {
	LinkStore
	GrantStore
	SessionStore
	UserStore
	SubjectStore
	KeyStore
	KeyCheckStore
	OutgoingStore
	OAuth1Store
	// GarbageCollect deletes the records whose expiry is before now and
	// returns how many it deleted (a backend that drops expired records
	// by itself, like Badger's TTLs, may report 0). The app runs it
	// periodically; reads never return an expired record, collected or
	// not.
	GarbageCollect(ctx context.Context, now time.Time) (int, error)
}

// LinkStore keeps runtime-created incoming links. Names and client ids are
// unique across links.
type LinkStore interface {
	// CreateLink stores a new link; ErrAlreadyExists when its id, name or
	// client id is taken.
	CreateLink(ctx context.Context, l Link) error
	// GetLink returns the link with the given id.
	GetLink(ctx context.Context, id string) (Link, error)
	// GetLinkByClientID returns the link with the given OAuth client id.
	GetLinkByClientID(ctx context.Context, clientID string) (Link, error)
	// ListLinks returns all links ordered by name.
	ListLinks(ctx context.Context) ([]Link, error)
	// UpdateLink runs fn on the stored link and saves the result atomically;
	// an error from fn aborts without a write. fn must not change the id.
	// Renaming to a taken name or client id gives ErrAlreadyExists.
	UpdateLink(ctx context.Context, id string, fn func(*Link) error) (Link, error)
	// DeleteLink removes the link and every grant issued through it (and so
	// every token of those grants); ErrNotFound when there is no such link.
	// Pending authorization codes of the link stay until they expire: they
	// cannot be redeemed, since the link's client can no longer
	// authenticate.
	DeleteLink(ctx context.Context, id string) error
}

// GrantStore keeps authorization codes, grants and the hashes of the tokens
// issued for them. A token is valid only while its grant exists: deleting a
// grant revokes every token of the family at once.
type GrantStore interface {
	// CreateCode stores a new authorization code until c.ExpiresAt. Codes are
	// random, so an existing hash is simply overwritten.
	CreateCode(ctx context.Context, c Code) error
	// RedeemCode loads the code with the given hash and calls fn with it;
	// fn returns what to issue. The code (marked with the new grant's id),
	// the grant and the tokens are written in one atomic step, or nothing
	// is written when fn fails. Of concurrent redemptions of one code, fn
	// succeeds in at most one; the others see the code already redeemed.
	// Issue.Delete is applied too.
	RedeemCode(ctx context.Context, codeHash []byte, fn func(Code) (Issue, error)) (Issue, error)
	// RotateRefresh loads the refresh token with the given hash and its
	// grant and calls fn, which marks the token used, advances the grant (its
	// id unchanged) and
	// returns the new tokens. The token as fn left it, the grant and tokens
	// of the Issue, and the deletions it lists are written atomically;
	// nothing is written when fn fails. ErrNotFound when the token or its
	// grant is gone.
	RotateRefresh(ctx context.Context, refreshHash []byte, fn func(*Grant, *Token) (Issue, error)) (Issue, error)
	// LookupToken returns the token with the given hash and its grant.
	// ErrNotFound when either is gone. A record is returned until
	// Token.Expiry(); callers judge ExpiresAt and UsedAt with their clock.
	LookupToken(ctx context.Context, hash []byte) (Token, Grant, error)
	// CreateGrant stores a grant issued without a code (client_credentials)
	// with its tokens in one atomic step; grant ids are random, so an
	// existing grant of the id is overwritten. iss.Delete is applied too.
	CreateGrant(ctx context.Context, iss Issue) error
	// GetGrant returns the grant with the given id.
	GetGrant(ctx context.Context, id string) (Grant, error)
	// ListGrants returns the live grants of one user (UserID set), of one
	// link (LinkID set), of one user through one link (both set), or all of
	// them (both empty), in no defined order.
	ListGrants(ctx context.Context, filter GrantFilter) ([]Grant, error)
	// DeleteGrant removes a grant, revoking its whole token family. Deleting
	// a grant that is already gone is not an error.
	DeleteGrant(ctx context.Context, id string) error
}

// SessionStore keeps server-side sign-in sessions, keyed by the hash of the
// session cookie.
type SessionStore interface {
	// CreateSession stores a session until s.ExpiresAt.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the live session with the given hash.
	GetSession(ctx context.Context, hash []byte) (Session, error)
	// DeleteSession removes a session; a missing one is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteUserSessions removes every session of one user (signing them
	// out everywhere) and returns how many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
}

// UserStore keeps users created at runtime (users declared in the
// Caddyfile live in the configuration).
type UserStore interface {
	// PutUser creates or replaces a user.
	PutUser(ctx context.Context, u User) error
	// GetUser returns the user with the given name.
	GetUser(ctx context.Context, name string) (User, error)
	// UpdateUser runs fn on the stored user and saves the result
	// atomically; when there is none, fn gets a User with only Name set
	// and exists false, and the result is created. An error from fn
	// aborts without a write. fn must not change the name.
	UpdateUser(ctx context.Context, name string, fn func(u *User, exists bool) error) (User, error)
	// ListUsers returns all stored users ordered by name.
	ListUsers(ctx context.Context) ([]User, error)
	// DeleteUser removes a user; a missing one is not an error.
	DeleteUser(ctx context.Context, name string) error
}

// SubjectStore keeps each user's subject: the opaque identifier other
// applications know the user by (the OpenID Connect sub claim), which is
// never reassigned to another person. Subjects are kept for users declared
// in the configuration too, so it is not part of UserStore.
type SubjectStore interface {
	// CreateSubject stores the subject of s.UserID; ErrAlreadyExists when
	// the user has one. Of concurrent creations for one user, one wins.
	CreateSubject(ctx context.Context, s Subject) error
	// PutSubject creates or replaces the subject of s.UserID.
	PutSubject(ctx context.Context, s Subject) error
	// GetSubject returns the subject of the user.
	GetSubject(ctx context.Context, userID string) (Subject, error)
	// DeleteSubject removes the subject of the user; a missing one is not
	// an error.
	DeleteSubject(ctx context.Context, userID string) error
}

// KeyStore keeps the gateway's token-signing keys (for OpenID Connect ID
// tokens), sealed by the caller.
type KeyStore interface {
	// PutSigningKey creates or replaces a key; it is kept until ExpiresAt
	// when that is set.
	PutSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns the live keys, newest (by CreatedAt) first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteSigningKey removes a key; a missing one is not an error.
	DeleteSigningKey(ctx context.Context, id string) error
	// UpdateSigningKey runs fn on the stored key and saves the result
	// atomically, kept until its ExpiresAt as PutSigningKey keeps it; an
	// error from fn aborts without a write. ErrNotFound when there is no
	// live key of the id. fn must not change the id; if it does, nothing
	// is written and an error is returned.
	UpdateSigningKey(ctx context.Context, id string, fn func(*SigningKey) error) (SigningKey, error)
}

// KeyCheckStore keeps the record that tells whether the at-rest key in
// use is the one the store's sealed values were sealed with.
type KeyCheckStore interface {
	// CreateKeyCheck stores the key check; ErrAlreadyExists when one is
	// stored already, which CreateKeyCheck never replaces.
	CreateKeyCheck(ctx context.Context, c KeyCheck) error
	// GetKeyCheck returns the key check; ErrNotFound when none is stored.
	GetKeyCheck(ctx context.Context) (KeyCheck, error)
	// UpdateKeyCheck runs fn on the stored key check and saves the result
	// atomically (a rotation of the at-rest key replaces it); an error
	// from fn aborts without a write. ErrNotFound when none is stored.
	UpdateKeyCheck(ctx context.Context, fn func(*KeyCheck) error) (KeyCheck, error)
}

// The kinds of at-rest key a KeyCheck records.
const (
	// KeyKindPassphrase is a key derived from the secret_key option.
	KeyKindPassphrase = "secret_key"
	// KeyKindFile is a random key kept in the backend's key file.
	KeyKindFile = "key_file"
)

// KeyCheck records which at-rest key sealed a store, without the key: a
// MAC of a fixed text under it, and how the key was given.
type KeyCheck struct {
	// Kind is KeyKindPassphrase or KeyKindFile.
	Kind string `json:"kind"`
	// MAC is the MAC by which a key is recognised.
	MAC []byte `json:"mac"`
	// CreatedAt is when the check was recorded: when the store was first
	// sealed, or re-keyed to this key.
	CreatedAt time.Time `json:"created_at"`
	// Retired are the MACs of the keys the store was re-keyed from,
	// newest first; empty when it never was.
	Retired [][]byte `json:"retired,omitempty"`
}

// OutgoingStore keeps the provider tokens of outgoing links, sealed by the
// caller, the authorizations in progress, and the gateway's identity as
// an OAuth 1.0a consumer.
type OutgoingStore interface {
	ConsumerIdentityStore
	// CreatePending stores an outgoing authorization in progress until
	// p.ExpiresAt.
	CreatePending(ctx context.Context, p Pending) error
	// TakePending returns and deletes the pending authorization with the
	// given state hash, so it can be taken once; ErrNotFound when it is
	// missing, taken or expired.
	TakePending(ctx context.Context, stateHash []byte) (Pending, error)
	// PutConnection creates or replaces the connection of (LinkID, UserID).
	PutConnection(ctx context.Context, c Connection) error
	// GetConnection returns the connection of a link for a user ("" for a
	// shared link).
	GetConnection(ctx context.Context, linkID, userID string) (Connection, error)
	// UpdateConnection runs fn on the stored connection and saves the
	// result atomically; an error from fn aborts without a write.
	// ErrNotFound when there is no such connection.
	UpdateConnection(ctx context.Context, linkID, userID string, fn func(*Connection) error) (Connection, error)
	// ListConnections returns the connections of one link (LinkID set), of
	// one user (UserID set), or all (both empty), in no defined order.
	ListConnections(ctx context.Context, filter ConnectionFilter) ([]Connection, error)
	// DeleteConnection removes a connection; a missing one is not an error.
	DeleteConnection(ctx context.Context, linkID, userID string) error
	// CreateOutgoingLink stores a runtime-created outgoing link;
	// ErrAlreadyExists when its name is taken.
	CreateOutgoingLink(ctx context.Context, l OutgoingLink) error
	// GetOutgoingLink returns the outgoing link with the given name.
	GetOutgoingLink(ctx context.Context, name string) (OutgoingLink, error)
	// ListOutgoingLinks returns the runtime outgoing links by name.
	ListOutgoingLinks(ctx context.Context) ([]OutgoingLink, error)
	// UpdateOutgoingLink runs fn on the stored outgoing link and saves the
	// result atomically; an error from fn aborts without a write.
	// ErrNotFound when there is no such link. fn must not change the name;
	// if it does, nothing is written and an error is returned.
	UpdateOutgoingLink(ctx context.Context, name string, fn func(*OutgoingLink) error) (OutgoingLink, error)
	// DeleteOutgoingLink removes an outgoing link and every connection of
	// it in one step; ErrNotFound when there is no such link.
	DeleteOutgoingLink(ctx context.Context, name string) error
}

// OutgoingLink is a runtime-created outgoing link.
type OutgoingLink struct {
	Name string `json:"name"`
	// Provider is the provider module's JSON, with its "provider" key;
	// nil for an OAuth 1.0a link.
	Provider     json.RawMessage `json:"provider,omitempty"`
	ClientID     string          `json:"client_id"`
	SealedSecret []byte          `json:"sealed_secret,omitempty"`
	Scopes       []string        `json:"scopes,omitempty"`
	Mode         string          `json:"mode"`
	// OAuth1 is set on an OAuth 1.0a link, which has no provider, client
	// id or secret.
	OAuth1    *OutgoingOAuth1 `json:"oauth1,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by,omitempty"`
}

// OutgoingOAuth1 is what an OAuth 1.0a outgoing link has instead of a
// provider: the remote product's application URL, and the consumer key it
// knows the gateway by when not the gateway's own (see ConsumerIdentity).
type OutgoingOAuth1 struct {
	ApplicationURL string `json:"application_url"`
	ConsumerKey    string `json:"consumer_key,omitempty"`
}

// Pending is an outgoing authorization in progress: the browser went to
// the provider and the gateway awaits its callback.
type Pending struct {
	StateHash []byte `json:"state_hash"`
	LinkID    string `json:"link_id"`
	// UserID is who connects; empty for a shared link's connection.
	UserID string `json:"user_id,omitempty"`
	// SealedVerifier is the secret the callback needs, sealed: the PKCE
	// code verifier of an OAuth 2.0 link, the request token and its
	// secret of an OAuth 1.0a link.
	SealedVerifier []byte    `json:"sealed_verifier"`
	ReturnTo       string    `json:"return_to,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	ExpiresAt      time.Time `json:"expires_at"`
}

// ConnectionFilter selects connections in ListConnections.
type ConnectionFilter struct {
	LinkID string
	UserID string
}

// Connection is the provider token of an outgoing link for one user (or
// for the link, when shared).
type Connection struct {
	LinkID string `json:"link_id"`
	// UserID is empty for a shared link's connection.
	UserID string `json:"user_id,omitempty"`
	// Sealed is the provider's token (access and refresh token, type,
	// expiry; an OAuth 1.0a link's access token and its secret), sealed.
	Sealed []byte `json:"sealed"`
	// Expiry is when the access token expires; zero when the provider did
	// not say.
	Expiry time.Time `json:"expiry,omitzero"`
	// Status is VALID, RECOVERABLE or UNRECOVERABLE.
	Status string `json:"status"`
	// LastError is why the last refresh failed, for people.
	LastError string `json:"last_error,omitempty"`
	// Failures counts refreshes failed in a row; RetryAt is when to try
	// again.
	Failures   int       `json:"failures,omitempty"`
	RetryAt    time.Time `json:"retry_at,omitzero"`
	Generation uint64    `json:"generation"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// SigningKey is a private key the gateway signs tokens with.
type SigningKey struct {
	// ID is the key id (JWS kid).
	ID string `json:"id"`
	// Algorithm is the JWS algorithm, e.g. ES256 or RS256.
	Algorithm string `json:"algorithm"`
	// Sealed is the PKCS #8 private key, sealed.
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
	// RetiredAt is when the key stopped signing; zero while it signs.
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// ExpiresAt is when the key can be forgotten: after the last token it
	// signed has expired. Zero: never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// GrantFilter selects grants in ListGrants.
type GrantFilter struct {
	UserID string
	LinkID string
}

// Issue is what one token-endpoint call writes: the grant as it is now, the
// tokens to store, and the hashes of tokens to delete.
type Issue struct {
	Grant  Grant
	Tokens []Token
	// Delete holds hashes of tokens to remove in the same step (the access
	// token replaced by a refresh).
	Delete [][]byte
}

// Link is a runtime-created incoming link: an external application that may
// obtain tokens from the gateway.
type Link struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	RedirectURIs []string `json:"redirect_uris"`
	Ceiling      string   `json:"scope"`
	ClientID     string   `json:"client_id"`
	Secrets      []Secret `json:"secrets"`
	RequirePKCE  bool     `json:"require_pkce,omitempty"`
	// Public marks a client without a secret (token_endpoint_auth_method
	// none); it must use PKCE with S256.
	Public bool `json:"public,omitempty"`
	// ServiceUser is the user the link acts as with the client_credentials
	// grant; empty when the link may not use it.
	ServiceUser string `json:"service_user,omitempty"`
	// Registered marks a client that registered itself (RFC 7591) rather
	// than one an administrator created.
	Registered bool `json:"registered,omitempty"`
	// Disabled links can neither authorize nor use their tokens until
	// enabled again.
	Disabled bool `json:"disabled,omitempty"`
	// OAuth1 makes the link an OAuth 1.0a consumer (ClientID its consumer
	// key) instead of an OAuth 2.0 client; nil for an OAuth 2.0 client.
	OAuth1 *OAuth1Consumer `json:"oauth1,omitempty"`
	// LastUsedAt is when tokens were last issued to the link, kept to the
	// day; zero when never.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	CreatedBy  string    `json:"created_by,omitempty"`
}

// Secret is one client secret of a link, sealed (encrypted) at rest.
type Secret struct {
	Sealed    []byte    `json:"sealed"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for the current secret and set for a rotated-out
	// secret that is still accepted during the overlap.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Code is an authorization code awaiting redemption, or redeemed (GrantID
// set) and kept until it expires so that a second use can be detected.
type Code struct {
	Hash                []byte `json:"hash"`
	LinkID              string `json:"link_id"`
	ClientID            string `json:"client_id"`
	UserID              string `json:"user_id"`
	RedirectURI         string `json:"redirect_uri"`
	Scope               string `json:"scope"`
	CodeChallenge       string `json:"code_challenge,omitempty"`
	CodeChallengeMethod string `json:"code_challenge_method,omitempty"`
	Nonce               string `json:"nonce,omitempty"`
	// OIDCScopes are the OpenID Connect scopes granted beside the
	// permission (openid, profile, email).
	OIDCScopes []string `json:"oidc_scopes,omitempty"`
	// AuthTime is when the user signed in.
	AuthTime time.Time `json:"auth_time,omitzero"`
	// Resource is the RFC 8707 resource indicator the code was asked for
	// (an absolute URL the gateway protects); empty when none was sent.
	Resource  string    `json:"resource,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	GrantID   string    `json:"grant_id,omitempty"`
}

// Grant is one user's authorization of one link: the family of all tokens
// issued from one authorization code.
type Grant struct {
	ID       string `json:"id"`
	LinkID   string `json:"link_id"`
	ClientID string `json:"client_id"`
	UserID   string `json:"user_id"`
	Scope    string `json:"scope"`
	// OIDCScopes are the OpenID Connect scopes of the grant.
	OIDCScopes []string `json:"oidc_scopes,omitempty"`
	// AuthTime is when the user signed in to authorize the grant.
	AuthTime time.Time `json:"auth_time,omitzero"`
	// Resource is the RFC 8707 resource the grant's tokens are bound to
	// (their audience); empty when they are accepted by every guard.
	Resource string `json:"resource,omitempty"`
	// Generation counts the refresh tokens issued in this family; it only
	// grows and is updated atomically with each new token.
	Generation uint64    `json:"generation"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// ExpiresAt is when the newest refresh token of the family expires;
	// zero means never.
	ExpiresAt time.Time `json:"expires_at"`
}

// TokenKind tells access tokens from refresh tokens.
type TokenKind string

// Token kinds.
const (
	AccessToken  TokenKind = "access"
	RefreshToken TokenKind = "refresh"
	// OAuth1Token is an OAuth 1.0a access token, alone in its grant.
	OAuth1Token TokenKind = "oauth1"
)

// Token is the stored form of an issued token: its SHA-256 and what it
// grants. The token itself is never stored.
type Token struct {
	Hash       []byte    `json:"hash"`
	Kind       TokenKind `json:"kind"`
	GrantID    string    `json:"grant_id"`
	Generation uint64    `json:"generation"`
	Scope      string    `json:"scope"`
	IssuedAt   time.Time `json:"issued_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	// KeepUntil, when later than ExpiresAt, keeps the record after it stops
	// being usable, so that a replay is still recognised.
	KeepUntil time.Time `json:"keep_until,omitzero"`
	// UsedAt is set on a refresh token once it has been exchanged.
	UsedAt time.Time `json:"used_at,omitzero"`
	// AccessHash, on a refresh token, is the hash of the access token issued
	// with it.
	AccessHash []byte `json:"access_hash,omitempty"`
	// SealedChild, on a used refresh token, is the pair issued for it,
	// sealed by the token service with a key only the refresh token itself
	// gives, so that a retry within the grace gets the same pair back.
	SealedChild []byte `json:"sealed_child,omitempty"`
	// SealedSecret, on an OAuth 1.0a access token of an HMAC-SHA1
	// consumer, is the token secret it signs with, sealed by the service
	// provider with a key only the token itself gives.
	SealedSecret []byte `json:"sealed_secret,omitempty"`
}

// Session is a signed-in browser session.
type Session struct {
	Hash   []byte `json:"hash"`
	UserID string `json:"user_id"`
	// Stamp is the user's sign-in stamp when the session started (see
	// User.Stamp); the session ends when the user's stamp changes.
	Stamp     string    `json:"stamp,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Subject is the stable subject of one user.
type Subject struct {
	UserID string `json:"user_id"`
	// Subject is random, not derived from the user's name, so that a later
	// user of the same name gets another one.
	Subject   string    `json:"subject"`
	CreatedAt time.Time `json:"created_at"`
}

// User is a local account created at runtime.
type User struct {
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash"`
	Role         string `json:"role"`
	Disabled     bool   `json:"disabled,omitempty"`
	// Provider is the issuer of the OpenID Connect provider the user signs
	// in with; empty for a local user with a password.
	Provider string `json:"provider,omitempty"`
	// Subject is the provider's subject (sub) for the user.
	Subject string `json:"subject,omitempty"`
	// Stamp is a random value replaced whenever the user's password, role
	// or disabled state changes; a session started under another stamp
	// has ended.
	Stamp     string    `json:"stamp,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Expiry returns how long a record should live: until the later of
// ExpiresAt and KeepUntil.
func (t Token) Expiry() time.Time {
	if t.KeepUntil.After(t.ExpiresAt) {
		return t.KeepUntil
	}
	return t.ExpiresAt
}
