package server

import (
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// TestProxyHeaders proxies real requests to a real upstream and checks
// what the upstream receives: host, path, and forwarding headers, with and
// without spoofed values, with and without a trusted proxy.
func TestProxyHeaders(t *testing.T) {
	up := echoUpstream(t)
	upHost := strings.TrimPrefix(up.URL, "http://")

	e := newEnv(t)
	e.keypair("a", "a.test", "*.a.test")
	e.keypair("b", "b.test")
	e.keypair("c", "c.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	e.tenant(tenants.Tenant{Domain: "b.test", Certificate: "b", Upstream: up.URL + "/app", UpstreamHost: true})
	e.tenant(tenants.Tenant{Domain: "c.test", Certificate: "c", Upstream: up.URL})
	e.start(Config{TrustedProxies: []string{"192.0.2.0/24"}})
	c, c1 := e.client(true), e.client(false)

	spoof := http.Header{
		"X-Forwarded-For":   {"6.6.6.6"},
		"X-Forwarded-Host":  {"evil.test"},
		"X-Forwarded-Proto": {"http"},
		"X-Forwarded-Port":  {"1"},
		"X-Real-Ip":         {"6.6.6.6"},
		"Forwarded":         {"for=6.6.6.6;proto=http"},
	}
	tests := []struct {
		name    string
		url     string
		header  http.Header
		host    string
		uri     string
		want    map[string]string // header: value; "" means absent
		wantRes map[string]string
	}{
		{
			name: "client host reaches upstream",
			url:  "https://a.test/path/x?q=1&r=%2F",
			host: "a.test",
			uri:  "/path/x?q=1&r=%2F",
			want: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "a.test",
				"Forwarded":         "for=127.0.0.1;host=a.test;proto=https",
			},
		},
		{
			name: "subdomain with port keeps its host",
			url:  "https://www.a.test:8443/",
			host: "www.a.test:8443",
			uri:  "/",
			want: map[string]string{
				"X-Forwarded-Host": "www.a.test:8443",
				"Forwarded":        `for=127.0.0.1;host="www.a.test:8443";proto=https`,
			},
		},
		{
			name:   "spoofed forwarding headers are replaced",
			url:    "https://a.test/",
			header: spoof,
			host:   "a.test",
			uri:    "/",
			want: map[string]string{
				"X-Forwarded-For":   "127.0.0.1",
				"X-Forwarded-Proto": "https",
				"X-Forwarded-Host":  "a.test",
				"Forwarded":         "for=127.0.0.1;host=a.test;proto=https",
				"X-Forwarded-Port":  "",
				"X-Real-Ip":         "",
			},
		},
		{
			name: "upstream host and path prefix",
			url:  "https://b.test/x?y=2",
			host: upHost,
			uri:  "/app/x?y=2",
			want: map[string]string{"X-Forwarded-Host": "b.test"},
		},
		{
			name: "hop-by-hop headers are not forwarded",
			url:  "https://c.test/",
			header: http.Header{
				"Connection":    {"X-Secret"},
				"X-Secret":      {"hop"},
				"Authorization": {"Bearer kept"},
			},
			host: "c.test",
			uri:  "/",
			want: map[string]string{"X-Secret": "", "Authorization": "Bearer kept"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c
			if tt.header.Get("Connection") != "" {
				c = c1 // HTTP/2 has no Connection header
			}
			res, body := get(t, c, tt.url, tt.header)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("got status %d, want 200; body %q", res.StatusCode, body)
			}
			s := decodeSeen(t, body)
			if s.Host != tt.host {
				t.Errorf("upstream got Host %q, want %q", s.Host, tt.host)
			}
			if s.RequestURI != tt.uri {
				t.Errorf("upstream got request URI %q, want %q", s.RequestURI, tt.uri)
			}
			for k, want := range tt.want {
				got := strings.Join(s.Header[k], ", ")
				if got != want {
					t.Errorf("upstream got %s %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestTrustedProxyKeepsForwarding checks that headers from a trusted proxy
// are kept and extended rather than replaced.
func TestTrustedProxyKeepsForwarding(t *testing.T) {
	up := echoUpstream(t)
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	e.start(Config{TrustedProxies: []string{"10.0.0.0/8", "127.0.0.1"}})

	res, body := get(t, e.client(false), "https://a.test/", http.Header{
		"X-Forwarded-For":   {"203.0.113.9"},
		"X-Forwarded-Host":  {"shop.example"},
		"X-Forwarded-Proto": {"https"},
		"Forwarded":         {"for=203.0.113.9;proto=https"},
	})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", res.StatusCode)
	}
	s := decodeSeen(t, body)
	for k, want := range map[string]string{
		"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Host":  "shop.example",
		"X-Forwarded-Proto": "https",
		"Forwarded":         "for=203.0.113.9;proto=https, for=127.0.0.1;host=a.test;proto=https",
	} {
		if got := strings.Join(s.Header[k], ", "); got != want {
			t.Errorf("upstream got %s %q, want %q", k, got, want)
		}
	}
}

// TestRouting checks which upstream or built-in answer each host gets:
// a tenant's own upstream, the default upstream, the built-in response,
// and a tenant that has no keypair yet but still owns its host.
func TestRouting(t *testing.T) {
	own := tagUpstream(t, "own")
	def := tagUpstream(t, "default")
	nocert := tagUpstream(t, "nocert")

	e := newEnv(t)
	e.keypair("a", "a.test", "*.a.test")
	e.keypair("plain", "plain.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: own.URL, HSTSMaxAge: 365 * 24 * time.Hour})
	e.tenant(tenants.Tenant{Domain: "shop.a.test", Upstream: nocert.URL}) // no keypair: a.test's covers it
	e.tenant(tenants.Tenant{Domain: "plain.test", Certificate: "plain"})
	e.start(Config{DefaultUpstream: def.URL})
	c := e.client(true)

	tests := []struct {
		name, url, want, hsts string
	}{
		{"own upstream", "https://a.test/", "own", "max-age=31536000"},
		{"own upstream for a subdomain", "https://www.a.test/", "own", "max-age=31536000"},
		{"tenant without keypair keeps its upstream", "https://shop.a.test/", "nocert", ""},
		{"default upstream", "https://plain.test/", "default", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, c, tt.url, nil)
			if res.StatusCode != http.StatusOK || body != tt.want {
				t.Fatalf("got %d %q, want 200 %q", res.StatusCode, body, tt.want)
			}
			if res.ProtoMajor != 2 {
				t.Errorf("client spoke %s to Portico, want HTTP/2", res.Proto)
			}
			if got := res.Header.Get("Strict-Transport-Security"); got != tt.hsts {
				t.Errorf("got HSTS %q, want %q", got, tt.hsts)
			}
		})
	}
}

// TestBuiltinResponse checks the answer for a tenant with no upstream and
// no default upstream.
func TestBuiltinResponse(t *testing.T) {
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", HSTSMaxAge: time.Hour})
	e.start(Config{})
	res, body := get(t, e.client(true), "https://a.test/", nil)
	if res.StatusCode != http.StatusOK || body != "Portico: tenant a.test\n" {
		t.Fatalf("got %d %q, want the built-in response", res.StatusCode, body)
	}
	if got := res.Header.Get("Strict-Transport-Security"); got != "max-age=3600" {
		t.Errorf("got HSTS %q, want max-age=3600", got)
	}
}

// tagUpstream starts an upstream that answers every request with tag.
func tagUpstream(t *testing.T, tag string) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, tag)
	}))
	t.Cleanup(up.Close)
	return up
}

