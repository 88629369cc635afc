// Package web renders the gateway's HTML pages (sign-in, consent, errors)
// from embedded templates and serves their static assets, with a strict
// Content-Security-Policy and no JavaScript.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// StaticPrefix is the path under which static assets are served.
const StaticPrefix = "/applinks/static/"

// Pages renders the gateway's pages.
type Pages struct {
	t      *template.Template
	static http.Handler
}

// New parses the embedded templates.
func New() (*Pages, error) {
	t, err := template.New("").ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Pages{t: t, static: http.StripPrefix(StaticPrefix, http.FileServerFS(sub))}, nil
}

// Page is the data every page gets; Data is the page's own.
type Page struct {
	Title string
	// User is the signed-in user's name, if any.
	User string
	// Admin adds the administration link to the page header.
	Admin bool
	// Wide lays the page out for tables rather than a single card.
	Wide bool
	Data any
}

// Render writes the named page with status. formTargets are origins (e.g.
// a client's redirect URI origin) that forms on the page may end up at,
// added to the CSP form-action so the post-submit redirect is allowed.
func (p *Pages) Render(w http.ResponseWriter, status int, name string, page Page, formTargets ...string) {
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, name, page); err != nil {
		http.Error(w, "rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	SetSecurityHeaders(w, formTargets...)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ErrorPage is the data of the error page.
type ErrorPage struct {
	Heading string
	Message string
}

// Error renders a readable error page for people.
func (p *Pages) Error(w http.ResponseWriter, status int, heading, message string) {
	p.Render(w, status, "error.html", Page{Title: heading, Data: ErrorPage{Heading: heading, Message: message}})
}

// Unavailable shows the page saying that the service is unavailable (503
// with Retry-After), for when the store cannot be reached.
func (p *Pages) Unavailable(w http.ResponseWriter, retryAfter string) {
	w.Header().Set("Retry-After", retryAfter)
	p.Error(w, http.StatusServiceUnavailable, "Service unavailable", "The gateway cannot reach its database just now. Try again in a minute.")
}

// ServeStatic serves the embedded CSS and images.
func (p *Pages) ServeStatic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p.static.ServeHTTP(w, r)
}

// SetSecurityHeaders sets the headers every HTML response of the gateway
// carries: a strict CSP without scripts, no framing, no caching.
func SetSecurityHeaders(w http.ResponseWriter, formTargets ...string) {
	h := w.Header()
	formAction := "'self'"
	if len(formTargets) > 0 {
		formAction += " " + strings.Join(formTargets, " ")
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
