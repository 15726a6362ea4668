package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

// TestUpstreamFailures checks the answers for an upstream that is down
// (502) and one that is too slow (504): a short page that names no address,
// and a log line with the tenant and the reason.
func TestUpstreamFailures(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	dead := deadAddr(t)

	e := newEnv(t)
	e.keypair("a", "dead.test", "slow.test")
	e.tenant(tenants.Tenant{Domain: "dead.test", Certificate: "a", Upstream: "http://" + dead})
	e.tenant(tenants.Tenant{Domain: "slow.test", Certificate: "a", Upstream: slow.URL})
	e.start(Config{UpstreamResponseTimeout: 300 * time.Millisecond})
	c := e.client(true)

	tests := []struct {
		tenant, url string
		status      int
		reason      string
	}{
		{"dead.test", "https://dead.test/", http.StatusBadGateway, "connection refused"},
		{"slow.test", "https://slow.test/", http.StatusGatewayTimeout, "timeout awaiting response headers"},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			res, body := get(t, c, tt.url, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d", res.StatusCode, tt.status)
			}
			if !strings.Contains(body, http.StatusText(tt.status)) {
				t.Errorf("page %q does not say %q", body, http.StatusText(tt.status))
			}
			for _, leak := range []string{"127.0.0.1", dead, strings.TrimPrefix(slow.URL, "http://"), "dial", "tcp"} {
				if strings.Contains(body, leak) {
					t.Errorf("page %q leaks %q", body, leak)
				}
			}
			var found bool
			for _, l := range e.logs.lines("upstream request failed") {
				if l["tenant"] == tt.tenant && l["status"] == float64(tt.status) &&
					strings.Contains(l["reason"].(string), tt.reason) {
					found = true
				}
			}
			if !found {
				t.Errorf("no log line for tenant %s with status %d and reason %q", tt.tenant, tt.status, tt.reason)
			}
		})
	}
}

// TestFailureStatus checks how proxying errors map to statuses: timeouts
// (dialing included) to 504, a body over the limit to 413, a client that
// went away to 499, anything else to 502.
func TestFailureStatus(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	timeoutErr := &net.OpError{Op: "dial", Err: timeoutError{}}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"refused", context.Background(), errors.New("connection refused"), http.StatusBadGateway},
		{"dial timeout", context.Background(), timeoutErr, http.StatusGatewayTimeout},
		{"deadline", context.Background(), context.DeadlineExceeded, http.StatusGatewayTimeout},
		{"body too large", context.Background(), &http.MaxBytesError{Limit: 1}, http.StatusRequestEntityTooLarge},
		{"client gone", canceled, context.Canceled, statusClientClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(tt.ctx)
			if got := failureStatus(r, tt.err); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestLogLimiter checks that failures are logged at most once per interval
// and that the next line counts those held back.
func TestLogLimiter(t *testing.T) {
	var l logLimiter
	now := time.Unix(1000, 0)
	steps := []struct {
		at         time.Duration
		ok         bool
		suppressed int64
	}{
		{0, true, 0},
		{100 * time.Millisecond, false, 0},
		{500 * time.Millisecond, false, 0},
		{failureLogInterval, true, 2},
		{failureLogInterval + time.Millisecond, false, 0},
		{3 * failureLogInterval, true, 1},
	}
	for i, s := range steps {
		ok, n := l.allow(now.Add(s.at))
		if ok != s.ok || n != s.suppressed {
			t.Errorf("step %d: got (%v, %d), want (%v, %d)", i, ok, n, s.ok, s.suppressed)
		}
	}
}
