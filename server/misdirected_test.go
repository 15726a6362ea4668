package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/portico-proxy/portico/tenants"
)

// TestMisdirectedRequest sends requests for several hosts over one HTTP/2
// connection, as browsers do when a certificate covers several names, and
// checks that Portico answers 421 exactly when a new connection for the
// host would get another certificate, or the certificate does not cover it,
// and never for requests that name no host (no server name, or a Host that
// is an IP address).
func TestMisdirectedRequest(t *testing.T) {
	up := tagUpstream(t, "up")
	e := newEnv(t)
	e.keypair("ac", "a.test", "c.test") // one keypair for two tenants
	e.keypair("b", "b.test")
	e.keypair("d", "d.test")             // d.test's certificate does not cover www.d.test
	e.keypair("w", "w.test", "*.w.test") // a wildcard covers one label more, not two
	for _, d := range []string{"a.test", "b.test", "c.test", "d.test", "w.test"} {
		cert := map[string]string{"a.test": "ac", "b.test": "b", "c.test": "ac", "d.test": "d", "w.test": "w"}[d]
		e.tenant(tenants.Tenant{Domain: d, Certificate: cert, Upstream: up.URL, Default: d == "b.test"})
	}
	e.start(Config{})

	tests := []struct {
		name  string
		sni   string
		hosts []hostStatus // requests in this order, all on one connection
	}{
		{"same name", "a.test", []hostStatus{{"a.test", 200}, {"A.TEST.", 200}, {"a.test:443", 200}}},
		{"other certificate", "a.test", []hostStatus{{"b.test", 421}, {"a.test", 200}, {"d.test", 421}, {"unknown.test", 421}}},
		{"shared certificate", "a.test", []hostStatus{{"c.test", 200}, {"a.test", 200}}},
		{"certificate does not cover host", "d.test", []hostStatus{{"www.d.test", 421}, {"d.test", 200}}},
		{"wildcard certificate", "w.test", []hostStatus{{"www.w.test", 200}, {"WWW.W.TEST", 200}, {"a.b.w.test", 421}, {"w.test", 200}}},
		{"no server name", "", []hostStatus{{"b.test", 200}, {"a.test", 200}, {"unknown.test", 200}}},
		{"host is an address", "a.test", []hostStatus{{"127.0.0.1", 200}, {"127.0.0.1:8443", 200}, {"[::1]:8443", 200}, {"b.test", 421}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := e.h2Conn(t, tt.sni)
			for _, hs := range tt.hosts {
				host, want := hs.host, hs.status
				req, _ := http.NewRequest(http.MethodGet, "https://"+host+"/", nil)
				req.Host = host
				res, err := cc.RoundTrip(req)
				if err != nil {
					t.Fatalf("Host %s: %v", host, err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("SNI %q, Host %s: got %d %q, want %d", tt.sni, host, res.StatusCode, body, want)
				}
			}
			if st := cc.State(); st.StreamsActive != 0 || st.Closed {
				t.Errorf("connection state after the requests: %+v", st)
			}
		})
	}
}

type hostStatus struct {
	host   string
	status int
}

// h2Conn opens one HTTP/2 connection to the server with server name sni
// ("" for none). Without a name the certificate is not verified: the
// client connects "by address" and gets the default one.
func (e *env) h2Conn(t *testing.T, sni string) *http2.ClientConn {
	t.Helper()
	conf := &tls.Config{RootCAs: e.ca.Pool(), ServerName: sni, NextProtos: []string{"h2"}}
	if sni == "" {
		conf.InsecureSkipVerify = true
	}
	raw, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	cc, err := (&http2.Transport{}).NewClientConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// TestRequestWithoutHostUsesServerName sends an HTTP/1.0 request with no
// Host header on a connection that named a tenant in its handshake: it goes
// to that tenant, not to a 421 the client would never retry.
func TestRequestWithoutHostUsesServerName(t *testing.T) {
	a, b := tagUpstream(t, "tenant-a"), tagUpstream(t, "tenant-b")
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.keypair("b", "b.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: a.URL})
	e.tenant(tenants.Tenant{Domain: "b.test", Certificate: "b", Upstream: b.URL, Default: true})
	e.start(Config{})

	conn, err := tls.Dial("tcp", e.addr(), &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n")
	reply, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(reply), "HTTP/1.0 200") || !strings.HasSuffix(string(reply), "tenant-a") {
		t.Errorf("reply %q, want 200 from tenant a's upstream", reply)
	}
}
