package acme

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// ariRetryUnsupported is how long to wait before asking again a CA that
// does not offer renewal information (ARI).
const ariRetryUnsupported = 24 * time.Hour

// lockName is the certmagic lock that makes attempts for domain one at a
// time across processes.
func lockName(domain string) string {
	return "issue_cert_" + certmagic.StorageKeys.Safe(KeyPairName(domain))
}

// attempt obtains or renews domain's certificate if it is still due once
// the domain's lock is held (another process may have done it meanwhile),
// and records the outcome. It reports an error that it could not record
// (a failure of the database rather than of the CA or the DNS).
func (m *Manager) attempt(ctx context.Context, domain string) (failed bool) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.AttemptTimeout)
	defer cancel()
	if err := m.storage.Lock(ctx, lockName(domain)); err != nil {
		if ctx.Err() == nil {
			m.log.Error("acme: taking lock", "tenant", domain, "err", err)
		}
		return true
	}
	defer func() {
		if err := m.storage.Unlock(ctx, lockName(domain)); err != nil {
			m.log.Error("acme: releasing lock", "tenant", domain, "err", err)
		}
	}()

	t, err := m.store.Tenant(ctx, domain)
	if errors.Is(err, tenants.ErrNotFound) || (err == nil && !t.ACME) {
		return false
	}
	var kp *certstore.KeyPair
	var st state
	if err == nil {
		kp, st, err = m.current(ctx, domain)
	}
	if err == nil && m.cfg.Now().Before(m.cfg.nextAttempt(domain, kp, st)) {
		err = m.refreshARI(ctx, kp, st)
	} else if err == nil {
		err = m.obtain(ctx, domain, kp, st)
	}
	if err != nil && ctx.Err() == nil {
		m.log.Error("acme: attempt", "tenant", domain, "err", m.Redact(err.Error()))
		return true
	}
	return false
}

// obtain asks the CA for a certificate for domain and *.domain, stores it
// as the ACME keypair and points the tenant at it, and records the result.
// prev is the keypair it replaces (nil for none). A failure keeps prev
// serving and schedules a retry.
func (m *Manager) obtain(ctx context.Context, domain string, prev *certstore.KeyPair, st state) error {
	start := m.cfg.Now()
	renewal := prev != nil
	m.log.Debug("acme: attempt starts", "tenant", domain, "renewal", renewal)

	kp, err := m.issue(ctx, domain)
	if err != nil && ctx.Err() != nil {
		return nil // shutting down: not a failure of the CA or the DNS
	}
	st.LastAttempt = start
	m.cfg.reportAttempt(err)
	if err != nil {
		st.Failures++
		st.LastResult, st.LastError = ResultError, m.Redact(err.Error())
		st.NextAttempt = m.cfg.Now().Add(backoff(st.Failures, m.cfg.RetryMin, m.cfg.RetryMax))
		m.log.Warn("acme: certificate attempt failed; the current certificate keeps serving",
			"tenant", domain, "renewal", renewal, "failures", st.Failures,
			"next_attempt", st.NextAttempt, "err", st.LastError)
		return saveState(ctx, m.store.DB(), st, m.cfg.Now())
	}

	st.Failures, st.LastResult, st.LastError = 0, ResultOK, ""
	st.ARISelected, st.ARINext = time.Time{}, time.Time{}
	m.fetchARI(ctx, kp, &st)
	st.NextAttempt = m.cfg.nextAttempt(domain, &kp, st)
	msg := "acme: certificate obtained"
	if renewal {
		msg = "acme: certificate renewed"
	}
	m.log.Info(msg, "tenant", domain, "keypair", kp, "not_after", kp.NotAfter,
		"next_attempt", st.NextAttempt, "took", m.cfg.Now().Sub(start).Round(time.Millisecond))
	return saveState(ctx, m.store.DB(), st, m.cfg.Now())
}

// reportAttempt tells OnAttempt, if set, how an attempt ended.
func (c Config) reportAttempt(err error) {
	switch {
	case c.OnAttempt == nil:
	case err != nil:
		c.OnAttempt("failure")
	default:
		c.OnAttempt("success")
	}
}

