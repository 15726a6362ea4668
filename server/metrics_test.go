package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// newMetricsServer returns a started server on loopback with one tenant,
// shop.example.com, and the default keypair, its metrics in reg.
func newMetricsServer(t *testing.T, reg *prometheus.Registry) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store, err := certstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := certstore.EnsureDefault(ctx, store, "localhost", time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	leaf := testpki.NewCA(t).Issue(t, []string{"shop.example.com"})
	if _, _, err := store.PutKeyPair(ctx, certstore.Input{Name: "shop", Source: certstore.SourceImported,
		Cert: leaf.ChainPEM, CertFrom: "cert", Key: leaf.KeyPEM, KeyFrom: "key"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateTenant(ctx, tenants.Tenant{Domain: "shop.example.com", Certificate: "shop"}); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Listen: "127.0.0.1:0", Metrics: reg}, store, nil)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

func handshake(t *testing.T, addr net.Addr, sni string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr.String(), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %q: %v", sni, err)
	}
	conn.Close()
}

func TestHandshakeMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newMetricsServer(t, reg)
	handshake(t, s.HTTPSAddr(), "shop.example.com")
	handshake(t, s.HTTPSAddr(), "www.shop.example.com")
	handshake(t, s.HTTPSAddr(), "other.example.net")

	tests := []struct {
		name            string
		tenant, outcome string
		want            float64
	}{
		{"tenant served", "shop.example.com", outcomeServed, 2},
		{"fallback", "", outcomeFallback, 1},
		{"no certificate", "", outcomeNoCertificate, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := testutil.ToFloat64(s.metrics.handshakes.WithLabelValues(tt.tenant, tt.outcome))
			if got != tt.want {
				t.Errorf("portico_tls_handshakes_total{tenant=%q,outcome=%q} = %v, want %v", tt.tenant, tt.outcome, got, tt.want)
			}
		})
	}
	if got := testutil.ToFloat64(s.metrics.reloads.WithLabelValues("ok")); got < 1 {
		t.Errorf("portico_snapshot_reloads_total{result=ok} = %v, want at least 1", got)
	}
	if got := testutil.ToFloat64(s.metrics.generation); uint64(got) != s.SnapshotStatus().Generation {
		t.Errorf("portico_snapshot_generation = %v, want %d", got, s.SnapshotStatus().Generation)
	}
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newMetricsServer(t, reg)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	// A tenant whose upstream refuses connections: its requests get 502.
	if _, err := s.store.CreateTenant(context.Background(), tenants.Tenant{Domain: "dead.example.com",
		Upstream: "http://127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"shop.example.com", "nobody.example.net", "dead.example.com"} {
		req, _ := http.NewRequest("GET", "https://"+s.HTTPSAddr().String()+"/", nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Only the classes answered have series; checked before the lookups
	// below, which would make the series they name.
	if got := testutil.CollectAndCount(s.metrics.requests); got != 3 {
		t.Errorf("portico_http_requests_total has %d series, want 3 (one per tenant and class answered)", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("shop.example.com", "2xx")); got != 1 {
		t.Errorf("requests{tenant=shop.example.com,class=2xx} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("dead.example.com", "5xx")); got != 1 {
		t.Errorf("requests{tenant=dead.example.com,class=5xx} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(s.metrics.requests.WithLabelValues("", "2xx")); got != 1 {
		t.Errorf("requests{tenant=\"\",class=2xx} = %v, want 1", got)
	}
}

// TestDeletedTenantSeriesDropped shows that a tenant's series go away with
// the tenant, so a long-running server does not keep every domain it ever
// served.
func TestDeletedTenantSeriesDropped(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := newMetricsServer(t, reg)
	handshake(t, s.HTTPSAddr(), "shop.example.com")
	if err := s.store.DeleteTenant(context.Background(), "shop.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "portico_tls_handshakes_total")
	if err != nil {
		t.Fatal(err)
	}
	// Only the two tenant-less series remain: fallback and no_certificate.
	if n != 2 {
		t.Errorf("portico_tls_handshakes_total has %d series after the tenant was deleted, want 2", n)
	}
}

func TestGetCertificateDoesNotAllocate(t *testing.T) {
	s := newMetricsServer(t, prometheus.NewRegistry())
	for _, sni := range []string{"shop.example.com", "a.shop.example.com", "other.example.net", ""} {
		hello := &tls.ClientHelloInfo{ServerName: sni}
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := s.getCertificate(hello); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("getCertificate(%q) allocates %v times per call, want 0", sni, allocs)
		}
	}
}

func TestReady(t *testing.T) {
	s := newMetricsServer(t, prometheus.NewRegistry())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + s.HTTPSAddr().String() + "/-/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/-/ready: got %d, want 200", resp.StatusCode)
	}

	s.store.Close()
	if err := s.Ready(context.Background()); err == nil {
		t.Error("Ready with a closed store: got nil, want an error")
	}
}
