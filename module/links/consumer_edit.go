package links

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// ConsumerEdit is what an administrator may change on a runtime OAuth
// 1.0a consumer; its name, consumer key, signature method and shared
// secret stay.
type ConsumerEdit struct {
	// PublicKey replaces an RSA-SHA1 consumer's public key (PEM, or the
	// bare base64 Atlassian's forms take); required for such a consumer,
	// empty for one that signs with HMAC-SHA1.
	PublicKey     string
	Callback      string
	TwoLegged     bool
	ExecuteAs     string
	Impersonation bool
	Ceiling       scope.Scope
}

// errMethodStays means an edit would change a consumer's signature method.
var errMethodStays = errors.New("the signature method of a consumer stays: create another link to sign with the other one")

// Problems lists what is wrong with the edit of consumer l, at most one
// problem per field, as NewConsumer.Problems does.
func (in ConsumerEdit) Problems(l Link) []*ConsumerProblem {
	hmac := l.OAuth1 != nil && l.OAuth1.PublicKey == ""
	var out []*ConsumerProblem
	switch {
	case hmac && in.PublicKey != "":
		out = append(out, &ConsumerProblem{Field: FieldPublicKey, Err: errMethodStays})
	case !hmac && in.PublicKey == "":
		out = append(out, &ConsumerProblem{Field: FieldPublicKey, Err: errors.New("an RSA-SHA1 consumer needs its public key")})
	}
	for _, p := range (consumerSettings{key: l.ClientID, publicKey: in.PublicKey, sharedSecret: hmac, callback: in.Callback, twoLegged: in.TwoLegged, executeAs: in.ExecuteAs, impersonation: in.Impersonation}).problems() {
		if len(out) == 0 || p.Field != out[0].Field {
			out = append(out, p)
		}
	}
	return out
}

// UpdateConsumer changes a runtime OAuth 1.0a consumer's public key,
// callback, two-legged settings and permission ceiling, checked as for a
// new consumer. Tokens already issued to it are held to the new ceiling
// and settings from their next request on.
func (r *Registry) UpdateConsumer(ctx context.Context, id string, in ConsumerEdit, by string) (Link, error) {
	l, err := r.updateRuntime(ctx, id, in.Ceiling, func(l *store.Link) error {
		if l.OAuth1 == nil {
			return errNotConsumer
		}
		if ps := in.Problems(runtimeLink(*l)); len(ps) > 0 {
			return ps[0]
		}
		l.OAuth1 = &store.OAuth1Consumer{PublicKey: in.PublicKey, Callback: in.Callback, TwoLegged: in.TwoLegged, ExecuteAs: in.ExecuteAs, Impersonation: in.Impersonation}
		return nil
	})
	if err != nil {
		return Link{}, err
	}
	r.audit.Info("OAuth 1.0a consumer updated", zap.String("link", l.Name), zap.String("link_id", id), zap.String("scope", l.Ceiling), zap.Bool("two_legged", in.TwoLegged), zap.Bool("impersonation", in.Impersonation), zap.String("by", by))
	return runtimeLink(l), nil
}

// errNotConsumer means UpdateConsumer was given an OAuth 2.0 link.
var errNotConsumer = errors.New("the link is an OAuth 2.0 client, not an OAuth 1.0a consumer")
