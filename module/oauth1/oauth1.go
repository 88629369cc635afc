// Package oauth1 reads and verifies OAuth 1.0a signed requests (RFC 5849)
// as a service provider does: the protocol parameters from the
// Authorization header, the query or a form body, the signature base
// string built from the URL the client used, RSA-SHA1 and HMAC-SHA1
// signatures, the timestamp window, and refusals in the words of the OAuth
// Problem Reporting extension.
package oauth1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Signature methods a consumer may sign with. PLAINTEXT is refused: it
// sends the secrets themselves.
const (
	RSASHA1  = "RSA-SHA1"
	HMACSHA1 = "HMAC-SHA1"
)

// OOB is the oauth_callback of a consumer that cannot receive a callback:
// the person is shown the verifier to type in.
const OOB = "oob"

// maxNonceLen bounds oauth_nonce, which is remembered for the timestamp
// window.
const maxNonceLen = 255

// ErrNotSigned means the request carries no OAuth 1.0a protocol
// parameters at all: no `Authorization: OAuth` header and no
// oauth_consumer_key in its query or form body.
var ErrNotSigned = errors.New("not an OAuth 1.0a signed request")

// ErrFormTooLarge means a form body was longer than Parse may read.
var ErrFormTooLarge = errors.New("form body too large")

// Request is what a signed request claims: its protocol parameters and the
// signature base string they are checked against. Nothing in it is
// verified until VerifyRSA or VerifyHMAC says so.
type Request struct {
	ConsumerKey     string
	Token           string
	SignatureMethod string
	Timestamp       int64
	Nonce           string
	// Callback is oauth_callback (request-token requests), Verifier
	// oauth_verifier (access-token requests).
	Callback string
	Verifier string
	// Params are the request's other parameters (query and form), e.g.
	// xoauth_requestor_id; each name with its first value.
	Params url.Values

	signature string
	base      string
}

// pair is one name/value parameter, decoded.
type pair struct{ name, value string }

// Parse reads the OAuth 1.0a protocol parameters of r. uri is the
// absolute URL the client sent the request to, as it wrote it (the public
// scheme and host, the original path and query): the signature covers
// that, not what a proxy in between made of it. A form body
// (application/x-www-form-urlencoded) is read up to maxForm bytes and put
// back unchanged for whoever reads r next.
//
// Errors: ErrNotSigned, ErrFormTooLarge, or a *Problem
// (parameter_absent, parameter_rejected, version_rejected,
// signature_method_rejected).
func Parse(r *http.Request, uri string, maxForm int64) (*Request, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("oauth1: request URL %q is not absolute", uri)
	}
	header, signedHeader, err := headerParams(r.Header.Values("Authorization"))
	if err != nil {
		return nil, err
	}
	query, err := formPairs(u.RawQuery)
	if err != nil {
		return nil, problem(ProblemParameterRejected, "the query is not percent-encoded correctly")
	}
	body, err := formBody(r, maxForm)
	if err != nil {
		return nil, err
	}
	if !signedHeader && !hasName(query, "oauth_consumer_key") && !hasName(body, "oauth_consumer_key") {
		return nil, ErrNotSigned
	}
	all := make([]pair, 0, len(header)+len(query)+len(body))
	all = append(append(append(all, header...), query...), body...)
	q := &Request{Params: url.Values{}}
	protocol := map[string]string{}
	for _, p := range all {
		if !strings.HasPrefix(p.name, "oauth_") {
			if _, ok := q.Params[p.name]; !ok {
				q.Params.Set(p.name, p.value)
			}
			continue
		}
		if _, twice := protocol[p.name]; twice {
			return nil, &Problem{Code: ProblemParameterRejected, Advice: "a protocol parameter appears more than once", Params: url.Values{"oauth_parameters_rejected": {p.name}}}
		}
		protocol[p.name] = p.value
	}
	if err := q.fill(protocol); err != nil {
		return nil, err
	}
	q.base = baseString(r.Method, u, all)
	return q, nil
}

// fill takes the protocol parameters into q, checking each.
func (q *Request) fill(p map[string]string) error {
	var absent []string
	for _, name := range []string{"oauth_consumer_key", "oauth_signature_method", "oauth_signature", "oauth_timestamp", "oauth_nonce"} {
		if p[name] == "" {
			absent = append(absent, name)
		}
	}
	if len(absent) > 0 {
		return &Problem{Code: ProblemParameterAbsent, Advice: "the request lacks " + strings.Join(absent, ", "), Params: url.Values{"oauth_parameters_absent": {strings.Join(absent, "&")}}}
	}
	if v, ok := p["oauth_version"]; ok && v != "1.0" {
		return &Problem{Code: ProblemVersionRejected, Advice: "only OAuth 1.0 (oauth_version=1.0) is supported", Params: url.Values{"oauth_acceptable_versions": {"1.0-1.0"}}}
	}
	switch p["oauth_signature_method"] {
	case RSASHA1, HMACSHA1:
	default:
		return problem(ProblemSignatureMethodRejected, "sign with RSA-SHA1 (or HMAC-SHA1 where the link has a shared secret)")
	}
	ts, err := strconv.ParseInt(p["oauth_timestamp"], 10, 64)
	if err != nil || ts <= 0 || p["oauth_timestamp"][0] == '+' {
		return &Problem{Code: ProblemParameterRejected, Advice: "oauth_timestamp must be a positive number of seconds since 1970", Params: url.Values{"oauth_parameters_rejected": {"oauth_timestamp"}}}
	}
	if len(p["oauth_nonce"]) > maxNonceLen {
		return &Problem{Code: ProblemParameterRejected, Advice: fmt.Sprintf("oauth_nonce is longer than %d bytes", maxNonceLen), Params: url.Values{"oauth_parameters_rejected": {"oauth_nonce"}}}
	}
	q.ConsumerKey = p["oauth_consumer_key"]
	q.Token = p["oauth_token"]
	q.SignatureMethod = p["oauth_signature_method"]
	q.signature = p["oauth_signature"]
	q.Timestamp = ts
	q.Nonce = p["oauth_nonce"]
	q.Callback = p["oauth_callback"]
	q.Verifier = p["oauth_verifier"]
	return nil
}

