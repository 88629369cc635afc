package applinks

import "github.com/applinks/caddy-applinks/module/resource"

// RegisterResource records a resource a guard of this config protects, so
// that the gateway serves its RFC 9728 metadata and the authorization
// server accepts it as an RFC 8707 resource indicator. Guards call it when
// they are provisioned.
func (a *App) RegisterResource(r resource.Resource) { a.resources.Add(r) }

// Resources returns the resources the guards of this config protect.
func (a *App) Resources() *resource.Set { return &a.resources }
