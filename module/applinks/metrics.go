package applinks

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/applinks/caddy-applinks/module/grants"
)

// Metrics are the gateway's Prometheus counters, registered in Caddy's
// metrics registry (served at the admin endpoint's /metrics).
type Metrics struct {
	issued      *prometheus.CounterVec
	refused     prometheus.Counter
	replays     *prometheus.CounterVec
	validations *prometheus.CounterVec
	outgoing    *prometheus.CounterVec
	signIns     *prometheus.CounterVec
	// Validations happen on every guarded request: their counters are
	// looked up once.
	valid, invalid, failed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "applinks", Name: name, Help: help}, labels)
	}
	m := &Metrics{
		issued:      counter("tokens_issued_total", "Token pairs issued by the token endpoint, by grant type.", "grant_type"),
		replays:     counter("replays_detected_total", "Authorization codes or refresh tokens presented again, each revoking a grant.", "kind"),
		validations: counter("token_validations_total", "Access-token validations by require_token and introspection, by outcome.", "outcome"),
		outgoing:    counter("outgoing_refreshes_total", "Refreshes of outgoing provider tokens, by outcome.", "outcome"),
		signIns:     counter("sign_ins_total", "Sign-in attempts, by method and outcome.", "method", "outcome"),
	}
	m.refused = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "applinks", Name: "token_requests_refused_total", Help: "Token requests of an authenticated client refused with an OAuth error (invalid, expired or replayed code or refresh token, scope too high)."})
	for _, c := range []prometheus.Collector{m.issued, m.refused, m.replays, m.validations, m.outgoing, m.signIns} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.valid, m.invalid, m.failed = m.validations.WithLabelValues("valid"), m.validations.WithLabelValues("invalid"), m.validations.WithLabelValues("error")
	return m, nil
}

// Issued counts a token pair issued for a grant type; the link is not a
// label (links are created at runtime, labels must stay few).
func (m *Metrics) Issued(_, grantType string) { m.issued.WithLabelValues(grantType).Inc() }

// Refused counts a token request refused with an OAuth error.
func (m *Metrics) Refused(string) { m.refused.Inc() }

// Replayed counts a replay (kind "code" or "refresh_token").
func (m *Metrics) Replayed(kind string) { m.replays.WithLabelValues(kind).Inc() }

// Validated counts a validation: valid, invalid (err is ErrInvalidToken)
// or error.
func (m *Metrics) Validated(valid bool, err error) {
	switch {
	case valid:
		m.valid.Inc()
	case err != nil && !errors.Is(err, grants.ErrInvalidToken):
		m.failed.Inc()
	default:
		m.invalid.Inc()
	}
}

// Refreshed counts an outgoing refresh outcome: ok, recoverable or
// unrecoverable.
func (m *Metrics) Refreshed(outcome string) { m.outgoing.WithLabelValues(outcome).Inc() }

// SignedIn counts a sign-in attempt: method password or oidc, outcome
// success or failure.
func (m *Metrics) SignedIn(method, outcome string) { m.signIns.WithLabelValues(method, outcome).Inc() }

// tokenObserver tells the metrics and the links' activity what the token
// service does; both count in memory.
type tokenObserver struct {
	*Metrics
	activity *Activity
}

// Issued counts a token pair issued to a link.
func (o tokenObserver) Issued(linkID, grantType string) {
	o.Metrics.Issued(linkID, grantType)
	o.activity.Issued(linkID)
}

// Refused counts a refused token request of a link.
func (o tokenObserver) Refused(linkID string) {
	o.Metrics.Refused(linkID)
	o.activity.Refused(linkID)
}