// TestKeepAlivePooling checks that sequential requests reuse one upstream
// connection, also across a snapshot rebuild.
func TestKeepAlivePooling(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)

	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	srv := e.start(Config{})
	c := e.client(true)

	for i := range 20 {
		if i == 10 {
			e.keypair("b", "b.test")
			e.tenant(tenants.Tenant{Domain: "b.test", Certificate: "b", Upstream: up.URL})
			if err := srv.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if res, body := get(t, c, "https://a.test/", nil); res.StatusCode != http.StatusOK {
			t.Fatalf("request %d: got %d %q", i, res.StatusCode, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 20 sequential requests, want 1", n)
	}
}

// TestUpstreamCA proxies to an https:// upstream whose certificate only the
// --upstream-ca file makes trusted, and checks that without it the request
// fails with 502.
func TestUpstreamCA(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls upstream")
	}))
	t.Cleanup(up.Close)
	caFile := writeCertPEM(t, up.Certificate().Raw)

	for _, tt := range []struct {
		name   string
		ca     string
		status int
	}{
		{"trusted through upstream CA", caFile, http.StatusOK},
		{"untrusted without it", "", http.StatusBadGateway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.keypair("a", "a.test")
			e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
			e.start(Config{UpstreamCA: tt.ca})
			res, body := get(t, e.client(true), "https://a.test/", nil)
			if res.StatusCode != tt.status {
				t.Fatalf("got %d %q, want %d", res.StatusCode, body, tt.status)
			}
		})
	}
}

