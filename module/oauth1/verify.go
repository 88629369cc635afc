package oauth1

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinRSABits is the smallest consumer key accepted. Atlassian's own
// guides long generated 1024-bit keys, so they still link.
const MinRSABits = 1024

// VerifyRSA checks an RSA-SHA1 signature with the consumer's public key.
// A request signed with another method is signature_method_rejected.
func (q *Request) VerifyRSA(pub *rsa.PublicKey) error {
	if q.SignatureMethod != RSASHA1 {
		return problem(ProblemSignatureMethodRejected, "this consumer signs with RSA-SHA1")
	}
	sig, err := base64.StdEncoding.DecodeString(q.signature)
	if err != nil {
		return problem(ProblemSignatureInvalid, "oauth_signature is not base64")
	}
	digest := sha1.Sum([]byte(q.base))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], sig) != nil {
		return problem(ProblemSignatureInvalid, "the signature does not match the request; sign the URL this request was sent to, with its query and form parameters")
	}
	return nil
}

// VerifyHMAC checks an HMAC-SHA1 signature made with the consumer's shared
// secret and the token's secret (empty for a request token request or
// two-legged OAuth). A request signed with another method is
// signature_method_rejected.
func (q *Request) VerifyHMAC(consumerSecret, tokenSecret string) error {
	if q.SignatureMethod != HMACSHA1 {
		return problem(ProblemSignatureMethodRejected, "this consumer signs with HMAC-SHA1")
	}
	sig, err := base64.StdEncoding.DecodeString(q.signature)
	if err != nil {
		return problem(ProblemSignatureInvalid, "oauth_signature is not base64")
	}
	m := hmac.New(sha1.New, []byte(Encode(consumerSecret)+"&"+Encode(tokenSecret)))
	_, _ = m.Write([]byte(q.base))
	if !hmac.Equal(m.Sum(nil), sig) {
		return problem(ProblemSignatureInvalid, "the signature does not match the request; sign the URL this request was sent to, with its query and form parameters")
	}
	return nil
}

// CheckTimestamp refuses a request whose oauth_timestamp is more than
// window away from now (timestamp_refused, naming the acceptable range).
// A nonce need only be remembered for as long as its timestamp is
// acceptable.
func (q *Request) CheckTimestamp(now time.Time, window time.Duration) error {
	lo, hi := now.Add(-window).Unix(), now.Add(window).Unix()
	if q.Timestamp < lo || q.Timestamp > hi {
		return &Problem{Code: ProblemTimestampRefused, Advice: "the clock of the consumer is off; oauth_timestamp must be within " + window.String() + " of the server's", Params: map[string][]string{"oauth_acceptable_timestamps": {fmt.Sprintf("%d-%d", lo, hi)}}}
	}
	return nil
}

// ParsePublicKey reads a consumer's RSA public key: PEM "PUBLIC KEY" (as
// openssl writes it), PEM "RSA PUBLIC KEY", a PEM certificate, or the bare
// base64 of the key's DER that Atlassian's forms take.
func ParsePublicKey(text []byte) (*rsa.PublicKey, error) {
	der := text
	if block, _ := pem.Decode(text); block != nil {
		der = block.Bytes
		if block.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("reading the consumer's certificate: %w", err)
			}
			return rsaKey(cert.PublicKey)
		}
		if block.Type == "RSA PUBLIC KEY" {
			k, err := x509.ParsePKCS1PublicKey(der)
			if err != nil {
				return nil, fmt.Errorf("reading the consumer's RSA public key: %w", err)
			}
			return rsaKey(k)
		}
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("the consumer's key is a PEM %q block; give its public key (BEGIN PUBLIC KEY)", block.Type)
		}
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(text)), ""))
		if err != nil {
			return nil, errors.New("the consumer's public key is neither PEM (BEGIN PUBLIC KEY) nor base64")
		}
		der = b
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("reading the consumer's public key: %w", err)
	}
	return rsaKey(k)
}

func rsaKey(k any) (*rsa.PublicKey, error) {
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the consumer's key is a %T; OAuth 1.0a RSA-SHA1 needs an RSA key", k)
	}
	if pub.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("the consumer's RSA key has %d bits; at least %d are needed", pub.N.BitLen(), MinRSABits)
	}
	return pub, nil
}
