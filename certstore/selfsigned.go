package certstore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"time"
)

// KeyTypes lists the key types GenerateSelfSigned accepts, the first being
// the default.
var KeyTypes = []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-4096", "ed25519"}

// DefaultValidity and DefaultRenewBefore govern the default self-signed
// keypair: it is valid a year and replaced when fewer than 30 days are left.
const (
	DefaultValidity    = 365 * 24 * time.Hour
	DefaultRenewBefore = 30 * 24 * time.Hour
)

// GenerateSelfSigned makes a self-signed certificate for names (DNS names or
// IP addresses, the first also its common name), valid from now for
// validity, with a new key of keyType. It returns the certificate and the
// PKCS#8 key in PEM.
func GenerateSelfSigned(names []string, validity time.Duration, keyType string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(names) == 0 {
		return nil, nil, errors.New("at least one name is needed")
	}
	if validity <= 0 {
		return nil, nil, errors.New("validity must be positive")
	}
	key, err := newKey(keyType)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"Portico"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

func newKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "", "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key type %q (want one of %v)", keyType, KeyTypes)
}

// EnsureDefault makes sure the default self-signed keypair exists and has at
// least DefaultRenewBefore left at now; otherwise it replaces it in place
// (same name, so tenants that use it follow). host names the certificate.
// It reports whether it wrote.
func EnsureDefault(ctx context.Context, s Store, host string, now time.Time, log *slog.Logger) (bool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kp, err := s.KeyPair(ctx, DefaultKeyPairName)
	switch {
	case err == nil && kp.HasKey && kp.NotAfter.Sub(now) >= DefaultRenewBefore:
		return false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return false, fmt.Errorf("reading default keypair: %w", err)
	}

	names := []string{host}
	if host != "localhost" {
		names = append(names, "localhost")
	}
	certPEM, keyPEM, err := GenerateSelfSigned(names, DefaultValidity, "ecdsa-p256", now)
	if err != nil {
		return false, fmt.Errorf("generating default keypair: %w", err)
	}
	stored, outcome, err := s.PutKeyPair(ctx, Input{
		Name: DefaultKeyPairName, Source: SourceSelfSigned, defaultKeyPair: true,
		Cert: certPEM, CertFrom: "generated certificate", Key: keyPEM, KeyFrom: "generated key",
	})
	if err != nil {
		return false, fmt.Errorf("storing default keypair: %w", err)
	}
	if outcome == Created {
		log.Info("created default self-signed keypair", "keypair", stored, "not_after", stored.NotAfter)
	} else {
		log.Info("replaced default self-signed keypair near expiry", "keypair", stored,
			"old_not_after", kp.NotAfter, "not_after", stored.NotAfter)
	}
	return true, nil
}