// headerParams parses the Authorization header's OAuth parameters (RFC
// 5849 §3.5.1), realm left out; signed is false when no header uses the
// OAuth scheme. Another scheme's header is not this package's business.
func headerParams(values []string) (pairs []pair, signed bool, err error) {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimLeft(v, " \t"), " ")
		if !strings.EqualFold(scheme, "OAuth") {
			continue
		}
		if signed {
			return nil, false, problem(ProblemParameterRejected, "more than one Authorization header uses the OAuth scheme")
		}
		signed = true
		if pairs, err = parseHeaderParams(rest); err != nil {
			return nil, false, err
		}
	}
	return pairs, signed, nil
}

var errHeader = problem(ProblemParameterRejected, `the Authorization header is not a list of name="percent-encoded value" pairs`)

// parseHeaderParams parses `name="value", name="value"`, optional
// whitespace around the commas and the equals sign.
func parseHeaderParams(s string) ([]pair, error) {
	var out []pair
	s = strings.Trim(s, " \t")
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, errHeader
		}
		rawName := strings.TrimRight(s[:eq], " \t")
		s = strings.TrimLeft(s[eq+1:], " \t")
		if len(s) < 2 || s[0] != '"' {
			return nil, errHeader
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, errHeader
		}
		rawValue := s[1 : 1+end]
		s = strings.TrimLeft(s[end+2:], " \t")
		if s != "" {
			if s[0] != ',' {
				return nil, errHeader
			}
			s = strings.TrimLeft(s[1:], " \t")
			if s == "" {
				return nil, errHeader
			}
		}
		name, err1 := decode(rawName, false)
		value, err2 := decode(rawValue, false)
		if err1 != nil || err2 != nil || name == "" || strings.ContainsAny(rawName, " \t\",") {
			return nil, errHeader
		}
		if name == "realm" {
			continue
		}
		out = append(out, pair{name, value})
	}
	return out, nil
}

// formPairs decodes an application/x-www-form-urlencoded string into its
// pairs, duplicates and order kept.
func formPairs(s string) ([]pair, error) {
	var out []pair
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		name, err := decode(k, true)
		if err != nil {
			return nil, err
		}
		value, err := decode(v, true)
		if err != nil {
			return nil, err
		}
		out = append(out, pair{name, value})
	}
	return out, nil
}

// formBody reads r's body when it is a single-part form (RFC 5849
// §3.4.1.3.1) and puts back exactly what it read.
func formBody(r *http.Request, max int64) ([]pair, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("oauth1: reading form body: %w", err)
	}
	if int64(len(b)) > max {
		return nil, ErrFormTooLarge
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	pairs, err := formPairs(string(b))
	if err != nil {
		return nil, problem(ProblemParameterRejected, "the form body is not percent-encoded correctly")
	}
	return pairs, nil
}

func hasName(pairs []pair, name string) bool {
	for _, p := range pairs {
		if p.name == name {
			return true
		}
	}
	return false
}

// baseString is the signature base string of RFC 5849 §3.4.1: the method,
// the base string URI and the normalized parameters (everything but
// oauth_signature), each encoded and joined with '&'.
func baseString(method string, u *url.URL, params []pair) string {
	enc := make([][2]string, 0, len(params))
	for _, p := range params {
		if p.name == "oauth_signature" {
			continue
		}
		enc = append(enc, [2]string{Encode(p.name), Encode(p.value)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i][0] != enc[j][0] {
			return enc[i][0] < enc[j][0]
		}
		return enc[i][1] < enc[j][1]
	})
	var norm strings.Builder
	for i, p := range enc {
		if i > 0 {
			norm.WriteByte('&')
		}
		norm.WriteString(p[0])
		norm.WriteByte('=')
		norm.WriteString(p[1])
	}
	return strings.ToUpper(method) + "&" + Encode(BaseURI(u)) + "&" + Encode(norm.String())
}

// BaseURI is the base string URI of RFC 5849 §3.4.1.2: scheme and host in
// lower case, the port only when it is not the scheme's default, the path
// as the client encoded it, no query or fragment.
func BaseURI(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
		host += ":" + p
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}
