package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"

	"github.com/portico-proxy/portico/certstore"
)

// Manager keeps a certificate for every ACME tenant: it obtains one for a
// new tenant, renews it on schedule, and retries failures with back-off,
// one attempt per domain at a time across every process on the database.
type Manager struct {
	cfg      Config
	store    *certstore.SQLite
	storage  *Storage
	cache    *certmagic.Cache
	issuer   *certmagic.ACMEIssuer
	log      *slog.Logger
	redactor *strings.Replacer

	wg      sync.WaitGroup
	wake    chan struct{} // an attempt ended: look again
	mu      sync.Mutex    // guards running and resting
	running map[string]bool
	// resting holds domains whose last attempt ended in an error that
	// could not be recorded (the database failed), with when to try again,
	// so that such errors cannot make a busy loop.
	resting map[string]time.Time
}

// New returns a manager for the ACME tenants in store. It checks cfg but
// does not reach the CA; Run does.
func New(cfg Config, store *certstore.SQLite, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	roots, err := trustedRoots(cfg.CARoots)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(store); err != nil {
		return nil, err
	}

	m := &Manager{
		cfg:     cfg,
		store:   store,
		log:     log,
		storage: NewStorage(store.DB(), store.ReadDB(), cfg.LockTTL, log),
		wake:    make(chan struct{}, 1),
		running: map[string]bool{},
		resting: map[string]time.Time{},
	}
	m.redactor = newRedactor(append(cfg.DNS.Secrets(), cfg.EABHMAC))
	zl := newZapLogger(log, m.Redact)

	var cmCfg *certmagic.Config
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cmCfg, nil },
		Logger:           zl,
	})
	cmCfg = certmagic.New(m.cache, certmagic.Config{Storage: m.storage, Logger: zl})
	resolvers := make([]string, len(cfg.Resolvers))
	for i, r := range cfg.Resolvers {
		resolvers[i] = withPort(r)
	}
	tmpl := certmagic.ACMEIssuer{
		CA:                      cfg.CA,
		Email:                   cfg.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    true,
		DisableTLSALPNChallenge: true,
		DNS01Solver: &certmagic.DNS01Solver{DNSManager: certmagic.DNSManager{
			DNSProvider:        cfg.DNS,
			PropagationTimeout: cfg.PropagationTimeout,
			Resolvers:          resolvers,
			Logger:             zl,
		}},
		Logger: zl,
	}
	if cfg.EABKeyID != "" {
		tmpl.ExternalAccount = &acme.EAB{KeyID: cfg.EABKeyID, MACKey: cfg.EABHMAC}
	}
	m.issuer = certmagic.NewACMEIssuer(cmCfg, tmpl)
	cmCfg.Issuers = []certmagic.Issuer{m.issuer}
	return m, nil
}

// checkSchema fails with a clear message when the database lacks the ACME
// tables, which happens when a build with a later migration created it
// before migration 0004 existed (migrations apply by number, so it was
// skipped).
func checkSchema(store *certstore.SQLite) error {
	for _, table := range []string{"acme_storage", "acme_locks", "acme_state"} {
		var n int
		err := store.ReadDB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
		if err != nil {
			return fmt.Errorf("checking ACME tables: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("database %s has no table %s: it was created by a build without "+
				"migration 0004_acme.sql but with a later one, so that migration was skipped", store.Path(), table)
		}
	}
	return nil
}

// trustedRoots returns the system's roots plus extra, or nil (the system's
// alone) when extra is empty.
func trustedRoots(extra []byte) (*x509.CertPool, error) {
	if len(extra) == 0 {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(extra) {
		return nil, errors.New("ACME CA roots: no PEM certificate found")
	}
	return pool, nil
}

func newRedactor(secrets []string) *strings.Replacer {
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	return strings.NewReplacer(pairs...)
}

// Redact replaces every credential the manager holds with "[redacted]".
func (m *Manager) Redact(s string) string { return m.redactor.Replace(s) }

// Storage returns certmagic's storage on the database.
func (m *Manager) Storage() *Storage { return m.storage }

// Run keeps the ACME tenants' certificates until ctx ends, then waits for
// attempts in flight to stop. It looks at every ACME tenant at start, after
// every change to the store, when an attempt is due and every
// CheckInterval.
func (m *Manager) Run(ctx context.Context) {
	defer m.cache.Stop()
	defer m.wg.Wait()
	m.log.Info("acme started", "ca", m.cfg.CA, "dns_provider", m.cfg.DNS.String(),
		"renewal_window_ratio", m.cfg.RenewalWindowRatio)

	changes := m.store.Changes(ctx)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-changes:
		case <-m.wake:
		}
		next := m.check(ctx)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(0, min(next.Sub(m.cfg.Now()), m.cfg.CheckInterval)))
	}
}

