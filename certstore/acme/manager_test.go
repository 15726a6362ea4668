package acme

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/acmelab"
	"github.com/portico-proxy/portico/tenants"
)

// labConfig returns a manager configuration for lab, with the rfc2136
// provider set from the lab's environment.
func labConfig(t *testing.T, lab *acmelab.Lab) Config {
	t.Helper()
	env := map[string]string{}
	for _, kv := range lab.RFC2136Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	dns, err := NewDNSProvider(context.Background(), "rfc2136", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		CA:        lab.DirectoryURL,
		CARoots:   lab.CABundle,
		DNS:       dns,
		Resolvers: []string{lab.DNSAddr},
		RetryMin:  time.Second,
		LockTTL:   3 * time.Second,
	}
}

func openStore(t *testing.T, path string) *certstore.SQLite {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "portico.db")
	}
	s, err := certstore.OpenSQLite(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestManagerObtainsFromLab(t *testing.T) {
	t.Parallel()
	lab := acmelab.Start(t)
	store := openStore(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	domain := "shop." + lab.Zone
	if _, err := store.CreateTenant(ctx, tenants.Tenant{Domain: domain, ACME: true}); err != nil {
		t.Fatal(err)
	}

	mgr, err := New(labConfig(t, lab), store, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { mgr.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "the tenant to serve an ACME keypair", 60*time.Second, func() bool {
		tn, err := store.Tenant(ctx, domain)
		return err == nil && tn.Certificate == KeyPairName(domain)
	})
	kp, err := store.KeyPair(ctx, KeyPairName(domain))
	if err != nil {
		t.Fatal(err)
	}
	if kp.Source != certstore.SourceACME {
		t.Errorf("source: got %s, want acme", kp.Source)
	}
	p, err := certstore.ParseKeyPair(kp.ChainPEM, "chain", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for _, c := range p.Chain[1:] {
		inter.AddCert(c)
	}
	for _, name := range []string{domain, "x." + domain} {
		if _, err := p.Leaf().Verify(x509.VerifyOptions{DNSName: name, Roots: lab.IssuerPool(), Intermediates: inter}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}

	sts, err := ReadStatus(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 1 || sts[0].LastResult != ResultOK || !sts[0].Serving || sts[0].NextAttempt.IsZero() {
		t.Errorf("status: %+v", sts)
	}
	if n := lab.IssuedCertificates(t); n != 1 {
		t.Errorf("pebble issued %d certificates, want 1", n)
	}
	if n := lab.Orders(t); n != 1 {
		t.Errorf("pebble saw %d orders, want 1", n)
	}
}

func openStoreAt(ctx context.Context, path string) (*certstore.SQLite, error) {
	return certstore.OpenSQLite(ctx, path, nil)
}

func TestManagerExternalAccountBinding(t *testing.T) {
	t.Parallel()
	const kid = "portico-kid"
	hmac := base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	lab := acmelab.Start(t, acmelab.Options{EAB: map[string]string{kid: hmac}})

	tests := []struct {
		name   string
		kid    string
		hmac   string
		result string
	}{
		{"without binding the CA refuses", "", "", ResultError},
		{"with binding it issues", kid, hmac, ResultOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := openStore(t, "")
			ctx, cancel := context.WithCancel(context.Background())
			domain := "eab." + lab.Zone
			if _, err := store.CreateTenant(ctx, tenants.Tenant{Domain: domain, ACME: true}); err != nil {
				t.Fatal(err)
			}
			cfg := labConfig(t, lab)
			cfg.EABKeyID, cfg.EABHMAC = tt.kid, tt.hmac
			cfg.RetryMin = time.Hour
			var logs bytes.Buffer
			mgr, err := New(cfg, store, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { mgr.Run(ctx); close(done) }()

			var st []Status
			waitFor(t, "an attempt", 60*time.Second, func() bool {
				st, err = ReadStatus(ctx, store)
				return err == nil && len(st) == 1 && st[0].LastResult != ""
			})
			cancel()
			<-done
			if st[0].LastResult != tt.result {
				t.Errorf("result: got %q (%s), want %q", st[0].LastResult, st[0].LastError, tt.result)
			}
			if tt.hmac != "" && strings.Contains(logs.String(), tt.hmac) {
				t.Error("the EAB HMAC key appears in the logs")
			}
		})
	}
}

// syncWriter serialises writes from the manager's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
