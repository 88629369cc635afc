package outgoing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/store"
)

// ErrReadOnly means the link is declared in the configuration.
var ErrReadOnly = errors.New("outgoing link is declared in the configuration and read-only")

// errKindChange means an edit would make an OAuth 2.0 link an OAuth 1.0a
// one or the other way round.
var errKindChange = errors.New("an OAuth 2.0 link cannot become an OAuth 1.0a one or the other way round: create another link")

// Link returns the outgoing link with the given name, declared or created
// at runtime; store.ErrNotFound when there is none.
func (s *Service) Link(ctx context.Context, name string) (*Link, error) {
	if l, ok := s.links[name]; ok {
		return l, nil
	}
	s.mu.Lock()
	l, ok := s.runtime[name]
	seen := s.forgotten
	s.mu.Unlock()
	if ok {
		return l, nil
	}
	ol, err := s.store.GetOutgoingLink(ctx, name)
	if err != nil {
		return nil, err
	}
	l, err = s.fromStore(ol)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.forgotten == seen {
		s.runtime[name] = l
	}
	s.mu.Unlock()
	return l, nil
}

// forget drops a runtime link from the cache, so the next Link call reads
// it from the store.
func (s *Service) forget(name string) {
	s.mu.Lock()
	delete(s.runtime, name)
	s.forgotten++
	s.mu.Unlock()
}

// Declared reports whether the outgoing link name is declared in the
// configuration (and so read-only).
func (s *Service) Declared(name string) bool {
	_, ok := s.links[name]
	return ok
}

// Names returns the names of the declared and runtime outgoing links,
// declared first, each group by name.
func (s *Service) Names(ctx context.Context) ([]string, error) {
	names := make([]string, 0, len(s.links))
	for n := range s.links {
		names = append(names, n)
	}
	slices.Sort(names)
	stored, err := s.store.ListOutgoingLinks(ctx)
	if err != nil {
		return nil, err
	}
	for _, ol := range stored {
		names = append(names, ol.Name)
	}
	return names, nil
}

// NewOutgoing is what an administrator enters to create an outgoing link.
type NewOutgoing struct {
	ConfigLink
	CreatedBy string
}

// Create checks and stores a runtime outgoing link, its client secret
// sealed.
func (s *Service) Create(ctx context.Context, in NewOutgoing) (*Link, error) {
	if _, ok := s.links[in.Name]; ok {
		return nil, fmt.Errorf("outgoing link %q: %w", in.Name, store.ErrAlreadyExists)
	}
	var p Provider
	switch {
	case in.OAuth1 != nil:
		if err := s.checkRuntimeOAuth1(in.OAuth1); err != nil {
			return nil, fmt.Errorf("outgoing link %q: %w", in.Name, err)
		}
	case in.ProviderRaw == nil:
		return nil, fmt.Errorf("outgoing link %q: a provider is required (or oauth1 with an application URL)", in.Name)
	default:
		var err error
		p, err = s.loadRuntime(in.ProviderRaw)
		if err == nil {
			err = s.checkRuntimeURLs(in.ProviderRaw)
		}
		if err != nil {
			return nil, fmt.Errorf("outgoing link %q: provider: %w", in.Name, err)
		}
	}
	l, err := NewLink(in.ConfigLink, p)
	if err != nil {
		return nil, err
	}
	ol := store.OutgoingLink{Name: l.Name, Provider: in.ProviderRaw, ClientID: l.ClientID, Scopes: l.Scopes, Mode: l.Mode, CreatedAt: s.now().UTC(), CreatedBy: in.CreatedBy}
	if l.OAuth1 != nil {
		ol.OAuth1 = &store.OutgoingOAuth1{ApplicationURL: l.OAuth1.ApplicationURL, ConsumerKey: l.OAuth1.ConsumerKey}
	}
	if l.ClientSecret != "" {
		ol.SealedSecret = s.keys.Seal([]byte(l.ClientSecret), secretBinding(l.Name))
	}
	if err := s.store.CreateOutgoingLink(ctx, ol); err != nil {
		return nil, err
	}
	s.audit.Info("outgoing link created", zap.String("link", l.Name), zap.String("by", in.CreatedBy))
	return l, nil
}

