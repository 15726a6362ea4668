package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-proxy/portico/tenants"
)

// BenchmarkProxy measures one keep-alive request through Portico (TLS on
// loopback) to a trivial upstream, with the access log on and off. The
// comparison with other servers is the load run in docs/benchmarks.md; this
// is for watching the request path's cost and allocations:
//
//	go test -run '^$' -bench Proxy -benchmem ./server
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer up.Close()

	for _, bc := range []struct {
		name string
		h2   bool
		off  bool
	}{
		{"http1", false, true},
		{"http1 access log", false, false},
		{"http2", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b)
			e.keypair("a", "a.test")
			e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
			e.start(Config{DisableAccessLog: bc.off})
			c := e.client(bc.h2)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				res, err := c.Get("https://a.test/")
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Fatalf("got %d", res.StatusCode)
				}
			}
		})
	}
}
