package integration

import (
	"fmt"
	"testing"
)

// processGateway is the Caddyfile of a gateway run as a process of its
// own: on port, keeping its state in storage (a storage option, e.g.
// "badger <dir>" or "postgres <dsn>"), with the admin endpoint at admin
// ("off" for none), the user alice, the incoming link app and a
// require_token site under /api/ that answers "<user> <scope>". extra
// holds more lines of the applinks block (a secret_key, a refresh_grace).
func processGateway(t testing.TB, port int, admin, storage, extra string) string {
	return fmt.Sprintf(`{
	admin %s
	http_port %d
	applinks {
		storage %s
		%s
		user alice %s ADMIN
		incoming app {
			redirect_uri %s
			scope WRITE
			client_id %s
			client_secret %s
		}
	}
}
:%d {
	applinks
	handle /api/* {
		require_token
		respond "{http.auth.user.id} {http.auth.user.scope}" 200
	}
}
`, admin, port, storage, extra, hashFor(t, password), redirectURI, clientID, secretValue, port)
}