// Delete removes a runtime outgoing link with every connection of it.
func (s *Service) Delete(ctx context.Context, name, by string) error {
	if _, ok := s.links[name]; ok {
		return ErrReadOnly
	}
	if err := s.store.DeleteOutgoingLink(ctx, name); err != nil {
		return err
	}
	s.forget(name)
	s.changed()
	s.audit.Info("outgoing link deleted", zap.String("link", name), zap.String("by", by))
	return nil
}

// EditOutgoing is what an administrator may change on a runtime outgoing
// link; its name, kind (OAuth 2.0 provider or OAuth 1.0a) and connections
// stay.
type EditOutgoing struct {
	// ClientID is the gateway's client id at the provider. Required for
	// an OAuth 2.0 link.
	ClientID string
	// ClientSecret replaces the client secret; empty keeps the current one.
	ClientSecret string
	// Scopes to ask the provider for.
	Scopes []string
	// Mode is per_user or shared. Default: per_user.
	Mode string
	// OAuth1 replaces an OAuth 1.0a link's application URL and consumer
	// key; required for such a link, refused for another.
	OAuth1 *OAuth1Config
}

// Update changes a runtime outgoing link's client credentials, scopes and
// mode, or an OAuth 1.0a link's application URL, consumer key and mode,
// checked as for a new link; its provider and connections stay. A new
// secret is sealed like Create seals it. The next Link call returns the
// updated link.
func (s *Service) Update(ctx context.Context, name string, in EditOutgoing, by string) (*Link, error) {
	if _, ok := s.links[name]; ok {
		return nil, ErrReadOnly
	}
	var (
		mode string
		err  error
	)
	if in.OAuth1 != nil {
		mode, err = checkOAuth1(ConfigLink{Name: name, ClientID: in.ClientID, ClientSecret: in.ClientSecret, Scopes: in.Scopes, Mode: in.Mode, OAuth1: in.OAuth1})
		if err == nil {
			err = s.checkRuntimeOAuth1(in.OAuth1)
		}
	} else {
		mode, err = checkClient(ConfigLink{Name: name, ClientID: in.ClientID, Mode: in.Mode})
	}
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if in.ClientSecret != "" {
		sealed = s.keys.Seal([]byte(in.ClientSecret), secretBinding(name))
	}
	_, err = s.store.UpdateOutgoingLink(ctx, name, func(l *store.OutgoingLink) error {
		if (l.OAuth1 != nil) != (in.OAuth1 != nil) {
			return fmt.Errorf("outgoing link %q: %w", name, errKindChange)
		}
		l.Mode = mode
		if in.OAuth1 != nil {
			l.OAuth1 = &store.OutgoingOAuth1{ApplicationURL: in.OAuth1.ApplicationURL, ConsumerKey: in.OAuth1.ConsumerKey}
			return nil
		}
		l.ClientID, l.Scopes = in.ClientID, slices.Clone(in.Scopes)
		if sealed != nil {
			l.SealedSecret = sealed
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.forget(name)
	s.changed()
	s.audit.Info("outgoing link updated", zap.String("link", name), zap.String("client_id", in.ClientID), zap.String("mode", mode), zap.Bool("secret_replaced", sealed != nil), zap.Bool("oauth1", in.OAuth1 != nil), zap.String("by", by))
	return s.Link(ctx, name)
}

// Probe loads a provider module from its JSON (with its "provider" key)
// and resolves its endpoints as connecting a runtime link does, through
// the client of runtime links (no loopback or private address unless
// allow_private_endpoints, never Caddy's admin endpoint). It lets an
// administrator check that a provider (such as another gateway's RFC 8414
// metadata) answers before saving a link. A refused endpoint's error wraps
// ErrRefused, an unreachable one's ErrProviderUnavailable.
func (s *Service) Probe(ctx context.Context, providerRaw json.RawMessage) (oauth2.Endpoint, error) {
	if providerRaw == nil {
		return oauth2.Endpoint{}, errors.New("a provider is required")
	}
	p, err := s.loadRuntime(providerRaw)
	if err == nil {
		err = s.checkRuntimeURLs(providerRaw)
	}
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("provider: %w", err)
	}
	ep, err := p.Endpoint(ctx, s.runtimeClient)
	if err != nil {
		return oauth2.Endpoint{}, fmt.Errorf("%w: %w", ErrProviderUnavailable, err)
	}
	return ep, nil
}

// ErrPlaceholder means a provider created at runtime holds a Caddy
// placeholder such as {env.X}: provider modules expand those, so an
// administrator could read the server's environment or files through them.
var ErrPlaceholder = errors.New("'{' and '}' are not allowed here: placeholders such as {env.NAME} work only in the Caddyfile")

// loadRuntime loads the provider of a link created at runtime, refusing
// placeholders in its settings.
func (s *Service) loadRuntime(raw json.RawMessage) (Provider, error) {
	var settings any
	if err := json.Unmarshal(raw, &settings); err != nil {
		return nil, fmt.Errorf("decoding the provider: %w", err)
	}
	if hasPlaceholder(settings) {
		return nil, ErrPlaceholder
	}
	return s.load(raw)
}

// checkRuntimeURLs checks, with CheckRuntimeEndpoint, the URLs in the
// settings of a provider created at runtime: its issuer and every
// *_endpoint. Refusing them here gives the administrator the reason at
// once; the runtime client refuses them again when connecting.
func (s *Service) checkRuntimeURLs(raw json.RawMessage) error {
	var settings map[string]any
	if err := json.Unmarshal(raw, &settings); err != nil {
		return fmt.Errorf("decoding the provider: %w", err)
	}
	for _, u := range providerURLs(settings) {
		if err := s.CheckRuntimeEndpoint(u); err != nil {
			return err
		}
	}
	return nil
}

// checkRuntimeOAuth1 checks the settings of an OAuth 1.0a link created at
// runtime: no placeholders, and an application URL the runtime policy
// allows (CheckRuntimeEndpoint).
func (s *Service) checkRuntimeOAuth1(c *OAuth1Config) error {
	if err := CheckNoPlaceholder(c.ApplicationURL + c.ConsumerKey); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	return s.CheckRuntimeEndpoint(c.ApplicationURL)
}

// CheckNoPlaceholder returns ErrPlaceholder when value, a setting of a
// provider created at runtime, has a brace in it.
func CheckNoPlaceholder(value string) error {
	if strings.ContainsAny(value, "{}") {
		return ErrPlaceholder
	}
	return nil
}

// hasPlaceholder reports whether a decoded JSON value has a string that
// CheckNoPlaceholder refuses.
func hasPlaceholder(v any) bool {
	switch t := v.(type) {
	case string:
		return CheckNoPlaceholder(t) != nil
	case []any:
		return slices.ContainsFunc(t, hasPlaceholder)
	case map[string]any:
		for _, e := range t {
			if hasPlaceholder(e) {
				return true
			}
		}
	}
	return false
}

// secretBinding is the additional data a runtime link's client secret is
// sealed with, so a sealed secret opens only as that link's.
func secretBinding(name string) []byte { return []byte("outgoing link " + name) }

// fromStore rebuilds a runtime link: its provider module and secret, or
// its OAuth 1.0a settings.
func (s *Service) fromStore(ol store.OutgoingLink) (*Link, error) {
	if ol.OAuth1 != nil {
		return NewLink(ConfigLink{Name: ol.Name, Mode: ol.Mode, OAuth1: &OAuth1Config{ApplicationURL: ol.OAuth1.ApplicationURL, ConsumerKey: ol.OAuth1.ConsumerKey}}, nil)
	}
	p, err := s.loadRuntime(ol.Provider)
	if err != nil {
		return nil, fmt.Errorf("outgoing link %q: provider: %w", ol.Name, err)
	}
	var sec []byte
	if ol.SealedSecret != nil {
		if sec, err = s.keys.Open(ol.SealedSecret, secretBinding(ol.Name)); err != nil {
			return nil, fmt.Errorf("outgoing link %q: %w", ol.Name, err)
		}
	}
	return NewLink(ConfigLink{Name: ol.Name, ClientID: ol.ClientID, ClientSecret: string(sec), Scopes: ol.Scopes, Mode: ol.Mode}, p)
}
