package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/portico-proxy/portico/tenants"
)

// TestProxyProtocol connects the way a TCP load balancer does, with a PROXY
// v1 or v2 header before TLS, and checks that the address in the header is
// the client's for the forwarding headers, that connections without the
// header are refused, and that with trusted proxies only they may connect.
func TestProxyProtocol(t *testing.T) {
	up := echoUpstream(t)
	tests := []struct {
		name    string
		trusted []string
		header  *proxyproto.Header // nil: none sent
		xff     string             // the client's X-Forwarded-For
		wantXFF string             // what the upstream gets; "" means the request fails
		wantFwd string
	}{
		{
			name:    "v1",
			header:  proxyHeader(1, "198.51.100.7:5555"),
			xff:     "6.6.6.6",
			wantXFF: "198.51.100.7",
			wantFwd: "for=198.51.100.7;host=a.test;proto=https",
		},
		{
			name:    "v2 IPv6",
			header:  proxyHeader(2, "[2001:db8::7]:5555"),
			wantXFF: "2001:db8::7",
			wantFwd: `for="[2001:db8::7]";host=a.test;proto=https`,
		},
		{
			name:   "no header",
			header: nil,
		},
		{
			name:    "from a trusted proxy chain",
			trusted: []string{"127.0.0.1", "10.0.0.0/8"},
			header:  proxyHeader(2, "10.1.2.3:5555"),
			xff:     "203.0.113.5",
			wantXFF: "203.0.113.5, 10.1.2.3",
			wantFwd: "for=10.1.2.3;host=a.test;proto=https",
		},
		{
			name:    "sender not trusted",
			trusted: []string{"10.0.0.0/8"},
			header:  proxyHeader(1, "198.51.100.7:5555"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.keypair("a", "a.test")
			e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
			e.start(Config{ProxyProtocol: true, TrustedProxies: tt.trusted, ReadHeaderTimeout: 2 * time.Second})

			c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool()},
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					conn, err := d.DialContext(ctx, "tcp", e.addr())
					if err == nil && tt.header != nil {
						_, err = tt.header.WriteTo(conn)
					}
					return conn, err
				},
			}}
			req, _ := http.NewRequest(http.MethodGet, "https://a.test/", nil)
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			res, err := c.Do(req)
			if tt.wantXFF == "" {
				if err == nil {
					res.Body.Close()
					t.Fatalf("got status %d, want the connection refused", res.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			s := decodeSeen(t, string(body))
			if got := strings.Join(s.Header["X-Forwarded-For"], ", "); got != tt.wantXFF {
				t.Errorf("upstream got X-Forwarded-For %q, want %q", got, tt.wantXFF)
			}
			if got := strings.Join(s.Header["Forwarded"], ", "); !strings.HasSuffix(got, tt.wantFwd) {
				t.Errorf("upstream got Forwarded %q, want it to end with %q", got, tt.wantFwd)
			}
		})
	}
}

// proxyHeader returns a PROXY header of version for a TCP connection from
// src to Portico.
func proxyHeader(version byte, src string) *proxyproto.Header {
	from, err := net.ResolveTCPAddr("tcp", src)
	if err != nil {
		panic(err)
	}
	proto, to := proxyproto.TCPv4, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 443}
	if from.IP.To4() == nil {
		proto, to = proxyproto.TCPv6, &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 443}
	}
	return &proxyproto.Header{
		Version: version, Command: proxyproto.PROXY, TransportProtocol: proto,
		SourceAddr: from, DestinationAddr: to,
	}
}