// check starts an attempt for every ACME tenant that is due, and returns
// when to look again: when the next tenant not running is due, at the
// latest a CheckInterval from now.
func (m *Manager) check(ctx context.Context) time.Time {
	now := m.cfg.Now()
	next := now.Add(m.cfg.CheckInterval)
	ts, err := m.store.Tenants(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("acme: reading tenants", "err", err)
		}
		return next
	}
	for _, t := range ts {
		if !t.ACME {
			continue
		}
		busy, rest := m.busy(t.Domain)
		if busy {
			continue
		}
		due, err := m.dueAt(ctx, t.Domain)
		if err != nil {
			m.log.Error("acme: reading state", "tenant", t.Domain, "err", err)
			continue
		}
		if due.Before(rest) {
			due = rest
		}
		if now.Before(due) {
			m.log.Debug("acme: nothing to do yet", "tenant", t.Domain, "next_attempt", due)
			next = minTime(next, due)
			continue
		}
		m.start(ctx, t.Domain)
	}
	return next
}

// dueAt returns when domain next needs the lock: for an attempt (see
// Config.nextAttempt) or, earlier, to ask the CA for renewal information.
// It also makes sure the tenant serves its ACME keypair when that is
// usable, and records the attempt time for `portico acme status` when it
// changed (after a new renewal ratio or ARI).
func (m *Manager) dueAt(ctx context.Context, domain string) (time.Time, error) {
	kp, st, err := m.current(ctx, domain)
	if err != nil {
		return time.Time{}, err
	}
	due := m.cfg.nextAttempt(domain, kp, st)
	if kp == nil || !covers(kp, domain) {
		return due, nil
	}
	if err := m.serve(ctx, domain, kp.Name); err != nil {
		m.log.Error("acme: pointing tenant at its keypair", "tenant", domain, "err", err)
	}
	if st.Failures == 0 && st.LastResult != "" && unixOrZero(due) != unixOrZero(st.NextAttempt) {
		st.NextAttempt = due
		if err := saveState(ctx, m.store.DB(), st, m.cfg.Now()); err != nil {
			return time.Time{}, err
		}
	}
	if !st.ARINext.IsZero() {
		due = minTime(due, st.ARINext)
	}
	return due, nil
}

// current reads domain's ACME keypair (nil when there is none) and state.
func (m *Manager) current(ctx context.Context, domain string) (*certstore.KeyPair, state, error) {
	st, err := loadState(ctx, m.store.ReadDB(), domain)
	if err != nil {
		return nil, st, err
	}
	kp, err := m.store.KeyPair(ctx, KeyPairName(domain))
	if errors.Is(err, certstore.ErrNotFound) {
		return nil, st, nil
	}
	if err != nil {
		return nil, st, err
	}
	return &kp, st, nil
}

// busy reports whether an attempt for domain runs, and until when it rests
// after an error.
func (m *Manager) busy(domain string) (bool, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running[domain], m.resting[domain]
}

// start runs an attempt for domain in the background.
func (m *Manager) start(ctx context.Context, domain string) {
	m.mu.Lock()
	m.running[domain] = true
	m.mu.Unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		failed := m.attempt(ctx, domain)
		m.mu.Lock()
		delete(m.running, domain)
		delete(m.resting, domain)
		if failed {
			m.resting[domain] = m.cfg.Now().Add(m.cfg.RetryMin)
		}
		m.mu.Unlock()
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
