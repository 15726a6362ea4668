package main

import (
	"bufio"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

// startServer serves "Hello, World!" over TLS with a leaf for names.
func startServer(t *testing.T, names ...string) (*httptest.Server, *testpki.Leaf) {
	t.Helper()
	leaf := testpki.NewCA(t).Issue(t, names)
	cert, err := tls.X509KeyPair(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("Hello, World!"))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, leaf
}

func TestRunCountsHandshakes(t *testing.T) {
	srv, _ := startServer(t, "a.bench.test", "b.bench.test")
	cfg := config{
		addr:    srv.Listener.Addr().String(),
		names:   []string{"a.bench.test", "b.bench.test"},
		workers: 4,
		limit:   40,
		checks:  checks{timeout: defaultTimeout, wantBody: "Hello, World!"},
	}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.ok != 40 || res.errors() != 0 {
		t.Errorf("got %d ok and %d errors (%s), want 40 and 0", res.ok, res.errors(), res.firstErrors)
	}
	if !strings.Contains(res.line(), " ok=40 errors=0 ") {
		t.Errorf("result line %q lacks ok=40 errors=0", res.line())
	}
}

func TestRunCountsFailures(t *testing.T) {
	srv, _ := startServer(t, "a.bench.test")
	tests := []struct {
		name   string
		sni    string
		body   string
		failed string
	}{
		{"certificate for another name", "other.bench.test", "", "wrong_cert"},
		{"unexpected body", "a.bench.test", "Goodbye", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(config{
				addr: srv.Listener.Addr().String(), names: []string{tt.sni}, workers: 2, limit: 6,
				checks: checks{timeout: defaultTimeout, wantBody: tt.body},
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.ok != 0 || res.failed[tt.failed] != 6 {
				t.Errorf("got %d ok and failures %v, want 0 ok and 6 %s", res.ok, res.failed, tt.failed)
			}
		})
	}
}

func TestProbeWaitsForLeaf(t *testing.T) {
	srv, leaf := startServer(t, "a.bench.test")
	path := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(path, leaf.ChainPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseFlags([]string{"-probe", "-addr", srv.Listener.Addr().String(),
		"-sni", "a.bench.test", "-leaf", path, "-probe-timeout", "10s"})
	if err != nil {
		t.Fatal(err)
	}
	line, err := probe(cfg)
	if err != nil || !strings.HasPrefix(line, "PROBE ok=1 ") {
		t.Errorf("got %q, %v; want PROBE ok=1", line, err)
	}

	other := testpki.NewCA(t).Issue(t, []string{"a.bench.test"})
	os.WriteFile(path, other.ChainPEM, 0o600)
	cfg, _ = parseFlags([]string{"-probe", "-addr", srv.Listener.Addr().String(),
		"-sni", "a.bench.test", "-leaf", path, "-probe-timeout", "200ms"})
	if line, err := probe(cfg); err == nil {
		t.Errorf("got %q for a leaf the server does not send, want an error", line)
	}
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, in, want string
		failed         string // "" for success
	}{
		{"ok", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!", "Hello, World!", ""},
		{"any body", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi", "", ""},
		{"status", "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", "", "status"},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nHello", "", "body"},
		{"short", "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello", "", "read"},
		{"other body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello", "Hello, World!", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readResponse(bufio.NewReader(strings.NewReader(tt.in)), tt.want)
			got := ""
			if f != nil {
				got = f.step
			}
			if got != tt.failed {
				t.Errorf("got failure %q (%v), want %q", got, f, tt.failed)
			}
		})
	}
}
