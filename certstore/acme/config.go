// Package acme obtains and renews tenants' certificates through ACME DNS-01
// with certmagic, keeping certmagic's storage and locks, and each tenant's
// attempt history, in Portico's SQLite database. An issued certificate
// becomes the keypair "acme:DOMAIN" (for DOMAIN and *.DOMAIN) and the
// tenant's web certificate; a renewal replaces that keypair in place, and
// the store's change signal brings it to the server. The package never
// touches the serving snapshot.
package acme

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/caddyserver/certmagic"
)

// Config is how the manager obtains certificates. Zero fields take the
// defaults that WithDefaults documents.
type Config struct {
	// CA is the ACME directory URL; Let's Encrypt's production directory
	// when empty.
	CA string
	// Email is the ACME account's contact address; optional.
	Email string
	// EABKeyID and EABHMAC (base64url) bind the ACME account to an
	// account at CAs that require it; both or neither.
	EABKeyID string
	EABHMAC  string
	// CARoots holds extra PEM roots to trust, besides the system's, for
	// the CA's HTTPS API (a private CA).
	CARoots []byte
	// DNS solves the DNS-01 challenges. Required.
	DNS *DNSProvider
	// Resolvers are the DNS servers (host or host:port) used to find a
	// name's zone and to check that challenge records have propagated;
	// the system's resolvers when empty.
	Resolvers []string
	// PropagationTimeout bounds the wait for a challenge record to appear
	// at the zone's name servers: zero means certmagic's default (two
	// minutes); negative skips the check.
	PropagationTimeout time.Duration
	// RenewalWindowRatio is the fraction of a certificate's lifetime that
	// remains when it is renewed: certmagic's 1/3 when zero. The CA's
	// renewal information (ARI), where offered, can make it earlier.
	RenewalWindowRatio float64
	// CheckInterval is how often every ACME tenant is looked at, besides
	// after every change to the store: one minute when zero.
	CheckInterval time.Duration
	// RetryMin and RetryMax bound the back-off after failed attempts: the
	// first retry after RetryMin, each further one twice as late, never
	// later than RetryMax. One minute and one hour when zero.
	RetryMin time.Duration
	RetryMax time.Duration
	// AttemptTimeout bounds one attempt, waiting for the lock included:
	// ten minutes when zero.
	AttemptTimeout time.Duration
	// LockTTL is how long a lock outlives a crashed holder: DefaultLockTTL
	// when zero.
	LockTTL time.Duration
	// Now is the clock that schedules attempts; time.Now when nil.
	Now func() time.Time
	// OnAttempt, when set, is told the result of every issuance or renewal
	// attempt that reached the CA: "success" or "failure". It must not
	// block; metrics count attempts with it.
	OnAttempt func(result string)
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.CA == "" {
		c.CA = certmagic.LetsEncryptProductionCA
	}
	if c.RenewalWindowRatio == 0 {
		c.RenewalWindowRatio = certmagic.DefaultRenewalWindowRatio
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = time.Minute
	}
	if c.RetryMin == 0 {
		c.RetryMin = time.Minute
	}
	if c.RetryMax == 0 {
		c.RetryMax = time.Hour
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 10 * time.Minute
	}
	if c.LockTTL == 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem with c (after WithDefaults).
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.CA); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("ACME CA %q: not an https:// directory URL", c.CA))
	}
	if (c.EABKeyID == "") != (c.EABHMAC == "") {
		errs = append(errs, errors.New("ACME external account binding needs both the key ID and the HMAC key"))
	}
	if len(c.CARoots) > 0 && !x509.NewCertPool().AppendCertsFromPEM(c.CARoots) {
		errs = append(errs, errors.New("ACME CA roots: no PEM certificate found"))
	}
	if c.DNS == nil {
		errs = append(errs, errors.New("ACME needs a DNS provider"))
	}
	for _, r := range c.Resolvers {
		if _, _, err := net.SplitHostPort(withPort(r)); err != nil {
			errs = append(errs, fmt.Errorf("ACME resolver %q: %v", r, err))
		}
	}
	if !(c.RenewalWindowRatio > 0 && c.RenewalWindowRatio < 1) { // NaN too
		errs = append(errs, fmt.Errorf("ACME renewal window ratio %v: must be between 0 and 1", c.RenewalWindowRatio))
	}
	if c.CheckInterval < 0 || c.RetryMin < 0 || c.RetryMax < c.RetryMin || c.AttemptTimeout < 0 || c.LockTTL < 0 {
		errs = append(errs, errors.New("ACME intervals must be positive, and the longest retry at least the first"))
	}
	return errors.Join(errs...)
}

// withPort adds DNS's port 53 to a resolver given without one.
func withPort(r string) string {
	if _, _, err := net.SplitHostPort(r); err == nil {
		return r
	}
	return net.JoinHostPort(r, "53")
}
