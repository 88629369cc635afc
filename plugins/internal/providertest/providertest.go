// Package providertest holds what the tests of the provider plugins share:
// provisioning a provider in a Caddy context, and parsing Caddyfile input
// the way the outgoing block does.
package providertest

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Module is a provider module as the tests drive it.
type Module interface {
	caddy.Provisioner
	caddy.Validator
}

// Provision provisions and validates m in a fresh Caddy context, cancelled
// when the test ends.
func Provision(t testing.TB, m Module) error {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		return err
	}
	return m.Validate()
}

// UnmarshalModule parses input that starts with `provider <name> …` the
// way the outgoing block does, through caddyfile.UnmarshalModule.
func UnmarshalModule(t testing.TB, input string) caddyfile.Unmarshaler {
	t.Helper()
	d := caddyfile.NewTestDispenser(input)
	d.Next()
	d.NextArg()
	unm, err := caddyfile.UnmarshalModule(d, "applinks.providers."+d.Val())
	if err != nil {
		t.Fatal(err)
	}
	return unm
}

// Unmarshal runs u.UnmarshalCaddyfile on input. With wantErr set, it fails
// the test unless the error contains wantErr and returns false; otherwise
// it fails the test on any error and returns true: the caller then checks
// the parsed value.
func Unmarshal(t testing.TB, u caddyfile.Unmarshaler, input, wantErr string) bool {
	t.Helper()
	err := u.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input))
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