// TestMaxRequestBody checks that a body over the limit gets 413 and never
// reaches the upstream, and that without a limit a large body goes through.
func TestMaxRequestBody(t *testing.T) {
	var reached atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		reached.Add(1)
		io.WriteString(w, strconv.FormatInt(n, 10))
	}))
	t.Cleanup(up.Close)

	for _, tt := range []struct {
		name    string
		limit   int64
		size    int
		status  int
		reached int64
	}{
		{"unlimited", 0, 4 << 20, http.StatusOK, 1},
		{"under the limit", 1 << 20, 1 << 20, http.StatusOK, 1},
		{"over the limit", 1 << 20, 1<<20 + 1, http.StatusRequestEntityTooLarge, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reached.Store(0)
			e := newEnv(t)
			e.keypair("a", "a.test")
			e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
			e.start(Config{MaxRequestBody: tt.limit})
			res, err := e.client(true).Post("https://a.test/", "application/octet-stream",
				strings.NewReader(strings.Repeat("b", tt.size)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("got %d %q, want %d", res.StatusCode, body, tt.status)
			}
			if tt.status == http.StatusOK && string(body) != strconv.Itoa(tt.size) {
				t.Errorf("upstream read %s bytes, want %d", body, tt.size)
			}
			if got := reached.Load(); got != tt.reached {
				t.Errorf("upstream handled %d requests, want %d", got, tt.reached)
			}
		})
	}
}

// writeCertPEM writes a DER certificate as a PEM file and returns its path.
func writeCertPEM(t *testing.T, der []byte) string {
	t.Helper()
	return testpki.WriteFile(t, t.TempDir(), "upstream-ca.pem",
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// TestEarlyHints checks that an upstream's 103 Early Hints reach the
// client ahead of the final response, which must stay intact.
func TestEarlyHints(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "final")
	}))
	t.Cleanup(up.Close)
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	e.start(Config{})

	for _, h2 := range []bool{false, true} {
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, strconv.Itoa(code)+" "+h.Get("Link"))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
			http.MethodGet, "https://a.test/", nil)
		res, err := e.client(h2).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated || string(body) != "final" {
			t.Errorf("%s: got %d %q, want 201 \"final\"", res.Proto, res.StatusCode, body)
		}
		if len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload; as=style" {
			t.Errorf("%s: got informational responses %q, want the 103 with its Link", res.Proto, hints)
		}
	}
	var statuses []float64
	for _, l := range e.logs.lines("request") {
		statuses = append(statuses, l["status"].(float64))
	}
	if len(statuses) != 2 || statuses[0] != 201 || statuses[1] != 201 {
		t.Errorf("access log statuses %v, want [201 201]", statuses)
	}
}

// TestMethods checks that every method reaches the upstream, including
// those Echo's router does not list (WebDAV's, PURGE).
func TestMethods(t *testing.T) {
	up := echoUpstream(t)
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	e.start(Config{})
	c := e.client(true)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "MKCOL", "PURGE"} {
		t.Run(m, func(t *testing.T) {
			req, _ := http.NewRequest(m, "https://a.test/dav/x", nil)
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("got %d %q", res.StatusCode, body)
			}
			if s := decodeSeen(t, string(body)); s.Method != m || s.RequestURI != "/dav/x" {
				t.Errorf("upstream got %s %s, want %s /dav/x", s.Method, s.RequestURI, m)
			}
		})
	}
}
