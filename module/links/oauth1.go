package links

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"

	"github.com/applinks/caddy-applinks/module/oauth1"
	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/secret"
	"github.com/applinks/caddy-applinks/module/store"
	"github.com/applinks/caddy-applinks/module/token"
)

// Errors of OAuth 1.0a consumers.
var (
	// ErrUnknownConsumer means no enabled link has the consumer key.
	ErrUnknownConsumer = errors.New("no OAuth 1.0a consumer has this consumer key")
	// ErrConsumerDisabled means the consumer's link is disabled.
	ErrConsumerDisabled = errors.New("the OAuth 1.0a consumer's link is disabled")
)

// OAuth1Config declares that an incoming link is an OAuth 1.0a consumer
// (the gateway its service provider), as Atlassian's "OAuth 1.0" incoming
// authentication does. Such a link has no redirect URIs, client id or
// client secret of OAuth 2.0.
type OAuth1Config struct {
	// ConsumerKey identifies the consumer; it is the link's client id,
	// unique among all links.
	ConsumerKey string `json:"consumer_key"`
	// PublicKey is the consumer's RSA public key in PEM (BEGIN PUBLIC
	// KEY, as openssl writes it; a certificate or the bare base64 that
	// Atlassian's forms take also do): the consumer signs with RSA-SHA1.
	// The Caddyfile's `public_key <path>` reads it from a file. Either
	// this or SharedSecret.
	PublicKey string `json:"public_key,omitempty"`
	// SharedSecret is a secret the consumer signs with HMAC-SHA1 instead;
	// placeholders such as {env.X} are resolved at provision time.
	SharedSecret string `json:"shared_secret,omitempty"`
	// Callback is the consumer's callback URL: when set, the oauth_callback
	// of every request token must start with it (oob is refused); without
	// it the request's oauth_callback is used, or oob. Default: none.
	Callback string `json:"callback,omitempty"`
	// TwoLegged lets the consumer sign requests without a token
	// (two-legged OAuth), acting as ExecuteAs. Default: false.
	TwoLegged bool `json:"two_legged,omitempty"`
	// ExecuteAs is the user two-legged requests act as. Required with
	// TwoLegged unless Impersonation is on.
	ExecuteAs string `json:"execute_as,omitempty"`
	// Impersonation lets a two-legged request name the user it acts as in
	// xoauth_requestor_id (Atlassian's "2LO with impersonation"); needs
	// TwoLegged. Default: false.
	Impersonation bool `json:"impersonation,omitempty"`
}

// NewConsumer is what an administrator enters to create an OAuth 1.0a
// consumer link at runtime.
type NewConsumer struct {
	Name        string
	ConsumerKey string
	// PublicKey is the consumer's RSA public key (PEM); empty to have the
	// gateway generate a shared secret for HMAC-SHA1 instead.
	PublicKey     string
	Callback      string
	TwoLegged     bool
	ExecuteAs     string
	Impersonation bool
	Ceiling       scope.Scope
	CreatedBy     string
}

// IsOAuth1 reports whether the link is an OAuth 1.0a consumer.
func (l Link) IsOAuth1() bool { return l.OAuth1 != nil }

// check reports the first problem of a consumer declaration.
func (c OAuth1Config) check() error {
	return checkConsumer(c.ConsumerKey, c.PublicKey, c.SharedSecret != "", c.Callback, c.TwoLegged, c.ExecuteAs, c.Impersonation)
}

// checkOAuth1 is Check for a link that is an OAuth 1.0a consumer.
func (c ConfigLink) checkOAuth1() error {
	switch {
	case len(c.RedirectURIs) > 0:
		return errors.New("an OAuth 1.0a consumer has no redirect_uri: the callback is given by oauth1 callback or by each request")
	case c.ClientID != "":
		return errors.New("an OAuth 1.0a consumer's client id is its consumer key: remove client_id")
	case c.ClientSecret != "":
		return errors.New("an OAuth 1.0a consumer has no client_secret: give its public_key, or a shared_secret for HMAC-SHA1")
	case c.Public || c.RequirePKCE || c.ClientCredentials != "":
		return errors.New("public, require_pkce and client_credentials are OAuth 2.0 settings; an OAuth 1.0a consumer uses two_legged instead")
	}
	return c.OAuth1.check()
}

