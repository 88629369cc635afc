package applinks

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestAdminListenIsReadFromTheConfig: the admin addresses the provider
// clients refuse are those of the config being loaded (not the default
// localhost:2019 when the operator moved the admin endpoint), so a token
// endpoint cannot reach a moved admin endpoint's /stop.
func TestAdminListenIsReadFromTheConfig(t *testing.T) {
	for _, tt := range []struct {
		name  string
		admin *caddy.AdminConfig
		want  []string
	}{
		{"moved", &caddy.AdminConfig{Listen: "localhost:2999"}, []string{"localhost:2999"}},
		{"default", &caddy.AdminConfig{}, []string{caddy.DefaultAdminListen}},
		{"disabled", &caddy.AdminConfig{Disabled: true}, nil},
		{"remote", &caddy.AdminConfig{Listen: "127.0.0.1:2998", Remote: &caddy.RemoteAdmin{Listen: ":2997"}}, []string{"127.0.0.1:2998", ":2997"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := caddy.ProvisionContext(&caddy.Config{Admin: tt.admin})
			if err != nil {
				t.Fatal(err)
			}
			if got := adminListen(ctx); !slices.Equal(got, tt.want) {
				t.Fatalf("adminListen = %q, want %q", got, tt.want)
			}
		})
	}
	if got := adminListen(caddy.Context{}); !slices.Equal(got, []string{caddy.DefaultAdminListen}) {
		t.Fatalf("adminListen of a context without config = %q, want the default", got)
	}
}

// TestAdminAddressesCoverEveryWayIn: an admin endpoint on localhost is
// refused at both loopback addresses, and one on all interfaces at
// loopback too; a unix socket gives no TCP address.
func TestAdminAddressesCoverEveryWayIn(t *testing.T) {
	got := adminAddresses(t.Context(), []string{"localhost:2999", ":2019", "tcp/[::]:2020", "unix//run/caddy-admin.sock"})
	for _, want := range []string{"127.0.0.1:2999", "[::1]:2999", "127.0.0.1:2019", "[::1]:2019", "127.0.0.1:2020", "[::1]:2020"} {
		if !slices.Contains(got, netip.MustParseAddrPort(want)) {
			t.Errorf("adminAddresses = %v, want %s among them", got, want)
		}
	}
	for _, ap := range got {
		if p := ap.Port(); p != 2999 && p != 2019 && p != 2020 {
			t.Errorf("adminAddresses has %s, on no admin port", ap)
		}
	}
}