// issue runs one ACME order for domain and *.domain with a new key, and
// stores the result as the ACME keypair served by the tenant.
func (m *Manager) issue(ctx context.Context, domain string) (certstore.KeyPair, error) {
	names := certNames(domain)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return certstore.KeyPair{}, fmt.Errorf("generating key: %w", err)
	}
	csr, err := newCSR(key, names)
	if err != nil {
		return certstore.KeyPair{}, err
	}
	if err := m.issuer.PreCheck(ctx, names, false); err != nil {
		return certstore.KeyPair{}, err
	}
	issued, err := m.issuer.Issue(ctx, csr)
	if err != nil {
		return certstore.KeyPair{}, err
	}

	keyPEM, err := certmagic.PEMEncodePrivateKey(key)
	if err != nil {
		return certstore.KeyPair{}, fmt.Errorf("encoding key: %w", err)
	}
	kp, _, err := m.store.PutKeyPair(ctx, certstore.Input{
		Name: KeyPairName(domain), Source: certstore.SourceACME, Origin: m.cfg.CA,
		Cert: issued.Certificate, CertFrom: "certificate from " + m.cfg.CA,
		Key: keyPEM, KeyFrom: "generated key",
	})
	if err != nil {
		return certstore.KeyPair{}, err
	}
	return kp, m.serve(ctx, domain, kp.Name)
}

func newCSR(key crypto.Signer, names []string) (*x509.CertificateRequest, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		return nil, fmt.Errorf("making CSR: %w", err)
	}
	return x509.ParseCertificateRequest(der)
}

// serve makes the ACME keypair name the web certificate of domain's tenant,
// writing only when it is not already and the tenant still uses ACME.
func (m *Manager) serve(ctx context.Context, domain, name string) error {
	t, err := m.store.Tenant(ctx, domain)
	if err != nil || !t.ACME || t.Certificate == name {
		return err
	}
	_, err = m.store.UpdateTenant(ctx, domain, func(t *tenants.Tenant) error {
		if t.ACME {
			t.Certificate = name
		}
		return nil
	})
	if err == nil {
		m.log.Info("acme: tenant serves its ACME certificate", "tenant", domain, "keypair", name)
	}
	return err
}

// refreshARI asks the CA for renewal information when it is time to, and
// records it. It is not an attempt: nothing is logged as one.
func (m *Manager) refreshARI(ctx context.Context, kp *certstore.KeyPair, st state) error {
	if kp == nil || m.cfg.Now().Before(st.ARINext) {
		return nil
	}
	m.fetchARI(ctx, *kp, &st)
	return saveState(ctx, m.store.DB(), st, m.cfg.Now())
}

// fetchARI fills st's ARI fields from the CA's renewal information for kp,
// if the CA offers it.
func (m *Manager) fetchARI(ctx context.Context, kp certstore.KeyPair, st *state) {
	now := m.cfg.Now()
	leaf, err := leafOf(kp)
	if err != nil {
		st.ARINext = now.Add(ariRetryUnsupported)
		return
	}
	ari, err := m.issuer.GetRenewalInfo(ctx, certmagic.Certificate{Certificate: tls.Certificate{Leaf: leaf}})
	switch {
	case errors.Is(err, acme.ErrUnsupported):
		st.ARINext = now.Add(ariRetryUnsupported)
		return
	case err != nil:
		m.log.Warn("acme: fetching renewal information", "tenant", st.Domain, "err", m.Redact(err.Error()))
		st.ARINext = now.Add(m.cfg.RetryMax)
		return
	}
	st.ARISelected = ari.SelectedTime
	st.ARINext = now.Add(6 * time.Hour)
	if ari.RetryAfter != nil {
		st.ARINext = *ari.RetryAfter
	}
}

// leafOf parses the leaf certificate of a stored keypair.
func leafOf(kp certstore.KeyPair) (*x509.Certificate, error) {
	p, err := certstore.ParseKeyPair(kp.ChainPEM, kp.Name, nil, "")
	if err != nil {
		return nil, err
	}
	return p.Leaf(), nil
}