// Fields of a consumer's settings that a ConsumerProblem names, as the
// admin API's oauth1 object names them.
const (
	FieldConsumerKey   = "consumer_key"
	FieldPublicKey     = "public_key"
	FieldCallback      = "callback"
	FieldTwoLegged     = "two_legged"
	FieldExecuteAs     = "execute_as"
	FieldImpersonation = "impersonation"
)

// ConsumerProblem is what is wrong with one setting of an OAuth 1.0a
// consumer, so that a form can say it on its field.
type ConsumerProblem struct {
	// Field is one of the Field… names.
	Field string
	Err   error
}

// Error is the problem's message.
func (p *ConsumerProblem) Error() string { return p.Err.Error() }

// Unwrap returns the problem's cause.
func (p *ConsumerProblem) Unwrap() error { return p.Err }

// consumerSettings are what checkConsumer judges of a consumer.
type consumerSettings struct {
	key, publicKey, callback, executeAs    string
	sharedSecret, twoLegged, impersonation bool
}

// checkConsumer reports the first problem of a consumer's settings, for
// declared and runtime links alike.
func checkConsumer(key, publicKey string, sharedSecret bool, callback string, twoLegged bool, executeAs string, impersonation bool) error {
	ps := consumerSettings{key: key, publicKey: publicKey, sharedSecret: sharedSecret, callback: callback, twoLegged: twoLegged, executeAs: executeAs, impersonation: impersonation}.problems()
	if len(ps) == 0 {
		return nil
	}
	return ps[0]
}

// problems lists what is wrong with the settings, at most one problem per
// field, in the order of the fields.
func (c consumerSettings) problems() []*ConsumerProblem {
	var out []*ConsumerProblem
	add := func(field string, err error) {
		if err != nil && !slices.ContainsFunc(out, func(p *ConsumerProblem) bool { return p.Field == field }) {
			out = append(out, &ConsumerProblem{Field: field, Err: err})
		}
	}
	add(FieldConsumerKey, checkConsumerKey(c.key))
	switch {
	case c.publicKey == "" && !c.sharedSecret:
		add(FieldPublicKey, errors.New("an OAuth 1.0a consumer needs its public_key (RSA-SHA1), or a shared_secret (HMAC-SHA1)"))
	case c.publicKey != "" && c.sharedSecret:
		add(FieldPublicKey, errors.New("give the consumer a public_key or a shared_secret, not both"))
	case c.publicKey != "":
		if _, err := oauth1.ParsePublicKey([]byte(c.publicKey)); err != nil {
			add(FieldPublicKey, err)
		}
	}
	if c.callback != "" {
		u, err := url.Parse(c.callback)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			add(FieldCallback, fmt.Errorf("callback %q must be an absolute http(s) URL without a fragment", c.callback))
		}
	}
	switch {
	case c.impersonation && !c.twoLegged:
		add(FieldImpersonation, errors.New("impersonation is two-legged OAuth with xoauth_requestor_id: turn on two-legged OAuth (two_legged) too"))
	case c.twoLegged && c.executeAs == "" && !c.impersonation:
		add(FieldExecuteAs, errors.New("two-legged OAuth (two_legged) needs the user its requests act as, or impersonation"))
	case !c.twoLegged && c.executeAs != "":
		add(FieldExecuteAs, errors.New("a user to execute as is only for two-legged OAuth: turn on two-legged OAuth (two_legged)"))
	}
	return out
}

// checkConsumerKey checks a consumer key's form.
func checkConsumerKey(key string) error {
	switch {
	case key == "":
		return errors.New("an OAuth 1.0a consumer needs a consumer key")
	case len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r <= 0x20 || r == 0x7f }):
		return errors.New("the consumer key must be at most 200 characters without spaces or control characters")
	case isDocumentClientID(key):
		return errors.New("the consumer key must not be an https URL: those name clients by their metadata documents")
	}
	return nil
}

