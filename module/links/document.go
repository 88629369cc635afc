package links

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/applinks/caddy-applinks/module/scope"
	"github.com/applinks/caddy-applinks/module/store"
)

// SourceDocument is the source of a client identified by its own client
// ID metadata document: an https URL as client_id.
const SourceDocument = "document"

// documentIDPrefix starts the link id of such a client; the URL follows.
const documentIDPrefix = "cimd:"

// ErrBadDocument means a client id is a URL whose client ID metadata
// document is not acceptable; the error wrapping it says why, for the
// client's developer (see DocumentProblem).
var ErrBadDocument = errors.New("client ID metadata document refused")

// DocumentProblem is why err, which wraps ErrBadDocument, refused a
// document.
func DocumentProblem(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ErrBadDocument.Error()+": "); i >= 0 {
		return msg[i+len(ErrBadDocument.Error())+2:]
	}
	return "it could not be used"
}

// Documents resolves clients identified by a client ID metadata document.
type Documents interface {
	// Accepts reports, without I/O, whether clientID is a URL that may
	// identify a client; nil when it is.
	Accepts(clientID string) error
	// Resolve fetches (or takes from its cache) and checks the document
	// of clientID; its errors wrap ErrBadDocument.
	Resolve(ctx context.Context, clientID string) (DocumentClient, error)
	// Ceiling is the permission ceiling of such clients.
	Ceiling() scope.Scope
}

// DocumentClient is what a client's document says about it.
type DocumentClient struct {
	// ClientName is what the client calls itself; it may be empty.
	ClientName   string
	RedirectURIs []string
}

// DocumentID is the link id of the client whose client_id is the URL
// clientID: grants of the client are held by this id, which Get resolves
// without fetching the document.
func DocumentID(clientID string) string { return documentIDPrefix + clientID }

// SetDocuments lets client ids that are URLs identify clients through
// their documents; nil turns that off.
func (r *Registry) SetDocuments(d Documents) { r.docs = d }

// isDocumentClientID reports whether clientID is meant as a document URL.
func isDocumentClientID(clientID string) bool {
	return strings.HasPrefix(clientID, "https://") || strings.HasPrefix(clientID, "http://")
}

// documentByID is Get for a document client's id: the link as far as it
// is known without its document (no redirect URIs), under the ceiling
// the configuration gives such clients now; store.ErrNotFound when they
// are off or its host is no longer allowed.
func (r *Registry) documentByID(id string) (Link, error) {
	clientID := strings.TrimPrefix(id, documentIDPrefix)
	if r.docs == nil || r.docs.Accepts(clientID) != nil {
		return Link{}, fmt.Errorf("client %q: %w", clientID, store.ErrNotFound)
	}
	return documentLink(clientID, r.docs.Ceiling(), DocumentClient{}), nil
}

// documentByClientID is ByClientID for a URL: the link its fetched
// document describes. Errors wrap ErrBadDocument, or store.ErrNotFound
// when documents are off.
func (r *Registry) documentByClientID(ctx context.Context, clientID string) (Link, error) {
	if r.docs == nil {
		return Link{}, fmt.Errorf("client %q: %w", clientID, store.ErrNotFound)
	}
	dc, err := r.docs.Resolve(ctx, clientID)
	if err != nil {
		return Link{}, err
	}
	return documentLink(clientID, r.docs.Ceiling(), dc), nil
}

// documentLink is the public link of a document client, named for its
// host.
func documentLink(clientID string, ceiling scope.Scope, dc DocumentClient) Link {
	host := clientID
	if u, err := url.Parse(clientID); err == nil && u.Host != "" {
		host = u.Host
	}
	return Link{
		Link: store.Link{
			ID:           DocumentID(clientID),
			Name:         host,
			RedirectURIs: dc.RedirectURIs,
			Ceiling:      ceiling.String(),
			ClientID:     clientID,
			Public:       true,
		},
		Source:      SourceDocument,
		Ceiling:     ceiling,
		ClaimedName: dc.ClientName,
	}
}
