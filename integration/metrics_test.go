package integration

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/applinks/caddy-applinks/module/scope"
)

// metric reads one sample from the admin endpoint's /metrics.
func metric(t *testing.T, line string) float64 {
	t.Helper()
	resp, err := http.Get(adminBase + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	m := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(line) + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetrics: the counters in Caddy's metrics registry follow what the
// gateway does: tokens issued by grant type, replays, validations by
// outcome and sign-ins.
func TestMetrics(t *testing.T) {
	up := upstream(t)
	g := startGateway(t, gatewayOptions{extraGlobal: sysLinkConfig, site: "applinks\n\trequire_token\n\treverse_proxy " + up.URL})
	tok := obtainTokens(t, "alice", oauth2.AuthStyleInParams)
	if status, m := refresh(t, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, m)
	}
	gw := mint(t, g, "bob", scope.Read)
	for range 3 {
		call(t, "GET", "/api", bearer(gw.AccessToken))
	}
	call(t, "GET", "/api", bearer("ala_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	call(t, "GET", "/api", bearer(tok.AccessToken)) // replaced by the refresh: invalid
	signIn(t, browser(t), "alice", "wrong").Body.Close()

	for line, want := range map[string]float64{
		`applinks_tokens_issued_total{grant_type="authorization_code"}`: 2, // the flow and mint
		`applinks_tokens_issued_total{grant_type="refresh_token"}`:      1,
		`applinks_token_validations_total{outcome="valid"}`:             3,
		`applinks_sign_ins_total{method="password",outcome="success"}`:  1,
		`applinks_sign_ins_total{method="password",outcome="failure"}`:  1,
	} {
		if got := metric(t, line); got != want {
			t.Errorf("%s = %v, want %v", line, got, want)
		}
	}
	// The malformed token is refused before validation; the replaced one
	// is validated and found invalid.
	if got := metric(t, `applinks_token_validations_total{outcome="invalid"}`); got != 1 {
		t.Errorf("invalid validations = %v, want 1", got)
	}
	// Presented again after the 2 s grace, the refresh token is a replay.
	time.Sleep(2100 * time.Millisecond)
	if status, _ := refresh(t, tok.RefreshToken); status != http.StatusBadRequest {
		t.Fatalf("replay after the grace: %d", status)
	}
	if got := metric(t, `applinks_replays_detected_total{kind="refresh_token"}`); got != 1 {
		t.Errorf("refresh-token replays = %v, want 1", got)
	}
}
