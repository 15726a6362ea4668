package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// env is one Portico server on loopback with its own SQLite store, a
// throwaway CA and a captured log.
type env struct {
	t     testing.TB
	ca    *testpki.CA
	store *certstore.SQLite
	srv   *Server
	logs  *logBuffer
}

// newEnv opens a store in a temporary folder, with the default self-signed
// keypair in it. Start the server with start once tenants are added.
func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	store, err := certstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := certstore.EnsureDefault(ctx, store, "portico.invalid", time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ca: testpki.NewCA(t), store: store, logs: &logBuffer{}}
}

// keypair stores a keypair called name for names, signed by the env's CA.
func (e *env) keypair(name string, names ...string) {
	e.t.Helper()
	leaf := e.ca.Issue(e.t, names)
	_, _, err := e.store.PutKeyPair(context.Background(), certstore.Input{
		Name: name, Source: certstore.SourceImported, Cert: leaf.ChainPEM, Key: leaf.KeyPEM,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// tenant stores t.
func (e *env) tenant(t tenants.Tenant) {
	e.t.Helper()
	if _, err := e.store.CreateTenant(context.Background(), t); err != nil {
		e.t.Fatal(err)
	}
}

// start runs the server on 127.0.0.1:0 (HTTPS only) with cfg and shuts it
// down when the test ends.
func (e *env) start(cfg Config) *Server {
	e.t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.HTTPListen = ""
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = New(cfg, e.store, log)
	ctx, cancel := context.WithCancel(context.Background())
	if err := e.srv.Start(ctx); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		cancel()
		e.srv.Shutdown(context.Background())
	})
	return e.srv
}

// addr returns the HTTPS listener's address.
func (e *env) addr() string { return e.srv.HTTPSAddr().String() }

// client returns an HTTP client that trusts the env's CA and connects to
// the server whatever the URL's host, so URLs name tenants
// ("https://a.test/"). h2 chooses HTTP/2; otherwise HTTP/1.1.
func (e *env) client(h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool()},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", e.addr())
		},
		ForceAttemptHTTP2: h2,
	}
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get requests url with c and returns the status and body.
func get(t *testing.T, c *http.Client, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return res, string(body)
}

// seen is what the echo upstream reports about the request it received.
type seen struct {
	Method     string              `json:"method"`
	Host       string              `json:"host"`
	RequestURI string              `json:"request_uri"`
	Proto      string              `json:"proto"`
	Header     map[string][]string `json:"header"`
}

// echoUpstream starts an upstream that answers every request with a JSON
// description of it.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(seen{Method: r.Method, Host: r.Host, RequestURI: r.RequestURI, Proto: r.Proto, Header: r.Header})
	}))
	t.Cleanup(up.Close)
	return up
}

func decodeSeen(t *testing.T, body string) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("upstream answer %q: %v", body, err)
	}
	return s
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// logBuffer collects JSON log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the logged records whose message is msg.
func (b *logBuffer) lines(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// waitFor polls cond until it holds or the test's patience runs out. It
// bounds a wait for something asynchronous; it asserts nothing about time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
