package acme

import (
	"slices"
	"time"

	"github.com/portico-proxy/portico/certstore"
)

// certNames returns the names of domain's ACME certificate: the domain and
// every name directly under it.
func certNames(domain string) []string { return []string{domain, "*." + domain} }

// covers reports whether kp is a certificate for every name of domain's
// ACME certificate.
func covers(kp *certstore.KeyPair, domain string) bool {
	for _, n := range certNames(domain) {
		if !slices.Contains(kp.DNSNames, n) {
			return false
		}
	}
	return true
}

// renewalTime returns when a certificate valid from notBefore to notAfter
// is due for renewal: once only ratio of its lifetime remains (certmagic's
// rule), or earlier at the time the CA suggested through ARI.
func renewalTime(notBefore, notAfter time.Time, ratio float64, ariSelected time.Time) time.Time {
	lifetime := notAfter.Sub(notBefore)
	at := notAfter.Add(-time.Duration(float64(lifetime) * ratio))
	if !ariSelected.IsZero() && ariSelected.Before(at) {
		return ariSelected
	}
	return at
}

// backoff returns how long to wait after the given number of consecutive
// failures (at least one): first, doubled for each further failure, at most
// max.
func backoff(failures int, first, max time.Duration) time.Duration {
	d := first
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// nextAttempt returns when domain is next due for an attempt: at the end
// of the back-off after a failure; at once without a certificate for all
// its names; otherwise at its renewal time. kp is nil when there is no
// ACME keypair.
func (c *Config) nextAttempt(domain string, kp *certstore.KeyPair, st state) time.Time {
	if st.Failures > 0 {
		return st.NextAttempt
	}
	if kp == nil || !covers(kp, domain) {
		return time.Time{}
	}
	return renewalTime(kp.NotBefore, kp.NotAfter, c.RenewalWindowRatio, st.ARISelected)
}
