package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/server"
	"github.com/portico-proxy/portico/web"
)

// testToken is the admin token every harness sets.
const testToken = "test-admin-token-0123456789"

// syncBuffer collects text from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a real Portico on loopback: a SQLite store in a temporary
// folder, the public server and the admin listener, both over TLS. Every
// response body and log line passes through it, and when the test ends it
// fails the test if any of them holds a private key block.
type harness struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	store  *certstore.SQLite
	public *server.Server
	admin  *web.Server
	reg    *prometheus.Registry
	base   string // https://127.0.0.1:PORT of the admin listener
	client *http.Client

	logs   *syncBuffer
	bodies *syncBuffer
}

// harnessOption changes what newHarness builds.
type harnessOption func(*web.Config, *web.Deps)

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, dir: t.TempDir(), logs: &syncBuffer{}, bodies: &syncBuffer{}, reg: prometheus.NewRegistry()}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var err error
	h.store, err = certstore.OpenSQLite(ctx, filepath.Join(h.dir, "portico.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.store.Close() })
	if _, err := certstore.EnsureDefault(ctx, h.store, "localhost", time.Now(), log); err != nil {
		t.Fatal(err)
	}
	if err := web.EnsureToken(ctx, h.store, h.dir, testToken, log); err != nil {
		t.Fatal(err)
	}

	h.public = server.New(server.Config{Listen: "127.0.0.1:0", Metrics: h.reg}, h.store, log)
	if err := h.public.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.public.Shutdown(context.Background()) })

	cfg := web.Config{Listen: "127.0.0.1:0", Version: "test"}
	deps := web.Deps{Store: h.store, Tokens: h.store, Snapshots: h.public, Metrics: h.reg, Log: log}
	for _, o := range opts {
		o(&cfg, &deps)
	}
	h.admin, err = web.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.admin.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.admin.Shutdown(context.Background()) })
	h.base = "https://" + h.admin.Addr().String()
	h.client = newClient(t)

	t.Cleanup(func() {
		assertNoPrivateKey(t, "a response body", h.bodies.String())
		assertNoPrivateKey(t, "the log", h.logs.String())
	})
	return h
}

// newClient is an HTTPS client that trusts anything (the admin listener
// serves a self-signed certificate), keeps cookies and does not follow
// redirects, so tests see them.
func newClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Jar:           jar,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// privateKeyMarker is in every PEM private key block's header: "-----BEGIN
// PRIVATE KEY-----", "... RSA PRIVATE KEY", "... EC PRIVATE KEY",
// "... ENCRYPTED PRIVATE KEY".
const privateKeyMarker = "PRIVATE KEY-----"

func assertNoPrivateKey(t *testing.T, where, text string) {
	t.Helper()
	if near, found := privateKeyBlock(text); found {
		t.Errorf("%s holds a private key block near %q", where, near)
	}
}

// privateKeyBlock finds a private key block's header in text and returns
// the text just before it.
func privateKeyBlock(text string) (string, bool) {
	i := strings.Index(text, privateKeyMarker)
	if i < 0 {
		return "", false
	}
	return text[max(0, i-80) : i+len(privateKeyMarker)], true
}

// TestPrivateKeyCheck shows the check above finds every kind of key block
// Portico might leak, escaped or not, so its silence means something.
func TestPrivateKeyCheck(t *testing.T) {
	key := string(testpki.KeyPEM(t, testpki.NewKey(t, "ecdsa-p256")))
	for _, text := range []string{
		key,
		"-----BEGIN RSA PRIVATE KEY-----\nMIIE",
		"-----BEGIN EC PRIVATE KEY-----",
		"-----BEGIN ENCRYPTED PRIVATE KEY-----",
		`{"private_key":"` + strings.ReplaceAll(key, "\n", "\\n") + `"}`,
	} {
		if _, found := privateKeyBlock(text); !found {
			t.Errorf("privateKeyBlock missed a key in %.40q", text)
		}
	}
	if _, found := privateKeyBlock("-----BEGIN CERTIFICATE-----"); found {
		t.Error("privateKeyBlock flags a certificate")
	}
}

// reqOpt changes a request before it is sent.
type reqOpt func(*http.Request)

func withToken(token string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func withContentType(ct string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Content-Type", ct) }
}

// do sends a request to the admin listener with the test token (unless an
// option replaces it) and returns the response and its body. A body that
// is a string or []byte is sent as is; anything else as JSON.
func (h *harness) do(method, path string, body any, opts ...reqOpt) (*http.Response, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(h.ctx, method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	return h.send(req)
}

// send sends req with the harness's client and records the body.
func (h *harness) send(req *http.Request) (*http.Response, []byte) {
	h.t.Helper()
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	h.bodies.Write(b)
	h.bodies.Write([]byte("\n"))
	return resp, b
}

// problem is a decoded problem details body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// wantProblem checks that resp is a problem with status and a detail that
// contains every one of want.
func wantProblem(t *testing.T, resp *http.Response, body []byte, status int, want ...string) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != status || p.Title == "" || !strings.HasPrefix(p.Type, "urn:portico:problem:") {
		t.Errorf("problem %+v: want status %d, a title and a urn:portico:problem: type", p, status)
	}
	for _, w := range want {
		if !strings.Contains(p.Detail, w) {
			t.Errorf("problem detail %q does not mention %q", p.Detail, w)
		}
	}
	return p
}

// storeState is everything the store holds that a request could change,
// to show that a refused request changed nothing.
type storeState struct {
	Generation uint64
	Tenants    string
	KeyPairs   string
}

func (h *harness) state() storeState {
	h.t.Helper()
	gen, err := h.store.Generation(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	ts, err := h.store.Tenants(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	kps, err := h.store.KeyPairs(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	tj, _ := json.Marshal(ts)
	kj, _ := json.Marshal(kps)
	return storeState{gen, string(tj), string(kj)}
}

func (h *harness) wantUnchanged(before storeState) {
	h.t.Helper()
	if after := h.state(); after != before {
		h.t.Errorf("the store changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// importLeaf stores a keypair for names through the store (not the API),
// for tests that need one to exist.
func (h *harness) importLeaf(name string, leaf *testpki.Leaf) certstore.KeyPair {
	h.t.Helper()
	kp, _, err := h.store.PutKeyPair(h.ctx, certstore.Input{Name: name, Source: certstore.SourceImported,
		Cert: leaf.ChainPEM, CertFrom: "cert", Key: leaf.KeyPEM, KeyFrom: "key"})
	if err != nil {
		h.t.Fatal(err)
	}
	return kp
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return v
}
