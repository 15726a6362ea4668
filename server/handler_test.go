package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portico-proxy/portico/tenants"
)

func TestHostName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a.test", "a.test"},
		{"A.Test:8443", "a.test"},
		{"a.test.", "a.test"},
		{"a.test.:443", "a.test"},
		{"192.0.2.1:443", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := hostName(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRequestPathAllocations keeps the per-request lookups free of
// allocations: the Host's name, its route and the 421 check on the common
// path (server name equal to host).
func TestRequestPathAllocations(t *testing.T) {
	ts := []tenants.Tenant{{Domain: "a.test"}, {Domain: "b.test", Default: true}}
	rt := (&upstreams{transports: map[string]*http.Transport{}, log: discardLogger()}).routing(ts)
	sn := &snapshot{routing: rt}
	req := httptest.NewRequest(http.MethodGet, "https://www.a.test:8443/", nil)
	req.TLS.ServerName = "www.a.test"

	var got *route
	allocs := testing.AllocsPerRun(100, func() {
		host := hostName(req.Host)
		got = sn.routing.route(host)
		if misdirected(sn, req.TLS, host) {
			got = nil
		}
	})
	if allocs != 0 {
		t.Errorf("got %v allocations per request, want 0", allocs)
	}
	if got == nil || got.tenant != "a.test" {
		t.Errorf("got route %+v, want a.test's", got)
	}
}

// TestRecorder checks that informational responses pass through without
// becoming the recorded status, and that the size counts the body.
func TestRecorder(t *testing.T) {
	var p recorderPool
	w := &codesWriter{header: http.Header{}}
	rec := p.get(w)
	rec.WriteHeader(http.StatusEarlyHints)
	rec.WriteHeader(http.StatusNotFound)
	rec.Write([]byte("nope"))
	if rec.status != http.StatusNotFound || rec.bytes != 4 {
		t.Errorf("recorded %d and %d bytes, want 404 and 4", rec.status, rec.bytes)
	}
	if len(w.codes) != 2 || w.codes[0] != http.StatusEarlyHints || w.codes[1] != http.StatusNotFound || w.body != "nope" {
		t.Errorf("client got %v %q, want [103 404] \"nope\"", w.codes, w.body)
	}
	rec.release()
	if again := p.get(httptest.NewRecorder()); again.status != 0 || again.bytes != 0 {
		t.Errorf("a reused recorder starts at %d and %d bytes", again.status, again.bytes)
	}
}

// codesWriter records every status written, 1xx included, which
// httptest.ResponseRecorder does not.
type codesWriter struct {
	header http.Header
	codes  []int
	body   string
}

func (w *codesWriter) Header() http.Header  { return w.header }
func (w *codesWriter) WriteHeader(code int) { w.codes = append(w.codes, code) }
func (w *codesWriter) Write(b []byte) (int, error) {
	w.body += string(b)
	return len(b), nil
}
