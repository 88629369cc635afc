package oautherror_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/applinks/caddy-applinks/module/oautherror"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name          string
		err           *oautherror.Error
		wantStatus    int
		wantBody      map[string]string
		wantChallenge string
	}{
		{
			name:       "New is 400",
			err:        oautherror.New(oautherror.InvalidGrant, "the code was already used"),
			wantStatus: http.StatusBadRequest,
			wantBody:   map[string]string{"error": "invalid_grant", "error_description": "the code was already used"},
		},
		{
			name:       "zero status is 400",
			err:        &oautherror.Error{Code: oautherror.InvalidRequest},
			wantStatus: http.StatusBadRequest,
			wantBody:   map[string]string{"error": "invalid_request"},
		},
		{
			name:          "401 with challenge",
			err:           &oautherror.Error{Code: oautherror.InvalidClient, Description: "bad secret", Status: http.StatusUnauthorized, Challenge: `Basic realm="applinks"`},
			wantStatus:    http.StatusUnauthorized,
			wantBody:      map[string]string{"error": "invalid_client", "error_description": "bad secret"},
			wantChallenge: `Basic realm="applinks"`,
		},
		{
			name:       "extra members",
			err:        &oautherror.Error{Code: "authorization_required", Status: http.StatusForbidden, Extra: map[string]string{"authorize_url": "https://gw.example/authorize?x=1&y=<2>", "scope": "WRITE"}},
			wantStatus: http.StatusForbidden,
			wantBody:   map[string]string{"error": "authorization_required", "authorize_url": "https://gw.example/authorize?x=1&y=<2>", "scope": "WRITE"},
		},
		{
			name:       "WithStatus",
			err:        oautherror.New(oautherror.TemporarilyUnavailable, "try later").WithStatus(http.StatusServiceUnavailable),
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   map[string]string{"error": "temporarily_unavailable", "error_description": "try later"},
		},
		{
			name:       "description with quotes and unicode",
			err:        oautherror.New(oautherror.InvalidScope, `scope "ADMIN" exceeds the link's ceiling – sorry`),
			wantStatus: http.StatusBadRequest,
			wantBody:   map[string]string{"error": "invalid_scope", "error_description": `scope "ADMIN" exceeds the link's ceiling – sorry`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			oautherror.Write(rec, tt.err)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			for h, want := range map[string]string{
				"Content-Type":     "application/json;charset=UTF-8",
				"Cache-Control":    "no-store",
				"Pragma":           "no-cache",
				"WWW-Authenticate": tt.wantChallenge,
			} {
				if got := res.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if _, set := res.Header["Www-Authenticate"]; set && tt.wantChallenge == "" {
				t.Error("WWW-Authenticate set without a challenge")
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q is not a JSON object of strings: %v", rec.Body.String(), err)
			}
			if !maps.Equal(body, tt.wantBody) {
				t.Errorf("body = %v, want %v", body, tt.wantBody)
			}
		})
	}
}

func TestWriteDoesNotChangeError(t *testing.T) {
	e := &oautherror.Error{Code: oautherror.InvalidToken, Extra: map[string]string{"a": "b"}}
	oautherror.Write(httptest.NewRecorder(), e)
	if e.Status != 0 || len(e.Extra) != 1 {
		t.Fatalf("Write changed the error: %+v", e)
	}
}

func TestWithStatusCopies(t *testing.T) {
	e := oautherror.New(oautherror.InvalidClient, "d")
	c := e.WithStatus(http.StatusUnauthorized)
	if e.Status != http.StatusBadRequest {
		t.Fatalf("WithStatus changed the original to %d", e.Status)
	}
	if c.Status != http.StatusUnauthorized || c.Code != e.Code || c.Description != e.Description {
		t.Fatalf("WithStatus = %+v", c)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *oautherror.Error
		want string
	}{
		{oautherror.New(oautherror.InvalidGrant, "expired"), "invalid_grant: expired"},
		{oautherror.New(oautherror.ServerError, ""), "server_error"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var err error = tt.err
			if got := err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBearerChallenge(t *testing.T) {
	tests := []struct {
		name                            string
		realm, code, description, scope string
		want                            string
	}{
		{"realm only", "applinks", "", "", "", `Bearer realm="applinks"`},
		{"with error", "applinks", "invalid_token", "the access token expired", "",
			`Bearer realm="applinks", error="invalid_token", error_description="the access token expired"`},
		{"insufficient scope", "applinks", "insufficient_scope", "needs write", "WRITE",
			`Bearer realm="applinks", error="insufficient_scope", error_description="needs write", scope="WRITE"`},
		{"scope without error", "r", "", "", "READ", `Bearer realm="r", scope="READ"`},
		// RFC 6750 §3.1: no credentials sent, no error attributes.
		{"description without code", "r", "", "d", "", `Bearer realm="r"`},
		{"empty realm", "", "", "", "", `Bearer realm=""`},
		{"quotes escaped", `my "realm"`, "invalid_token", `bad "token"`, "",
			`Bearer realm="my \"realm\"", error="invalid_token", error_description="bad \"token\""`},
		{"backslashes escaped", `a\b`, "invalid_token", `c\"d`, "",
			`Bearer realm="a\\b", error="invalid_token", error_description="c\\\"d"`},
		{"trailing backslash cannot end the quote", `x\`, "", "", "", `Bearer realm="x\\"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oautherror.BearerChallenge(tt.realm, tt.code, tt.description, tt.scope); got != tt.want {
				t.Fatalf("BearerChallenge = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestClientErrorTextDropsTheResponse: the provider's answer quoted by
// golang.org/x/oauth2 never reaches a log line.
func TestClientErrorTextDropsTheResponse(t *testing.T) {
	err := errors.New("oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"access_token\":\"secret-value\"}")
	if got := oautherror.ClientErrorText(err); got != "oauth2: cannot fetch token: 400 Bad Request" {
		t.Fatalf("ClientErrorText = %q", got)
	}
	if got := oautherror.ClientErrorText(errors.New("dial tcp: refused")); got != "dial tcp: refused" {
		t.Fatalf("ClientErrorText = %q", got)
	}
}
