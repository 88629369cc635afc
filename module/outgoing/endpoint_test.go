package outgoing_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

func TestCheckEndpoint(t *testing.T) {
	allowed := []string{
		"https://accounts.google.com/o/oauth2/v2/auth",
		"https://login.microsoftonline.com/common/oauth2/v2.0/token",
		"https://example.com:8443/token?tenant=a",
		"HTTPS://Example.COM/",
		"https://10.0.0.5/token",      // private addresses stay allowed
		"https://[2001:db8::1]/token", // global IPv6
		"http://localhost:8080/token",
		"http://LOCALHOST./token",
		"http://127.0.0.1:9000/token",
		"http://127.5.6.7/token",
		"http://[::1]:8080/token",
		"http://[::ffff:127.0.0.1]/token",
	}
	for _, raw := range allowed {
		t.Run(raw, func(t *testing.T) {
			if err := outgoing.CheckEndpoint(raw); err != nil {
				t.Fatalf("CheckEndpoint(%q) = %v, want nil", raw, err)
			}
		})
	}

	refused := []struct {
		raw  string
		want string // in the error message
	}{
		{"", "absolute URL"},
		{"/oauth/token", "absolute URL"},
		{"example.com/token", "absolute URL"},
		{"https:opaque", "absolute URL"},
		{"https:///token", "absolute URL"},
		{"http://%zz/", "not a URL"},
		{"ftp://example.com/token", `scheme "ftp"`},
		{"file:///etc/passwd", "absolute URL"},
		{"http://example.com/token", "https is required"},
		{"http://10.0.0.5/token", "https is required"},
		{"http://localhost.example.com/token", "https is required"},
		{"https://user:hunter2@example.com/token", "userinfo"},
		{"https://user@example.com/token", "userinfo"},
		{"https://example.com/token#frag", "fragment"},
		{"https://example.com/token#", "fragment"},
		{"https://169.254.169.254/latest/meta-data/", "cloud metadata address"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata address"},
		{"https://[fd00:ec2::254]/latest/meta-data/", "cloud metadata address"},
		{"https://100.100.100.200/latest/meta-data/", "cloud metadata address"},
		{"https://[::ffff:169.254.169.254]/", "cloud metadata address"},
		{"https://[64:ff9b::a9fe:a9fe]/", "cloud metadata address (through NAT64)"},
		{"https://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"},
		{"https://METADATA.Google.Internal./computeMetadata/v1/", "cloud metadata service"},
		{"http://metadata/computeMetadata/v1/", "cloud metadata service"},
		{"https://169.254.10.1/", "link-local"},
		{"https://[fe80::1]/", "link-local"},
		{"https://[fe80::1%25eth0]/", "link-local"},
		{"https://[ff02::1]/", "link-local"},
		{"https://0.0.0.0/", "unspecified"},
		{"http://0.0.0.0:8080/", "unspecified"},
		{"https://0.1.2.3/", "unspecified"},
		{"https://[::]/", "unspecified"},
		{"https://224.0.0.251/", "multicast"},
		{"https://239.1.2.3/", "multicast"},
		{"https://[ff05::1]/", "multicast"},
		{"https://2852039166/", "non-canonical IPv4"},
		{"https://0xa9fea9fe/", "non-canonical IPv4"},
		{"https://0251.0376.0251.0376/", "non-canonical IPv4"},
		{"https://169.254.43518/", "non-canonical IPv4"},
		{"http://127.1/", "non-canonical IPv4"},
	}
	for _, tt := range refused {
		t.Run(tt.raw, func(t *testing.T) {
			err := outgoing.CheckEndpoint(tt.raw)
			if err == nil {
				t.Fatalf("CheckEndpoint(%q) = nil, want an error", tt.raw)
			}
			if !errors.Is(err, outgoing.ErrRefused) {
				t.Errorf("error %v does not wrap ErrRefused", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

// TestNewClientRefusesMetadata: a request to the cloud metadata service is
// refused at once, without any packet sent.
func TestNewClientRefusesMetadata(t *testing.T) {
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	for _, raw := range []string{
		"http://169.254.169.254/latest/meta-data/",
		"https://169.254.169.254/latest/meta-data/",
		"https://[fd00:ec2::254]/latest/meta-data/",
		"http://metadata.google.internal/computeMetadata/v1/",
	} {
		start := time.Now()
		resp, err := client.Get(raw)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("GET %s succeeded, want refused", raw)
		}
		if !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("GET %s: error %v does not wrap ErrRefused", raw, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("GET %s took %v, want an immediate refusal", raw, d)
		}
	}
}

func TestNewClientReachesLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", srv.URL)
	}
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	for _, path := range []string{"/", "/redirect"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ok" && path == "/redirect" {
			t.Errorf("GET %s: status %d at %s", path, resp.StatusCode, resp.Request.URL)
		}
	}
}

// TestNewClientRedirectToMetadata: a provider endpoint (or an attacker who
// controls one) cannot bounce the gateway to the metadata service or any
// other refused URL with a redirect.
func TestNewClientRedirectToMetadata(t *testing.T) {
	targets := []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://metadata.google.internal/computeMetadata/v1/",
		"http://example.com/token", // plain http to a remote host
		"https://user:pw@example.com/token",
		"https://[fe80::1]/",
	}
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	defer srv.Close()
	client := outgoing.NewClient(5*time.Second, outgoing.Policy{Private: true})
	for _, target := range targets {
		hits = 0
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		q := req.URL.Query()
		q.Set("to", target)
		req.URL.RawQuery = q.Encode()
		start := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("redirect to %s followed, status %d", target, resp.StatusCode)
		}
		if !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("redirect to %s: error %v does not wrap ErrRefused", target, err)
		}
		if hits != 1 {
			t.Errorf("redirect to %s: %d requests to the test server, want 1", target, hits)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("redirect to %s: took %v, want an immediate refusal", target, d)
		}
	}
}

func TestNewClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	resp, err := outgoing.NewClient(100*time.Millisecond, outgoing.Policy{Private: true}).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to a stalled server succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("request took %v with a 100ms timeout", d)
	}
}
