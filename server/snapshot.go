package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
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

	tenants []tenants.Tenant   // ordered by domain
	certs   []*tls.Certificate // certs[i] serves tenants[i]; nil when unusable
	index   *tenants.Index     // over the tenants whose cert is not nil

	// routing sends each request to its tenant's upstream; the server adds
	// it before publishing.
	routing *routing

	// fallback is the default self-signed keypair, served when no tenant
	// matches; nil only before the store has one.
	fallback *tls.Certificate

	// summaries describes every keypair in the store, and parsed holds the
	// certificates above by keypair revision: the next build starts from
	// both, reading only what changed and parsing only new revisions.
	summaries map[string]certstore.KeyPairSummary
	parsed    map[string]*parsedCert

	// dnsNames holds the DNS names of each served certificate's leaf, for
	// the requests whose Host differs from their connection's server name.
	dnsNames map[*tls.Certificate][]string

	// counters are the metrics series this snapshot's handshakes and
	// requests add to, resolved before it is published.
	counters *snapshotCounters
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

// buildSnapshot makes the next snapshot: prev with the store's changes since
// prev's generation applied (everything, when prev is nil). Only keypairs
// whose revision prev does not hold are read and parsed. A keypair that
// cannot be parsed makes its tenants unusable (they fall through as the
// matching rule says) and is logged; only a failure to read the store fails
// the build. It returns prev itself when nothing changed.
func buildSnapshot(ctx context.Context, store certstore.Store, prev *snapshot, log *slog.Logger) (*snapshot, error) {
	var since uint64
	if prev != nil {
		since = prev.generation
	}
	ch, err := store.ChangesSince(ctx, since)
	if err != nil {
		return nil, fmt.Errorf("reading store changes: %w", err)
	}
	if prev != nil && ch.Generation == prev.generation {
		return prev, nil
	}
	if prev == nil {
		prev = &snapshot{}
	}

	sn := &snapshot{
		generation: ch.Generation,
		builtAt:    time.Now(),
		tenants:    applyTenantChanges(prev.tenants, ch),
		summaries:  applyKeyPairChanges(prev.summaries, ch),
	}

	// The keypairs this snapshot serves: every tenant's and the default.
	wanted := map[string]string{} // name to revision
	for _, name := range append(tenantCerts(sn.tenants), certstore.DefaultKeyPairName) {
		if k, ok := sn.summaries[name]; ok && k.HasKey {
			wanted[name] = k.Revision
		}
	}
	sn.parsed = make(map[string]*parsedCert, len(wanted))
	var load []string
	for name, rev := range wanted {
		if c := prev.parsed[rev]; c != nil {
			sn.parsed[rev] = c
			continue
		}
		load = append(load, name)
	}
	if err := loadCertificates(ctx, store, load, sn.parsed, log); err != nil {
		return nil, err
	}
	sn.dnsNames = make(map[*tls.Certificate][]string, len(sn.parsed))
	for _, p := range sn.parsed {
		sn.dnsNames[p.cert] = p.dnsNames
	}

	byName := func(name string) *tls.Certificate {
		if p := sn.parsed[wanted[name]]; p != nil {
			return p.cert
		}
		return nil
	}
	sn.fallback = byName(certstore.DefaultKeyPairName)
	sn.certs = make([]*tls.Certificate, len(sn.tenants))
	for i, t := range sn.tenants {
		if t.Certificate != "" {
			sn.certs[i] = byName(t.Certificate)
		}
	}
	sn.index = tenants.NewIndex(sn.tenants, func(i int) bool { return sn.certs[i] != nil })
	return sn, nil
}

// applyTenantChanges returns the tenants of prev with ch applied, ordered
// by domain. prev is not modified.
func applyTenantChanges(prev []tenants.Tenant, ch certstore.Changes) []tenants.Tenant {
	if ch.Since == 0 {
		prev = nil
	}
	byID := make(map[int64]tenants.Tenant, len(prev)+len(ch.Tenants))
	for _, t := range prev {
		byID[t.ID] = t
	}
	// Deletions first: the changed rows are the current state, so a tenant
	// deleted and created again within ch ends up present.
	for _, id := range ch.DeletedTenants {
		delete(byID, id)
	}
	for _, t := range ch.Tenants {
		byID[t.ID] = t
	}
	out := make([]tenants.Tenant, 0, len(byID))
	for _, t := range byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b tenants.Tenant) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// applyKeyPairChanges returns prev's keypair summaries with ch applied.
// prev is not modified.
func applyKeyPairChanges(prev map[string]certstore.KeyPairSummary, ch certstore.Changes) map[string]certstore.KeyPairSummary {
	if ch.Since == 0 {
		prev = nil
	}
	out := make(map[string]certstore.KeyPairSummary, len(prev)+len(ch.KeyPairs))
	maps.Copy(out, prev)
	for _, name := range ch.DeletedKeyPairs {
		delete(out, name)
	}
	for _, k := range ch.KeyPairs {
		out[k.Name] = k
	}
	return out
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

// parsedCert is a keypair as snapshots keep it: the certificate crypto/tls
// serves, and the DNS names its leaf covers.
//
// The parsed leaf (tls.Certificate.Leaf) is dropped once the names are
// taken: at about 2.4 KB a keypair it was the largest part of a snapshot,
// and crypto/tls needs only the chain's DER and the private key to serve
// (it parses the leaf itself in the rare cases it wants one, such as a
// FIPS-only build). Code that needs more of the leaf parses
// cert.Certificate[0].
type parsedCert struct {
	cert     *tls.Certificate
	dnsNames []string
}

// loadCertificates reads and parses the named keypairs into parsed, by
// revision. A keypair that fails to parse is logged and left out.
func loadCertificates(ctx context.Context, store certstore.Store, names []string, parsed map[string]*parsedCert, log *slog.Logger) error {
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
		p := &parsedCert{cert: &cert, dnsNames: cert.Leaf.DNSNames}
		cert.Leaf = nil
		parsed[m.Revision] = p
	}
	return nil
}

// errNoCertificate is returned to a handshake when not even the default
// keypair exists.
var errNoCertificate = errors.New("portico: no certificate to serve")

// Reasons Ready gives; they name no file or address.
var (
	errStoreUnreadable = errors.New("store unreadable")
	errNoSnapshot      = errors.New("no snapshot published yet")
)
