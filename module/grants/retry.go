package grants

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/applinks/caddy-applinks/module/secret"
)

// A refresh retry within the grace gets the very pair the first use
// issued, so a family never forks: lost responses and parallel tabs are
// served, yet the family has one live refresh token at every moment. The
// pair is kept on the used refresh token's record, sealed with a key
// derived from that refresh token: the store holds only the token's hash,
// so neither the database nor the server's keys open it, only a client
// presenting the token again.

// retryPurpose binds a sealed pair to its use; the sealing key comes from
// secret.FromToken (HKDF), never token.Hash of the same token (a plain
// SHA-256), which the store keeps.
const retryPurpose = "applinks refresh retry"

// child is the pair issued for a refresh token, as kept for retries.
type child struct {
	AccessToken     string    `json:"a"`
	RefreshToken    string    `json:"r"`
	Scope           string    `json:"s"`
	AccessExpiresAt time.Time `json:"e"`
}

// sealChild seals c with a key only the parent refresh token gives.
func sealChild(parent string, c child) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding refresh child: %w", err)
	}
	keys, err := secret.FromToken(parent)
	if err != nil {
		return nil, fmt.Errorf("sealing refresh child: %w", err)
	}
	return keys.Seal(plain, []byte(retryPurpose)), nil
}

// openChild opens what sealChild sealed for the same parent token.
func openChild(parent string, sealed []byte) (child, error) {
	keys, err := secret.FromToken(parent)
	if err != nil {
		return child{}, fmt.Errorf("opening refresh child: %w", err)
	}
	plain, err := keys.Open(sealed, []byte(retryPurpose))
	if err != nil {
		return child{}, fmt.Errorf("opening refresh child: %w", err)
	}
	var c child
	if err := json.Unmarshal(plain, &c); err != nil {
		return child{}, fmt.Errorf("decoding refresh child: %w", err)
	}
	return c, nil
}
