package adminui

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

func TestGatewayIssuer(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "https://jira.example.com/", want: "https://jira.example.com"},
		{in: "https://example.com/jira/", want: "https://example.com/jira"},
		{in: "http://127.0.0.1:9480", want: "http://127.0.0.1:9480"},
		{in: "", err: "required"},
		{in: "jira.example.com", err: "enter the other gateway's URL"},
		{in: "ftp://jira.example.com", err: "enter the other gateway's URL"},
		{in: "https://jira.example.com/?x=1", err: "query or fragment"},
		{in: "https://jira.example.com/#top", err: "query or fragment"},
		{in: "http://jira.example.com", err: "https"},
		{in: "https://169.254.169.254", err: "169.254.169.254"},
	} {
		got, err := gatewayIssuer(tc.in, outgoing.Policy{Private: true}.Check)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("gatewayIssuer(%q) = %q, %v; want an error about %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("gatewayIssuer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestGatewayWizardRefusesLoopbackGateway: an administrator cannot link
// the gateway, through the two-way wizard, to a gateway on loopback or a
// private address (such as Caddy's admin endpoint on localhost) unless
// the operator allowed private endpoints.
func TestGatewayWizardRefusesLoopbackGateway(t *testing.T) {
	for _, in := range []string{"http://127.0.0.1:2019", "http://localhost:2019", "https://10.1.2.3", "https://[::1]:8443", "https://192.168.0.1"} {
		if got, err := gatewayIssuer(in, outgoing.Policy{}.Check); err == nil || !errors.Is(err, outgoing.ErrRefused) {
			t.Errorf("gatewayIssuer(%q) under the runtime policy = %q, %v; want refused", in, got, err)
		}
	}
}

func TestFormFillAndCheck(t *testing.T) {
	f := &Form{Fields: []Field{
		{Name: "name", Type: "text"},
		{Name: "fixed", Type: "text", Value: "kept", ReadOnly: true},
		{Name: "secret", Type: "password"},
		{Name: "pkce", Type: "checkbox", Checked: true},
		permissionField("scope", "Permission", ""),
	}}
	r := &http.Request{PostForm: url.Values{"name": {"  Wiki  "}, "fixed": {"changed"}, "secret": {" s p "}, "scope": {"ADMIN"}}}
	f.fill(r)
	if f.field("name").Value != "Wiki" || f.field("fixed").Value != "kept" || f.field("secret").Value != " s p " || f.field("pkce").Checked {
		t.Fatalf("fill: %+v", f.Fields)
	}
	selected := slices.IndexFunc(f.field("scope").Options, func(o Option) bool { return o.Selected })
	if selected < 0 || f.field("scope").Options[selected].Value != "ADMIN" {
		t.Fatalf("the submitted permission is not the selected option: %+v", f.field("scope").Options)
	}
	if f.invalid() {
		t.Fatal("a fresh form is invalid")
	}
	if !f.check("name", nil) || f.check("name", errString("name is taken")) || f.check("name", errString("second")) {
		t.Fatal("check returns whether err is nil")
	}
	if got := f.field("name").Error; got != "Name is taken" {
		t.Fatalf("the first error of a field is kept, as a sentence: %q", got)
	}
	if f.check("nosuch", errString("x")) || !f.invalid() {
		t.Fatal("an error about an unknown field")
	}
}

func TestLines(t *testing.T) {
	got := lines(" https://a.example/cb \r\n\n  https://b.example/cb\n ")
	if !slices.Equal(got, []string{"https://a.example/cb", "https://b.example/cb"}) {
		t.Fatalf("lines = %q", got)
	}
	if lines(" \n ") != nil {
		t.Fatal("blank lines are not redirect URLs")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestIssuerOfCallback(t *testing.T) {
	for _, tc := range []struct{ redirect, name, want string }{
		{"https://jira.example.com/applinks/callback/wiki", "wiki", "https://jira.example.com"},
		{"https://example.com/jira/applinks/callback/wiki", "wiki", "https://example.com/jira"},
		{"https://jira.example.com/oauth/cb", "wiki", "https://jira.example.com"},
		{"https://jira.example.com/applinks/callback/other", "wiki", "https://jira.example.com"},
	} {
		if got := issuerOfCallback(tc.redirect, tc.name); got != tc.want {
			t.Errorf("issuerOfCallback(%q, %q) = %q, want %q", tc.redirect, tc.name, got, tc.want)
		}
	}
}

func TestGatewayApplicationURL(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "https://gw.example.com", want: "https://gw.example.com"},
		{in: " https://gw.example.com/plugins/servlet/oauth/consumer-info ", want: "https://gw.example.com"},
		{in: "https://example.com/gw/plugins/servlet/oauth/consumer-info", want: "https://example.com/gw"},
		{in: "https://gw.example.com/plugins/servlet/oauth/consumer-info?x=1", err: "query or fragment"},
		{in: "http://127.0.0.1:9480/plugins/servlet/oauth/consumer-info", err: "127.0.0.1"},
	} {
		got, err := gatewayApplicationURL(tc.in, outgoing.Policy{}.Check)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("gatewayApplicationURL(%q) = %q, %v; want an error about %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("gatewayApplicationURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
