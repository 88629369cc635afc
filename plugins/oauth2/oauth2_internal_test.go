package oauth2

import (
	"testing"

	"golang.org/x/oauth2"
)

func TestMetadataURL(t *testing.T) {
	tests := []struct{ issuer, want string }{
		{"https://as.example.com", "https://as.example.com/.well-known/oauth-authorization-server"},
		{"https://as.example.com/", "https://as.example.com/.well-known/oauth-authorization-server"},
		{"https://as.example.com:8443/tenant1", "https://as.example.com:8443/.well-known/oauth-authorization-server/tenant1"},
		{"https://as.example.com/a/b/", "https://as.example.com/.well-known/oauth-authorization-server/a/b"},
		{"https://as.example.com/a%2Fb", "https://as.example.com/.well-known/oauth-authorization-server/a%2Fb"},
	}
	for _, tt := range tests {
		got, err := metadataURL(tt.issuer)
		if err != nil || got != tt.want {
			t.Errorf("metadataURL(%q) = %q, %v; want %q", tt.issuer, got, err, tt.want)
		}
	}
	for _, issuer := range []string{"https://as.example.com?x=1", "https://as.example.com/?", "https://as.example.com/#x"} {
		if _, err := metadataURL(issuer); err == nil {
			t.Errorf("metadataURL(%q) succeeded, want an error", issuer)
		}
	}
}

func TestAuthStyle(t *testing.T) {
	tests := []struct {
		methods []string
		want    oauth2.AuthStyle
	}{
		{nil, oauth2.AuthStyleInHeader},
		{[]string{"client_secret_post", "client_secret_basic"}, oauth2.AuthStyleInHeader},
		{[]string{"client_secret_post"}, oauth2.AuthStyleInParams},
		{[]string{"private_key_jwt"}, oauth2.AuthStyleAutoDetect},
	}
	for _, tt := range tests {
		if got := authStyle(tt.methods); got != tt.want {
			t.Errorf("authStyle(%v) = %v, want %v", tt.methods, got, tt.want)
		}
	}
}