// Problems lists what is wrong with a consumer to be created, at most one
// problem per field; its name and ceiling are checked by CreateConsumer.
// It does not look for other links with the same consumer key: see
// ConsumerKeyFree.
func (in NewConsumer) Problems() []*ConsumerProblem {
	return consumerSettings{key: in.ConsumerKey, publicKey: in.PublicKey, sharedSecret: in.PublicKey == "", callback: in.Callback, twoLegged: in.TwoLegged, executeAs: in.ExecuteAs, impersonation: in.Impersonation}.problems()
}

// ConsumerKeyFree returns a ConsumerProblem of the consumer key, wrapping
// store.ErrAlreadyExists, when a declared or runtime link has key as its
// consumer key or client id.
func (r *Registry) ConsumerKeyFree(ctx context.Context, key string) error {
	if isDocumentClientID(key) {
		return nil // no consumer's key, as checkConsumerKey says
	}
	_, err := r.ByClientID(ctx, key)
	switch {
	case err == nil:
		return &ConsumerProblem{Field: FieldConsumerKey, Err: fmt.Errorf("consumer key %q is another link's: %w", key, store.ErrAlreadyExists)}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrBadDocument):
		return nil
	}
	return err
}

// fromConsumerConfig is the link a consumer declaration gives.
func (r *Registry) fromConsumerConfig(c ConfigLink) (Link, error) {
	if err := c.Check(); err != nil {
		return Link{}, err
	}
	ceiling := scope.Read
	if c.Scope != "" {
		ceiling, _ = scope.Parse(c.Scope) // checked
	}
	id := ConfigID(c.Name)
	o := c.OAuth1
	l := store.Link{
		ID:       id,
		Name:     c.Name,
		Ceiling:  ceiling.String(),
		ClientID: o.ConsumerKey,
		OAuth1:   &store.OAuth1Consumer{PublicKey: o.PublicKey, Callback: o.Callback, TwoLegged: o.TwoLegged, ExecuteAs: o.ExecuteAs, Impersonation: o.Impersonation},
	}
	if o.SharedSecret != "" {
		l.Secrets = []store.Secret{{Sealed: r.keys.Seal([]byte(o.SharedSecret), []byte(id))}}
	}
	return Link{Link: l, Source: SourceConfig, Ceiling: ceiling}, nil
}

// CreateConsumer validates and stores a runtime link that is an OAuth 1.0a
// consumer. Without a public key the gateway generates a shared secret
// for HMAC-SHA1, returned in clear to be shown once.
func (r *Registry) CreateConsumer(ctx context.Context, in NewConsumer) (Link, string, error) {
	if err := validateName(in.Name); err != nil {
		return Link{}, "", err
	}
	if ps := in.Problems(); len(ps) > 0 {
		return Link{}, "", ps[0]
	}
	if err := validateCeiling(in.Ceiling); err != nil {
		return Link{}, "", err
	}
	if r.names[in.Name] {
		return Link{}, "", fmt.Errorf("name %q: %w", in.Name, store.ErrAlreadyExists)
	}
	if err := r.ConsumerKeyFree(ctx, in.ConsumerKey); err != nil {
		return Link{}, "", err
	}
	if isID, err := r.nameIsAnID(ctx, in.Name); err != nil {
		return Link{}, "", err
	} else if isID {
		return Link{}, "", fmt.Errorf("name %q is another link's id: %w", in.Name, store.ErrAlreadyExists)
	}
	now := r.now().UTC()
	id := randomHex(16)
	sl := store.Link{
		ID:       id,
		Name:     in.Name,
		Ceiling:  in.Ceiling.String(),
		ClientID: in.ConsumerKey,
		OAuth1: &store.OAuth1Consumer{
			PublicKey: in.PublicKey, Callback: in.Callback, TwoLegged: in.TwoLegged, ExecuteAs: in.ExecuteAs, Impersonation: in.Impersonation,
		},
		CreatedAt: now,
		UpdatedAt: now,
		CreatedBy: in.CreatedBy,
	}
	var sec string
	if in.PublicKey == "" {
		sec = token.New(token.ClientSecret)
		sl.Secrets = []store.Secret{{Sealed: r.keys.Seal([]byte(sec), []byte(id)), CreatedAt: now}}
	}
	if err := r.store.CreateLink(ctx, sl); err != nil {
		return Link{}, "", err
	}
	r.consumers.seen(r.now(), true)
	r.audit.Info("OAuth 1.0a consumer created", zap.String("link", sl.Name), zap.String("link_id", id), zap.String("consumer_key", sl.ClientID), zap.Bool("rsa", in.PublicKey != ""), zap.Bool("two_legged", in.TwoLegged), zap.String("by", in.CreatedBy))
	return runtimeLink(sl), sec, nil
}

