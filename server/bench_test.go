package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// benchTenants is how many tenants, each with its own keypair, the
// benchmarks load: the figure the issue's targets are set for.
const benchTenants = 10000

var (
	benchOnce  sync.Once
	benchStore *certstore.SQLite
	benchDir   string
	benchLeaf  [2]*testpki.Leaf // two certificates for tenant 0, to swap between
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// populatedStore returns a store holding benchTenants tenants t<i>.bench.test,
// each serving its own ECDSA P-256 keypair. It is built once per run.
func populatedStore(b *testing.B) *certstore.SQLite {
	b.Helper()
	benchOnce.Do(func() {
		ctx := context.Background()
		var err error
		if benchDir, err = os.MkdirTemp("", "portico-bench-"); err != nil {
			b.Fatal(err)
		}
		if benchStore, err = certstore.OpenSQLite(ctx, filepath.Join(benchDir, "portico.db"), nil); err != nil {
			b.Fatal(err)
		}
		if _, err := certstore.EnsureDefault(ctx, benchStore, "bench.test", timeNow(), nil); err != nil {
			b.Fatal(err)
		}
		ca := testpki.NewCA(b)
		for i := range benchTenants {
			domain := fmt.Sprintf("t%d.bench.test", i)
			l := ca.Issue(b, []string{domain, "*." + domain})
			if i == 0 {
				benchLeaf[0] = l
				benchLeaf[1] = ca.Issue(b, []string{domain, "*." + domain})
			}
			name := fmt.Sprintf("kp%d", i)
			if _, _, err := benchStore.PutKeyPair(ctx, certstore.Input{Name: name, Source: certstore.SourceImported,
				Cert: l.ChainPEM, Key: l.KeyPEM}); err != nil {
				b.Fatal(err)
			}
			if _, err := benchStore.CreateTenant(ctx, tenants.Tenant{Domain: domain, Certificate: name}); err != nil {
				b.Fatal(err)
			}
		}
	})
	if benchStore == nil {
		b.Fatal("benchmark store setup failed earlier")
	}
	return benchStore
}

func loadedServer(b *testing.B) *Server {
	b.Helper()
	s := New(Config{}, populatedStore(b), nil)
	if err := s.Reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	if n := s.snap.Load().index.Len(); n != benchTenants {
		b.Fatalf("snapshot has %d usable tenants, want %d", n, benchTenants)
	}
	return s
}

// BenchmarkGetCertificate measures the per-handshake lookup with 10,000
// tenants loaded. Target: at most 250 ns/op and 0 allocs/op.
func BenchmarkGetCertificate(b *testing.B) {
	s := loadedServer(b)
	for _, bc := range []struct{ name, sni, wantCN string }{
		{"exact", "t4242.bench.test", "t4242.bench.test"},
		{"suffix", "www.api.t4242.bench.test", "t4242.bench.test"},
		{"default", "unknown.example", "bench.test"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			hello := &tls.ClientHelloInfo{ServerName: bc.sni}
			cert, err := s.getCertificate(hello)
			if err != nil || leafOf(b, cert).Subject.CommonName != bc.wantCN {
				b.Fatalf("SNI %q got %v, %v; want %s", bc.sni, cert, err, bc.wantCN)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s.getCertificate(hello)
			}
		})
	}
}

// BenchmarkReloadOneChanged measures a snapshot rebuild after one keypair
// among 10,000 changed. Target: under 50 ms.
func BenchmarkReloadOneChanged(b *testing.B) {
	s := loadedServer(b)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		i++
		l := benchLeaf[i%2]
		if _, _, err := s.store.PutKeyPair(ctx, certstore.Input{Name: "kp0", Source: certstore.SourceImported,
			Cert: l.ChainPEM, Key: l.KeyPEM}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	got, _ := s.getCertificate(&tls.ClientHelloInfo{ServerName: "t0.bench.test"})
	if !leafOf(b, got).Equal(benchLeaf[i%2].Cert) {
		b.Fatal("the rebuilt snapshot does not serve the changed keypair")
	}
}

// BenchmarkColdLoad measures building the first snapshot of 10,000
// keypairs, with nothing to reuse. Target: under 2 s.
func BenchmarkColdLoad(b *testing.B) {
	store := populatedStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		sn, err := buildSnapshot(ctx, store, nil, nopLog)
		if err != nil {
			b.Fatal(err)
		}
		if sn.index.Len() != benchTenants {
			b.Fatalf("cold load has %d tenants", sn.index.Len())
		}
	}
}
