package adminui

import "github.com/applinks/caddy-applinks/module/links"

// incomingKind is the line under an incoming link's name in the list:
// its permission and what kind of client it is.
func incomingKind(l links.Link) string {
	if l.IsOAuth1() {
		return "OAuth 1.0 · Permission: " + l.Ceiling.Label()
	}
	out := "Permission: " + l.Ceiling.Label()
	if l.Public {
		out += " · Public client"
	}
	if l.Registered {
		out += " · Registered by itself"
	}
	return out
}

// credentialNames names what an administrator copies into the
// application: a public client has no secret.
func credentialNames(l links.Link) string {
	if l.IsOAuth1() {
		return "consumer key"
	}
	if l.Public {
		return "client ID (it is a public client, without a secret)"
	}
	return "client ID and secret"
}
