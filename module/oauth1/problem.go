package oauth1

import (
	"net/http"
	"net/url"
	"strings"
)

// Problems of the OAuth Problem Reporting extension, the oauth_problem
// values Atlassian products answer with.
const (
	ProblemVersionRejected         = "version_rejected"
	ProblemParameterAbsent         = "parameter_absent"
	ProblemParameterRejected       = "parameter_rejected"
	ProblemTimestampRefused        = "timestamp_refused"
	ProblemNonceUsed               = "nonce_used"
	ProblemSignatureMethodRejected = "signature_method_rejected"
	ProblemSignatureInvalid        = "signature_invalid"
	ProblemConsumerKeyUnknown      = "consumer_key_unknown"
	ProblemConsumerKeyRejected     = "consumer_key_rejected"
	ProblemTokenUsed               = "token_used"
	ProblemTokenExpired            = "token_expired"
	ProblemTokenRevoked            = "token_revoked"
	ProblemTokenRejected           = "token_rejected"
	ProblemPermissionDenied        = "permission_denied"
	ProblemPermissionUnknown       = "permission_unknown"
)

// Problem is a refusal of a signed request, answered as the OAuth Problem
// Reporting extension says: oauth_problem, with the parameters it defines
// for some problems, in the WWW-Authenticate challenge and in a form body.
// Advice is written for a client developer and never holds a token,
// secret or signature.
type Problem struct {
	Code   string
	Advice string
	// Params are the problem's own parameters, e.g.
	// oauth_parameters_absent or oauth_acceptable_timestamps.
	Params url.Values
	// Status is the HTTP status; when zero, 400 for malformed requests
	// (absent or rejected parameters, an unsupported version or signature
	// method) and 401 for the rest, as RFC 5849 §3.2 asks.
	Status int
}

// Error implements error.
func (p *Problem) Error() string {
	if p.Advice == "" {
		return "oauth_problem=" + p.Code
	}
	return "oauth_problem=" + p.Code + ": " + p.Advice
}

// HTTPStatus is the status the problem is answered with.
func (p *Problem) HTTPStatus() int {
	if p.Status != 0 {
		return p.Status
	}
	switch p.Code {
	case ProblemParameterAbsent, ProblemParameterRejected, ProblemVersionRejected, ProblemSignatureMethodRejected:
		return http.StatusBadRequest
	}
	return http.StatusUnauthorized
}

// problem returns a Problem with advice.
func problem(code, advice string) *Problem {
	return &Problem{Code: code, Advice: advice}
}

// form is the problem as application/x-www-form-urlencoded parameters.
func (p *Problem) form() url.Values {
	v := url.Values{"oauth_problem": {p.Code}}
	if p.Advice != "" {
		v.Set("oauth_problem_advice", p.Advice)
	}
	for k, vs := range p.Params {
		v[k] = vs
	}
	return v
}

// Write answers the problem: the status, a challenge naming realm and the
// problem (`OAuth realm="…", oauth_problem="…"`, as Atlassian products
// send it) and the problem's parameters as a form body. Nothing of the
// answer is cached.
func (p *Problem) Write(w http.ResponseWriter, realm string) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("WWW-Authenticate", Challenge(realm, p))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	w.WriteHeader(p.HTTPStatus())
	_, _ = w.Write([]byte(p.form().Encode()))
}

// Challenge is the WWW-Authenticate value for realm; with a problem it
// names it and its advice, each percent-encoded as RFC 5849 §3.5.1 encodes
// header parameters.
func Challenge(realm string, p *Problem) string {
	var b strings.Builder
	b.WriteString(`OAuth realm="`)
	b.WriteString(Encode(realm))
	b.WriteByte('"')
	if p != nil {
		for _, kv := range [][2]string{{"oauth_problem", p.Code}, {"oauth_problem_advice", p.Advice}} {
			if kv[1] == "" {
				continue
			}
			b.WriteString(", ")
			b.WriteString(kv[0])
			b.WriteString(`="`)
			b.WriteString(Encode(kv[1]))
			b.WriteByte('"')
		}
	}
	return b.String()
}

// ChallengeProblem returns the oauth_problem a service provider's answer
// names in its `WWW-Authenticate: OAuth …` challenge, as Atlassian
// products send it (`OAuth realm="…", oauth_problem="token_rejected"`),
// or "" when it names none. It reads leniently: a provider that does not
// percent-encode the challenge's other parameters is still understood.
func ChallengeProblem(h http.Header) string {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, rest, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
		if !strings.EqualFold(scheme, "OAuth") {
			continue
		}
		for rest != "" {
			var param string
			param, rest = nextChallengeParam(rest)
			name, value, ok := strings.Cut(param, "=")
			if ok && strings.TrimSpace(name) == "oauth_problem" {
				value = strings.Trim(strings.TrimSpace(value), `"`)
				if decoded, err := decode(value, false); err == nil {
					return decoded
				}
				return value
			}
		}
	}
	return ""
}

// nextChallengeParam splits s at the first comma outside double quotes.
func nextChallengeParam(s string) (param, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}