// Consumer returns the OAuth 1.0a consumer link with the given consumer
// key: ErrUnknownConsumer when there is none (a link of that client id
// that is an OAuth 2.0 client is none either), ErrConsumerDisabled with
// the link while it is disabled.
func (r *Registry) Consumer(ctx context.Context, key string) (Link, error) {
	if isDocumentClientID(key) {
		return Link{}, ErrUnknownConsumer
	}
	l, err := r.ByClientID(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Link{}, ErrUnknownConsumer
	case err != nil:
		return Link{}, err
	case !l.IsOAuth1():
		return Link{}, ErrUnknownConsumer
	case l.Disabled:
		return l, ErrConsumerDisabled
	}
	return l, nil
}

// ConsumerSecrets returns the shared secrets (for HMAC-SHA1) a consumer's
// signatures are checked against: the current one and those rotated out
// but still in their overlap.
func (r *Registry) ConsumerSecrets(l Link, now time.Time) ([]string, error) {
	return openSecrets(r.keys, l, now)
}

// openSecrets opens the link's secrets that are live at now.
func openSecrets(keys *secret.Keys, l Link, now time.Time) ([]string, error) {
	var out []string
	for _, s := range l.Secrets {
		if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
			continue
		}
		plain, err := keys.Open(s.Sealed, []byte(l.ID))
		if err != nil {
			return nil, fmt.Errorf("opening secret of link %s: %w", l.ID, err)
		}
		out = append(out, string(plain))
	}
	return out, nil
}

// consumerCheckInterval is how long HasConsumers trusts what it last
// found among the runtime links.
const consumerCheckInterval = 10 * time.Second

// consumerCheck is the last answer of HasConsumers for runtime links.
type consumerCheck struct {
	last    atomic.Pointer[consumerAnswer]
	listing singleflight.Group
}

type consumerAnswer struct {
	at  time.Time
	has bool
}

func (c *consumerCheck) seen(at time.Time, has bool) {
	c.last.Store(&consumerAnswer{at: at, has: has})
}

// HasConsumers reports whether some link is an OAuth 1.0a consumer, so
// that the guard offers the OAuth scheme to requests without credentials
// and reads form bodies for their parameters. Declared links answer at
// once; runtime links are listed at most every consumerCheckInterval (a
// consumer created on another gateway sharing the store shows within
// that), and a store that cannot be listed counts as none.
func (r *Registry) HasConsumers(ctx context.Context) bool {
	for _, l := range r.byID {
		if l.IsOAuth1() {
			return true
		}
	}
	now := r.now()
	if a := r.consumers.last.Load(); a != nil && now.Sub(a.at) < consumerCheckInterval && !now.Before(a.at) {
		return a.has
	}
	// Requests that find the answer stale at once share one listing.
	has, err, _ := r.consumers.listing.Do("", func() (any, error) {
		stored, err := r.store.ListLinks(ctx)
		if err != nil {
			return false, err
		}
		has := slices.ContainsFunc(stored, func(l store.Link) bool { return l.OAuth1 != nil && !l.Disabled })
		r.consumers.seen(now, has)
		return has, nil
	})
	return err == nil && has.(bool)
}
