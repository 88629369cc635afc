// Package resource names the resources the guards protect: the RFC 9728
// protected resources whose metadata the gateway serves, and the RFC 8707
// resource indicators a token may be bound to.
package resource

import (
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// MetadataPath is the well-known path of RFC 9728 protected-resource
// metadata; a resource with a path has its document at MetadataPath
// followed by that path (§3.1).
const MetadataPath = "/.well-known/oauth-protected-resource"

// Resource is one protected resource: a path of the site the request came
// to, or an absolute URL.
type Resource struct {
	// Path is the resource's path, e.g. "/mcp"; "" for an origin.
	Path string
	// Origin is the scheme and host of a resource configured as a URL;
	// "" for a path, whose origin is the gateway's issuer.
	Origin string
}

// Parse reads a resource as configured: a path starting with "/" or an
// absolute http(s) URL, neither with a query or fragment (RFC 8707 §2).
func Parse(v string) (Resource, error) {
	if strings.HasPrefix(v, "/") {
		u, err := url.Parse(v)
		if err != nil || u.Path != v || strings.HasPrefix(v, "//") {
			return Resource{}, fmt.Errorf("resource %q: a path must be a plain absolute path, without query or fragment", v)
		}
		return Resource{Path: v}, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return Resource{}, fmt.Errorf("resource %q: want a path (/mcp) or an absolute http(s) URL", v)
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.Contains(v, "#") || strings.Contains(v, "?") {
		return Resource{}, fmt.Errorf("resource %q: a resource URL has no query or fragment", v)
	}
	return Resource{Path: u.EscapedPath(), Origin: u.Scheme + "://" + strings.ToLower(u.Host)}, nil
}

// URL is the resource identifier clients use (the RFC 9728 `resource`,
// the RFC 8707 `resource` parameter and the tokens' audience); a path is
// taken on the issuer's origin.
func (r Resource) URL(issuer string) string { return r.origin(issuer) + r.Path }

// MetadataURL is where the resource's RFC 9728 document is served.
func (r Resource) MetadataURL(issuer string) string { return r.origin(issuer) + MetadataPath + r.Path }

func (r Resource) origin(issuer string) string {
	if r.Origin != "" {
		return r.Origin
	}
	return strings.TrimSuffix(issuer, "/")
}

// Set is the resources protected by the guards of one configuration,
// which register them when they are provisioned. It is safe for
// concurrent use.
type Set struct {
	mu   sync.RWMutex
	list []Resource
}

// Add registers a resource; adding one twice is harmless.
func (s *Set) Add(r Resource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.list {
		if have == r {
			return
		}
	}
	s.list = append(s.list, r)
}

// ForMetadata returns the resource whose metadata document is at path
// (a path under MetadataPath) on host; a resource configured as a URL of
// that host is preferred to a path of the site.
func (s *Set) ForMetadata(host, path string) (Resource, bool) {
	rest, ok := strings.CutPrefix(path, MetadataPath)
	if !ok || rest == "" {
		return Resource{}, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var found *Resource
	for i, r := range s.list {
		switch {
		case r.Path != rest:
		case r.Origin != "" && strings.EqualFold(hostOf(r.Origin), host):
			return r, true
		case r.Origin == "" && found == nil:
			found = &s.list[i]
		}
	}
	if found == nil {
		return Resource{}, false
	}
	return *found, true
}

// Protects reports whether indicator, an RFC 8707 resource parameter, is
// one of the resources of the set or the issuer's origin (which guards
// without a resource protect), and returns it in the form tokens carry
// (scheme and host in lower case).
func (s *Set) Protects(issuer, indicator string) (string, bool) {
	u, err := url.Parse(indicator)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" || strings.Contains(indicator, "#") {
		return "", false
	}
	norm := strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		return "", false
	}
	if norm == normalize(issuer) {
		return norm, true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.list {
		if normalize(r.URL(issuer)) == norm {
			return norm, true
		}
	}
	return "", false
}

// normalize lower-cases the scheme and host of an absolute URL.
func normalize(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + u.EscapedPath()
}

// Audience is the audience a token bound to r carries, in the form
// Protects returns.
func (r Resource) Audience(issuer string) string { return normalize(r.URL(issuer)) }

func hostOf(origin string) string {
	_, host, _ := strings.Cut(origin, "://")
	return host
}
