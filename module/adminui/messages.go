package adminui

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"syscall"

	"go.uber.org/zap"

	"github.com/applinks/caddy-applinks/module/outgoing"
)

// personError is a message written for the administrator; its cause, an
// error chain for the log, is not shown.
type personError struct {
	msg   string
	cause error
}

func (e *personError) Error() string { return e.msg }
func (e *personError) Unwrap() error { return e.cause }

// forPerson is what a page says about err: the message of a personError,
// a refused URL's reason, or a validation error's own sentence. Every error
// a page shows goes through here, so none shows as a chain of causes.
func forPerson(err error) string {
	var pe *personError
	var refused *outgoing.RefusedError
	switch {
	case errors.As(err, &pe):
		return pe.msg
	case errors.As(err, &refused):
		return refusedSentence(refused)
	case errors.Is(err, outgoing.ErrPlaceholder):
		return sentence(outgoing.ErrPlaceholder.Error())
	case errors.Is(err, outgoing.ErrProviderUnavailable):
		return "The provider could not be reached: " + unreachable(err) + "."
	}
	return sentence(err.Error())
}

// refusedSentence says which URL this gateway does not connect to, and why.
func refusedSentence(e *outgoing.RefusedError) string {
	if e.URL == "" {
		return "This gateway does not connect there: " + e.Reason + "."
	}
	return "This gateway does not connect to " + e.URL + ": " + e.Reason + "."
}

// unreachable says in a few words why a provider or gateway did not give
// usable metadata.
func unreachable(err error) string {
	return unreachableOr(err, "its answer was not usable OAuth 2.0 metadata")
}

// unreachableOr says in a few words why a URL did not give what the
// gateway asked for; otherwise when nothing known went wrong on the way.
func unreachableOr(err error, otherwise string) string {
	var (
		refused *outgoing.RefusedError
		dns     *net.DNSError
		netErr  net.Error
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &refused):
		if refused.URL == "" {
			return "this gateway does not connect there, as " + refused.Reason
		}
		return "this gateway does not connect to " + refused.URL + ", as " + refused.Reason
	case errors.As(err, &dns):
		return "its host name is not known"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing answers at that address"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "it did not answer in time"
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		return "its TLS certificate is not trusted"
	}
	return otherwise
}

// logCause keeps the chain of causes of a refused form in the log.
func (u *UI) logCause(msg string, err error) {
	if ce := u.app.Logger().Check(zap.InfoLevel, msg); ce != nil {
		ce.Write(zap.Error(err))
	}
}
