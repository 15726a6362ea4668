package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// snapshot is everything a handshake or a request needs to pick a tenant
// and its certificate. It is built whole, published through an
// atomic.Pointer and never changed afterwards, so readers need no lock.
type snapshot struct {
	generation uint64
	builtAt    time.Time

	tenants []tenants.Tenant
	certs   []*tls.Certificate // certs[i] serves tenants[i]; nil when unusable
	index   *tenants.Index     // over the tenants whose cert is not nil

	// fallback is the default self-signed keypair, served when no tenant
	// matches; nil only before the store has one.
	fallback *tls.Certificate

	// parsed holds every certificate above by keypair revision, so that the
	// next build reuses what did not change instead of parsing it again.
	parsed map[string]*tls.Certificate
}

// match returns the tenant serving name (already normalised) and its
// certificate; the tenant is nil when the fallback serves.
func (sn *snapshot) match(name string) (*tenants.Tenant, *tls.Certificate) {
	i := sn.index.Match(name)
	if i < 0 {
		return nil, sn.fallback
	}
	return &sn.tenants[i], sn.certs[i]
}

// buildSnapshot makes the next snapshot from the store, parsing only the
// keypairs whose revision prev does not already hold. A keypair that cannot
// be parsed makes its tenants unusable (they fall through as the matching
// rule says) and is logged; only a failure to read the store fails the build.
func buildSnapshot(ctx context.Context, store certstore.Store, prev *snapshot, log *slog.Logger) (*snapshot, error) {
	sv, ts, err := store.Serving(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading store: %w", err)
	}
	summaries := make(map[string]certstore.KeyPairSummary, len(sv.KeyPairs))
	for _, k := range sv.KeyPairs {
		summaries[k.Name] = k
	}

	// The keypairs this snapshot serves: every tenant's and the default.
	wanted := map[string]certstore.KeyPairSummary{}
	for _, name := range append(tenantCerts(ts), certstore.DefaultKeyPairName) {
		if k, ok := summaries[name]; ok && k.HasKey {
			wanted[name] = k
		}
	}

	parsed := make(map[string]*tls.Certificate, len(wanted))
	var load []string
	for name, k := range wanted {
		if prev != nil && prev.parsed[k.Revision] != nil {
			parsed[k.Revision] = prev.parsed[k.Revision]
			continue
		}
		load = append(load, name)
	}
	if err := loadCertificates(ctx, store, load, parsed, log); err != nil {
		return nil, err
	}

	byName := func(name string) *tls.Certificate {
		if k, ok := wanted[name]; ok {
			return parsed[k.Revision]
		}
		return nil
	}
	sn := &snapshot{
		generation: sv.Generation,
		builtAt:    time.Now(),
		tenants:    ts,
		certs:      make([]*tls.Certificate, len(ts)),
		fallback:   byName(certstore.DefaultKeyPairName),
		parsed:     parsed,
	}
	for i, t := range ts {
		sn.certs[i] = byName(t.Certificate)
	}
	sn.index = tenants.NewIndex(ts, func(i int) bool { return sn.certs[i] != nil })
	return sn, nil
}

func tenantCerts(ts []tenants.Tenant) []string {
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		if t.Certificate != "" {
			names = append(names, t.Certificate)
		}
	}
	return names
}

// loadCertificates reads and parses the named keypairs into parsed, by
// revision. A keypair that fails to parse is logged and left out.
func loadCertificates(ctx context.Context, store certstore.Store, names []string, parsed map[string]*tls.Certificate, log *slog.Logger) error {
	if len(names) == 0 {
		return nil
	}
	mats, err := store.Material(ctx, names)
	if err != nil {
		return fmt.Errorf("reading keypairs: %w", err)
	}
	for _, m := range mats {
		cert, err := tls.X509KeyPair(m.ChainPEM, m.KeyPEM)
		if err != nil {
			log.Error("keypair cannot be served", "keypair", m, "err", err)
			continue
		}
		parsed[m.Revision] = &cert
	}
	return nil
}

// errNoCertificate is returned to a handshake when not even the default
// keypair exists.
var errNoCertificate = errors.New("portico: no certificate to serve")
