package store

import (
	"context"
	"time"
)

// OAuth1Store keeps what the gateway, as an OAuth 1.0a service provider,
// needs only for minutes: the request tokens of three-legged
// authorizations in progress and the nonces of signed requests. Access
// tokens are grants with a token of kind OAuth1Token (GrantStore).
// Neither record is copied by Copier: both are worthless after minutes.
type OAuth1Store interface {
	// CreateRequestToken stores a new request token until t.ExpiresAt.
	// Tokens are random, so an existing hash is simply overwritten.
	CreateRequestToken(ctx context.Context, t RequestToken) error
	// GetRequestToken returns the live request token with the given hash.
	GetRequestToken(ctx context.Context, hash []byte) (RequestToken, error)
	// UpdateRequestToken runs fn on the live request token with the given
	// hash and saves the result atomically (its expiry unchanged); an
	// error from fn aborts without a write. ErrNotFound when it is gone.
	UpdateRequestToken(ctx context.Context, hash []byte, fn func(*RequestToken) error) (RequestToken, error)
	// RedeemRequestToken loads the live request token with the given
	// hash and calls fn with it; fn marks it used and returns what to
	// issue (an Issue whose Grant.ID is empty issues nothing). The token
	// as fn left it and the Issue are written in one atomic step, or
	// nothing when fn fails. Of concurrent redemptions of one token, each
	// fn sees what the one before left, so at most one sees it unused.
	// ErrNotFound when it is gone.
	RedeemRequestToken(ctx context.Context, hash []byte, fn func(*RequestToken) (Issue, error)) (Issue, error)
	// RememberNonce stores n until n.ExpiresAt; ErrAlreadyExists when a
	// live nonce of the same hash is stored. Of concurrent calls with one
	// hash, exactly one succeeds, across every gateway sharing the store.
	RememberNonce(ctx context.Context, n Nonce) error
}

// OAuth1Consumer makes an incoming link an OAuth 1.0a consumer: the link's
// ClientID is its consumer key, and its shared secret (for HMAC-SHA1),
// when it has one, is its first Secret.
type OAuth1Consumer struct {
	// PublicKey is the consumer's RSA public key in PEM, for RSA-SHA1;
	// empty when the consumer signs with HMAC-SHA1 and its shared secret.
	PublicKey string `json:"public_key,omitempty"`
	// Callback is the URL the consumer declared; when set, every
	// oauth_callback must start with it. Empty: any (or oob).
	Callback string `json:"callback,omitempty"`
	// TwoLegged lets the consumer sign requests without a token
	// (two-legged OAuth), acting as ExecuteAs, or with Impersonation as
	// the user xoauth_requestor_id names.
	TwoLegged     bool   `json:"two_legged,omitempty"`
	ExecuteAs     string `json:"execute_as,omitempty"`
	Impersonation bool   `json:"impersonation,omitempty"`
}

// RequestToken is an OAuth 1.0a request token: obtained by a consumer,
// authorized by a user (Verifier set), then exchanged once for an access
// token (UsedAt set) and kept until it expires so that a second exchange
// is recognised.
type RequestToken struct {
	Hash   []byte `json:"hash"`
	LinkID string `json:"link_id"`
	// ConsumerKey is the link's consumer key when the token was issued.
	ConsumerKey string `json:"consumer_key"`
	// Callback is where the user is sent once they decide; "oob" when
	// the verifier is shown to them instead.
	Callback string `json:"callback"`
	// SealedSecret is the token secret, sealed with a key only the
	// request token itself gives; HMAC-SHA1 consumers sign the
	// access-token request with it.
	SealedSecret []byte `json:"sealed_secret,omitempty"`
	// VerifierHash is the SHA-256 of the verifier, set once a user
	// authorized the token.
	VerifierHash []byte `json:"verifier_hash,omitempty"`
	// UserID, Scope and AuthTime are who authorized it, the permission
	// they gave and when they signed in.
	UserID   string    `json:"user_id,omitempty"`
	Scope    string    `json:"scope,omitempty"`
	AuthTime time.Time `json:"auth_time,omitzero"`
	// UsedAt is when it was exchanged (or refused on a wrong verifier);
	// GrantID the grant it gave.
	UsedAt    time.Time `json:"used_at,omitzero"`
	GrantID   string    `json:"grant_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Nonce is a signed request's nonce, remembered while its timestamp is
// acceptable so that the request cannot be replayed.
type Nonce struct {
	// Hash is the SHA-256 of the consumer key, timestamp, nonce and token
	// of the request.
	Hash      []byte    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
}
