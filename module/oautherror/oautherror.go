// Package oautherror is the one error type and writer for answers defined by
// the OAuth 2.0 contract: RFC 6749 §5.2 token-endpoint errors, RFC 6750 §3
// bearer-token errors and the gateway's own authorization_required.
package oautherror

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Error codes of RFC 6749, RFC 6750 and RFC 7009.
const (
	InvalidRequest          = "invalid_request"
	InvalidClient           = "invalid_client"
	InvalidGrant            = "invalid_grant"
	UnauthorizedClient      = "unauthorized_client"
	UnsupportedGrantType    = "unsupported_grant_type"
	InvalidScope            = "invalid_scope"
	AccessDenied            = "access_denied"
	UnsupportedResponseType = "unsupported_response_type"
	ServerError             = "server_error"
	UnsupportedTokenType    = "unsupported_token_type"
	InvalidToken            = "invalid_token"
	InsufficientScope       = "insufficient_scope"
	TemporarilyUnavailable  = "temporarily_unavailable"
)

// Unauthorized is the JSON error of a 401 sent because a request came
// without credentials. It is no RFC 6750 error code: the challenge of such
// an answer carries none (RFC 6750 §3.1), only the body names it.
const Unauthorized = "unauthorized"

// Error is an OAuth error answer. Description is written for a client
// developer and never holds a token, code or secret.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status; 400 when zero.
	Status int `json:"-"`
	// Challenge, when set, is sent as WWW-Authenticate (e.g. `Basic
	// realm="applinks"` for a failed HTTP Basic client authentication).
	Challenge string `json:"-"`
	// OtherChallenges are further WWW-Authenticate values, each its own
	// header line (e.g. the OAuth 1.0a scheme beside Bearer).
	OtherChallenges []string `json:"-"`
	// Extra members added to the JSON body (e.g. authorize_url).
	Extra map[string]string `json:"-"`
}

// New returns an Error with status 400.
func New(code, description string) *Error {
	return &Error{Code: code, Description: description, Status: http.StatusBadRequest}
}

// Error implements error.
func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// WithStatus returns a copy of e with another HTTP status.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	return &c
}

// Write sends e as a JSON body with Cache-Control: no-store.
func Write(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if e.Challenge != "" {
		h.Set("WWW-Authenticate", e.Challenge)
	}
	for _, c := range e.OtherChallenges {
		h.Add("WWW-Authenticate", c)
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	body := make(map[string]string, len(e.Extra)+2)
	for k, v := range e.Extra {
		body[k] = v
	}
	body["error"] = e.Code
	if e.Description != "" {
		body["error_description"] = e.Description
	} else {
		delete(body, "error_description")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// BearerChallenge formats a WWW-Authenticate value for RFC 6750 §3:
// Bearer realm="…"[, error="…"[, error_description="…"]][, scope="…"].
// Without a code the description is left out too: a request that sent no
// credentials gets no error attributes (RFC 6750 §3.1).
func BearerChallenge(realm, code, description, scope string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm=`)
	b.WriteString(quote(realm))
	if code != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(code))
	}
	if code != "" && description != "" {
		b.WriteString(`, error_description=`)
		b.WriteString(quote(description))
	}
	if scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(scope))
	}
	return b.String()
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// ClientErrorText is the message of an error from an OAuth 2.0 client call
// (golang.org/x/oauth2) without the response body it may quote, so that no
// token or secret from a provider's answer reaches a log.
func ClientErrorText(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "Response:"); i >= 0 {
		msg = msg[:i]
	}
	return strings.TrimSpace(msg)
}
