package provider

import (
	"errors"
	"testing"

	"github.com/applinks/caddy-applinks/module/oauth1"
)

// TestCallbackStaysUnderTheDeclaredOne: with a declared callback, only a
// callback of the same origin at or below its path is accepted, however
// the path is spelled to climb out (dot segments, encoded dots,
// backslashes) or the host to look alike, so the verifier cannot be sent
// to another application; without one, any http(s) URL or oob.
func TestCallbackStaysUnderTheDeclaredOne(t *testing.T) {
	const declared = "https://jira.example.com/plugins/servlet/applinks/oauth/login.dance"
	for _, c := range []struct {
		declared, sent, want string
	}{
		{declared, "", declared},
		{declared, declared, declared},
		{declared, declared + "/access?x=1", declared + "/access?x=1"},
		{declared, declared + "?state=1", declared + "?state=1"},
		{declared, "HTTPS://JIRA.example.com/plugins/servlet/applinks/oauth/login.dance/x", "HTTPS://JIRA.example.com/plugins/servlet/applinks/oauth/login.dance/x"},
		{"https://jira.example.com", "https://jira.example.com/anything", "https://jira.example.com/anything"},
		{"", "", oauth1.OOB},
		{"", "oob", oauth1.OOB},
		{"", "http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/cb"},
	} {
		got, err := acceptCallback(c.declared, c.sent)
		if err != nil || got != c.want {
			t.Errorf("declared %q, sent %q: %q %v, want %q", c.declared, c.sent, got, err, c.want)
		}
	}
	for _, c := range []struct{ declared, sent string }{
		{declared, "oob"},
		{declared, "https://jira.example.com/plugins/servlet/applinks/oauth/login.dancer"},
		{declared, "https://jira.example.com/plugins/servlet/applinks/oauth/login.dance/../../../../evil"},
		{declared, "https://jira.example.com/plugins/servlet/applinks/oauth/login.dance/%2e%2e/%2e%2e/evil"},
		{declared, "https://jira.example.com/plugins/servlet/applinks/oauth/login.dance/..\\..\\evil"},
		{declared, "https://jira.example.com.evil.example/plugins/servlet/applinks/oauth/login.dance"},
		{declared, "https://jira.example.com:8443/plugins/servlet/applinks/oauth/login.dance"},
		{declared, "http://jira.example.com/plugins/servlet/applinks/oauth/login.dance"},
		{declared, "https://user@jira.example.com/plugins/servlet/applinks/oauth/login.dance"},
		{"https://jira.example.com", "https://jira.example.com@evil.example/"},
		{"", "javascript:alert(1)"},
		{"", "/relative"},
		{"", "https://a.example/cb#frag"},
	} {
		_, err := acceptCallback(c.declared, c.sent)
		var p *oauth1.Problem
		if !errors.As(err, &p) || p.Code != oauth1.ProblemParameterRejected {
			t.Errorf("declared %q, sent %q: %v, want parameter_rejected", c.declared, c.sent, err)
		}
	}
}

// TestVerifiersAreTypableAndRandom: verifiers use the alphabet without
// look-alike characters, have the full length and do not repeat.
func TestVerifiersAreTypableAndRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		v := newVerifier()
		if len(v) != verifierLen {
			t.Fatalf("verifier %q has %d characters", v, len(v))
		}
		for _, c := range v {
			if c == '0' || c == 'O' || c == '1' || c == 'l' || c == 'I' {
				t.Fatalf("verifier %q holds a look-alike character", v)
			}
		}
		if seen[v] {
			t.Fatalf("verifier %q twice", v)
		}
		seen[v] = true
	}
}
