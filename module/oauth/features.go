package oauth

import (
	"context"
	"fmt"
)

// Features are the optional parts of the authorization server that are
// on, which its metadata advertises.
type Features struct {
	// PublicClients: some incoming link is public.
	PublicClients bool
	// ClientCredentials: some incoming link may use client_credentials.
	ClientCredentials bool
	// Registration: dynamic client registration (RFC 7591) is on.
	Registration bool
	// ClientIDMetadataDocuments: https URLs are taken as client ids.
	ClientIDMetadataDocuments bool
}

// features reports what is on now, from the links and the app's
// configuration.
func (s *Server) features(ctx context.Context) (Features, error) {
	kinds, err := s.app.Links().Kinds(ctx)
	if err != nil {
		return Features{}, fmt.Errorf("listing links for the metadata: %w", err)
	}
	_, registration := s.app.Registration()
	return Features{
		PublicClients:     kinds.Public,
		ClientCredentials: kinds.ClientCredentials,
		Registration:      registration,

		ClientIDMetadataDocuments: s.app.ClientIDMetadataDocuments(),
	}, nil
}
