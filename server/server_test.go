package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// testEnv is a real server on loopback over a real SQLite file.
type testEnv struct {
	t     *testing.T
	store *certstore.SQLite
	srv   *Server
	ca    *testpki.CA
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := certstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certstore.EnsureDefault(ctx, store, "portico.test", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Listen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"}, store, nil)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		cancel()
		store.Close()
	})
	return &testEnv{t: t, store: store, srv: srv, ca: testpki.NewCA(t)}
}

// keypair issues a certificate for names and stores it as keypair name.
func (e *testEnv) keypair(name string, withKey bool, names ...string) *testpki.Leaf {
	e.t.Helper()
	l := e.ca.Issue(e.t, names)
	in := certstore.Input{Name: name, Source: certstore.SourceImported, Cert: l.ChainPEM}
	if withKey {
		in.Key = l.KeyPEM
	}
	if _, _, err := e.store.PutKeyPair(context.Background(), in); err != nil {
		e.t.Fatal(err)
	}
	return l
}

func (e *testEnv) tenant(domain, cert string, isDefault bool) {
	e.t.Helper()
	_, err := e.store.CreateTenant(context.Background(), tenants.Tenant{Domain: domain, Certificate: cert, Default: isDefault})
	if err != nil {
		e.t.Fatal(err)
	}
}

// reload publishes the store's current state at once, as the change signal
// would within a moment.
func (e *testEnv) reload() {
	e.t.Helper()
	if err := e.srv.Reload(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// handshake connects with sni (none when empty) and returns the leaf the
// server presented.
func (e *testEnv) handshake(sni string) *x509.Certificate {
	e.t.Helper()
	conn, err := tls.Dial("tcp", e.srv.HTTPSAddr().String(), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		e.t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

func TestHandshakePicksTenantCertificate(t *testing.T) {
	e := newTestEnv(t)
	e.keypair("example", true, "example.com", "*.example.com")
	e.keypair("deep", true, "deep.example.com", "*.deep.example.com")
	e.keypair("fallback", true, "fallback.test")
	e.keypair("certonly", false, "nokey.example.com")
	e.tenant("example.com", "example", false)
	e.tenant("deep.example.com", "deep", false)
	e.tenant("nokey.example.com", "certonly", false)
	e.tenant("fallback.test", "fallback", true)
	e.reload()

	tests := []struct {
		name, sni, wantCN string
	}{
		{"exact tenant", "example.com", "example.com"},
		{"subdomain", "www.example.com", "example.com"},
		{"deeper subdomain of a deeper tenant", "a.b.deep.example.com", "deep.example.com"},
		{"upper-case SNI", "WWW.Example.COM", "example.com"},
		{"trailing dot", "example.com.", "example.com"},
		{"not on a label boundary gets the default", "badexample.com", "fallback.test"},
		{"tenant whose keypair has no key is skipped", "nokey.example.com", "example.com"},
		{"no SNI gets the default", "", "fallback.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.handshake(tt.sni).Subject.CommonName; got != tt.wantCN {
				t.Errorf("SNI %q got certificate %q, want %q", tt.sni, got, tt.wantCN)
			}
		})
	}
}

func TestHandshakeFallsBackToSelfSigned(t *testing.T) {
	e := newTestEnv(t)
	e.keypair("example", true, "example.com")
	e.tenant("example.com", "example", false)
	e.tenant("nocert.test", "", true) // the default, but with nothing to serve
	e.reload()

	for _, sni := range []string{"", "other.org", "nocert.test"} {
		leaf := e.handshake(sni)
		if leaf.Subject.CommonName != "portico.test" || leaf.Subject.Organization[0] != "Portico" {
			t.Errorf("SNI %q got %q, want the self-signed default", sni, leaf.Subject)
		}
	}
}

func TestTLSVersionsAndALPN(t *testing.T) {
	e := newTestEnv(t)
	addr := e.srv.HTTPSAddr().String()
	_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if err == nil {
		t.Error("a TLS 1.1 client completed a handshake, want it refused")
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("TLS %x: %v", v, err)
		}
		if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Errorf("TLS %x negotiated ALPN %q, want h2", v, p)
		}
		conn.Close()
	}
}

// TestReloadKeepsOpenConnections changes a tenant's certificate while a
// connection is open: new handshakes get the new certificate within the
// change signal's delay, and the open connection goes on working.
func TestReloadKeepsOpenConnections(t *testing.T) {
	e := newTestEnv(t)
	e.keypair("old", true, "shop.example.com")
	e.tenant("shop.example.com", "old", false)
	e.reload()

	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "shop.example.com", InsecureSkipVerify: true},
		MaxConnsPerHost: 1,
	}}
	url := "https://" + e.srv.HTTPSAddr().String() + "/"
	get := func() *http.Response {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	before := get()
	oldSerial := before.TLS.PeerCertificates[0].SerialNumber

	renewed := e.keypair("old", true, "shop.example.com") // a renewal in place
	deadline := time.Now().Add(5 * time.Second)
	for e.handshake("shop.example.com").SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not served after 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	after := get() // the same keep-alive connection
	if after.TLS.PeerCertificates[0].SerialNumber.Cmp(oldSerial) != 0 {
		t.Errorf("the open connection was replaced by a new one during the reload")
	}
	if after.StatusCode != http.StatusOK {
		t.Errorf("request on the open connection: status %d", after.StatusCode)
	}
}

// TestFailedReloadKeepsLastSnapshot makes the store unreadable: the reload
// fails and handshakes go on with what was published before.
func TestFailedReloadKeepsLastSnapshot(t *testing.T) {
	e := newTestEnv(t)
	e.keypair("shop", true, "shop.example.com")
	e.tenant("shop.example.com", "shop", false)
	e.reload()
	gen := e.srv.Generation()

	e.store.Close()
	if err := e.srv.Reload(context.Background()); err == nil {
		t.Fatal("reload from a closed store succeeded")
	}
	if e.srv.Generation() != gen {
		t.Errorf("generation moved from %d to %d after a failed reload", gen, e.srv.Generation())
	}
	if cn := e.handshake("shop.example.com").Subject.CommonName; cn != "shop.example.com" {
		t.Errorf("after a failed reload got %q, want the last good certificate", cn)
	}
}

func TestHandlerAndRedirect(t *testing.T) {
	e := newTestEnv(t)
	e.keypair("shop", true, "shop.example.com")
	e.tenant("shop.example.com", "shop", false)
	e.reload()

	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	body := func(url, host string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	https := "https://" + e.srv.HTTPSAddr().String()
	if code, b, _ := body(https+"/-/health", "x"); code != 200 || !strings.Contains(b, "ok") {
		t.Errorf("health: %d %q", code, b)
	}
	if _, b, _ := body(https+"/", "www.Shop.example.com:443"); !strings.Contains(b, "shop.example.com") {
		t.Errorf("tenant response %q does not name the tenant", b)
	}
	if _, b, _ := body(https+"/", "unknown.org"); !strings.Contains(b, "no tenant") {
		t.Errorf("unmatched response %q does not say no tenant matched", b)
	}

	port := e.srv.HTTPSAddr().String()[strings.LastIndex(e.srv.HTTPSAddr().String(), ":"):]
	code, _, h := body("http://"+e.srv.HTTPAddr().String()+"/a/b?c=d&e=f", "shop.example.com:80")
	if want := "https://shop.example.com" + port + "/a/b?c=d&e=f"; code != http.StatusPermanentRedirect || h.Get("Location") != want {
		t.Errorf("redirect: %d to %q, want 308 to %q", code, h.Get("Location"), want)
	}
}
