package links

import "context"

// Kinds tells which kinds of client exist among the links.
type Kinds struct {
	// Public: some link is a public client.
	Public bool
	// ClientCredentials: some link may use the client_credentials grant.
	ClientCredentials bool
	// OAuth1: some link is an OAuth 1.0a consumer.
	OAuth1 bool
}

// Kinds reports which kinds of client the declared and runtime links
// are; disabled links do not count.
func (r *Registry) Kinds(ctx context.Context) (Kinds, error) {
	all, err := r.List(ctx)
	if err != nil {
		return Kinds{}, err
	}
	var k Kinds
	for _, l := range all {
		if l.Disabled {
			continue
		}
		k.Public = k.Public || l.Public
		k.ClientCredentials = k.ClientCredentials || l.ServiceUser != ""
		k.OAuth1 = k.OAuth1 || l.IsOAuth1()
	}
	return k, nil
}
