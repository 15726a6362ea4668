package certstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

// MaxBrowserValidityDays is the longest validity browsers accept for a
// server certificate; Generate warns callers through LongValidity above it.
const MaxBrowserValidityDays = 365

// MaxValidityDays bounds a generated certificate's validity: a hundred
// years, which covers SAML signing keys and keeps the arithmetic sane.
const MaxValidityDays = 36500

// Generate describes a self-signed keypair to make, as both the CLI's
// `certificate generate` and the admin API ask for it.
type Generate struct {
	Name    string   // keypair to create or replace
	Names   []string // DNS names, wildcards or IP addresses; the first is the common name
	Days    int      // validity in days, positive
	KeyType string   // one of KeyTypes; "" for the first
}

// LongValidity reports whether g asks for a validity browsers reject.
func (g Generate) LongValidity() bool { return g.Days > MaxBrowserValidityDays }

// normalize checks g and returns its names normalised. Every problem is an
// *InputError naming the field, joined.
func (g Generate) normalize() ([]string, error) {
	var errs []error
	if err := CheckName(g.Name, SourceSelfSigned); err != nil {
		errs = append(errs, &InputError{"name", err.Error()})
	}
	if len(g.Names) == 0 {
		errs = append(errs, &InputError{"domains", "at least one name is needed"})
	}
	names := make([]string, 0, len(g.Names))
	for _, d := range g.Names {
		n, err := CertificateName(d)
		if err != nil {
			errs = append(errs, &InputError{"domains", err.Error()})
			continue
		}
		names = append(names, n)
	}
	if g.Days <= 0 || g.Days > MaxValidityDays {
		errs = append(errs, &InputError{"days", fmt.Sprintf("must be between 1 and %d, not %d", MaxValidityDays, g.Days)})
	}
	if g.KeyType != "" && !validKeyType(g.KeyType) {
		errs = append(errs, &InputError{"key_type", fmt.Sprintf("unknown key type %q (want one of %s)",
			g.KeyType, strings.Join(KeyTypes, ", "))})
	}
	return names, errors.Join(errs...)
}

func validKeyType(k string) bool {
	for _, t := range KeyTypes {
		if t == k {
			return true
		}
	}
	return false
}

// GenerateKeyPair makes the self-signed keypair g describes, valid from now,
// and stores it with source self-signed, replacing a self-signed keypair of
// that name; a keypair of that name from elsewhere (imported, discovered)
// is refused with ErrConflict rather than replaced by a self-signed one.
// Bad input is reported as joined *InputErrors and writes nothing.
func GenerateKeyPair(ctx context.Context, s Store, g Generate, now time.Time) (KeyPair, Outcome, error) {
	names, err := g.normalize()
	if err != nil {
		return KeyPair{}, "", err
	}
	certPEM, keyPEM, err := GenerateSelfSigned(names, time.Duration(g.Days)*24*time.Hour, g.KeyType, now)
	if err != nil {
		return KeyPair{}, "", fmt.Errorf("generating keypair %q: %w", g.Name, err)
	}
	return s.PutKeyPair(ctx, Input{
		Name: g.Name, Source: SourceSelfSigned, OnlySource: SourceSelfSigned,
		Cert: certPEM, CertFrom: "generated certificate", Key: keyPEM, KeyFrom: "generated key",
	})
}

// CertificateName normalises a name for a certificate: a host name, a
// wildcard such as *.example.com, or an IP address.
func CertificateName(d string) (string, error) {
	if net.ParseIP(d) != nil {
		return d, nil
	}
	if rest, ok := strings.CutPrefix(d, "*."); ok {
		n, err := tenants.NormalizeDomain(rest)
		return "*." + n, err
	}
	return tenants.NormalizeDomain(d)
}
