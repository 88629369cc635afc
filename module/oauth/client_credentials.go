package oauth

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/applinks/caddy-applinks/module/oautherror"
)

// singleValued refuses a form in which a parameter appears more than once
// (RFC 6749 §3.1: request parameters must not be repeated), so that no
// reader of the form takes a different value than another.
func singleValued(form url.Values) *oautherror.Error {
	for k, vs := range form {
		if len(vs) > 1 {
			return oautherror.New(oautherror.InvalidRequest, "the parameter "+k+" appears more than once")
		}
	}
	return nil
}

// clientCredentials reads the client id and secret of a token, revocation
// or introspection request from its Authorization values and its form:
// client_secret_basic (one `Basic` header in canonical base64 of the
// form-encoded id and secret, RFC 6749 §2.3.1) or client_secret_post, not
// both. basic tells which one the client used; a missing id is an error,
// a missing secret is left to the caller (a public client has none).
func clientCredentials(authorization []string, form url.Values) (id, secret string, basic bool, err *oautherror.Error) {
	id, secret, basic, err = basicCredentials(authorization)
	if err != nil {
		return "", "", basic, err
	}
	if basic {
		if form.Get("client_secret") != "" {
			return "", "", basic, oautherror.New(oautherror.InvalidRequest, "use one client authentication method, not both Basic and client_secret")
		}
		if fid := form.Get("client_id"); fid != "" && fid != id {
			return "", "", basic, oautherror.New(oautherror.InvalidRequest, "client_id does not match the Basic credentials")
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	if id == "" {
		e := oautherror.New(oautherror.InvalidClient, "client authentication is required (client_secret_basic or client_secret_post, or a public client's client_id)").WithStatus(http.StatusUnauthorized)
		e.Challenge = basicChallenge
		return "", "", basic, e
	}
	return id, secret, basic, nil
}

// basicCredentials reads client_secret_basic. basic is false when no
// Authorization header uses the Basic scheme; a Basic header that is
// repeated, not canonical base64, without a colon or not form-encoded is
// refused rather than passed over.
func basicCredentials(authorization []string) (id, secret string, basic bool, err *oautherror.Error) {
	const prefix = "Basic "
	for _, v := range authorization {
		if len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
			basic = true
		}
	}
	if !basic {
		return "", "", false, nil
	}
	if len(authorization) > 1 {
		return "", "", true, oautherror.New(oautherror.InvalidRequest, "the request has several Authorization headers")
	}
	enc := authorization[0][len(prefix):]
	raw, derr := base64.StdEncoding.Strict().DecodeString(enc)
	if derr != nil || base64.StdEncoding.EncodeToString(raw) != enc {
		return "", "", true, clientFailed(true, "the Basic credentials are not valid base64")
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", true, clientFailed(true, "the Basic credentials hold no colon between client id and secret")
	}
	// RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil {
		return "", "", true, clientFailed(true, "the Basic credentials are not form-encoded")
	}
	return id, secret, true, nil
}
