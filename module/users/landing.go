package users

import (
	"net/http"

	"github.com/applinks/caddy-applinks/module/returnto"
	"github.com/applinks/caddy-applinks/module/scope"
)

// AdminHome is the administration UI, where an administrator who signs in
// without a return target lands.
const AdminHome = "/applinks/admin"

// Landing is where u goes after signing in without an acceptable return
// target: a System admin to AdminHome, anyone else to returnto.Fallback.
func Landing(u User) string {
	if u.Role.Includes(scope.SystemAdmin) {
		return AdminHome
	}
	return returnto.Fallback
}

// redirectSignedIn sends the browser of u, just signed in, to returnTo
// when returnto accepts it, else to Landing(u). Every way of signing in
// ends here.
func redirectSignedIn(w http.ResponseWriter, u User, returnTo string) {
	if returnto.Path(returnTo) == "" {
		returnTo = Landing(u)
	}
	returnto.Redirect(w, returnTo)
}
