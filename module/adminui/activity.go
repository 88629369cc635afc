package adminui

import (
	"net/http"

	"github.com/applinks/caddy-applinks/module/store"
)

// activity is an incoming link's summary on its page: its authorizations
// now (from the store, read when the page is shown) and the tokens issued
// and refused over the last day (the app's in-memory counters, which the
// token endpoint feeds without a store write).
type activity struct {
	Grants, Issued, Refused int
	// Since is when the counted day began, as "15:00 UTC".
	Since string
}

// activity reads the summary of the incoming link id.
func (u *UI) activity(r *http.Request, id string) (*activity, error) {
	gs, err := u.app.Grants().List(r.Context(), store.GrantFilter{LinkID: id})
	if err != nil {
		return nil, err
	}
	a := u.app.Activity().Link(id)
	return &activity{Grants: len(gs), Issued: a.Issued, Refused: a.Refused, Since: a.Since.UTC().Format("Jan 2 15:04 UTC")}, nil
}
