package outgoing_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

func TestDiscoveryKeepsSuccessOnly(t *testing.T) {
	var d outgoing.Discovery
	calls := 0
	fail := true
	discover := func(_ context.Context, c *http.Client) (oauth2.Endpoint, error) {
		calls++
		if c == nil {
			t.Error("discover got no client")
		}
		if fail {
			return oauth2.Endpoint{}, errors.New("down")
		}
		return oauth2.Endpoint{AuthURL: "https://idp.example/a", TokenURL: "https://idp.example/t"}, nil
	}
	if _, err := d.Endpoint(t.Context(), nil, "https://idp.example", discover); err == nil {
		t.Fatal("a failed discovery returned no error")
	}
	fail = false
	for range 3 {
		ep, err := d.Endpoint(t.Context(), nil, "https://idp.example", discover)
		if err != nil || ep.TokenURL != "https://idp.example/t" {
			t.Fatalf("Endpoint = %+v, %v", ep, err)
		}
	}
	if calls != 2 {
		t.Fatalf("discover ran %d times, want 2 (the failure is retried, the success kept)", calls)
	}
}
