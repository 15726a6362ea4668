package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-proxy/portico/tenants"
)

// blockingUpstream answers "done" once release is closed, after telling
// arrived about each request.
func blockingUpstream(t *testing.T) (up *httptest.Server, arrived chan struct{}, release chan struct{}) {
	t.Helper()
	arrived, release = make(chan struct{}, 8), make(chan struct{})
	up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
			io.WriteString(w, "done")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	return up, arrived, release
}

type result struct {
	status int
	body   string
	err    error
}

// getAsync requests url in the background.
func getAsync(c *http.Client, url string) <-chan result {
	out := make(chan result, 1)
	go func() {
		res, err := c.Get(url)
		if err != nil {
			out <- result{err: err}
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		out <- result{res.StatusCode, string(body), err}
	}()
	return out
}

// TestGracefulShutdown starts a request, shuts the server down while the
// upstream still works on it, and checks that new connections are refused
// at once while the request in flight completes normally.
func TestGracefulShutdown(t *testing.T) {
	up, arrived, release := blockingUpstream(t)
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	srv := e.start(Config{ShutdownTimeout: time.Minute})

	inFlight := getAsync(e.client(true), "https://a.test/slow")
	<-arrived

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(context.Background()) }()
	waitFor(t, "the listener to close", func() bool {
		conn, err := net.Dial("tcp", e.addr())
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}

	close(release)
	r := <-inFlight
	if r.err != nil || r.status != http.StatusOK || r.body != "done" {
		t.Fatalf("request in flight: got %d %q %v, want 200 \"done\"", r.status, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestShutdownTimeout checks that a request still running when the
// shutdown timeout ends is cut, and that Shutdown says so.
func TestShutdownTimeout(t *testing.T) {
	up, arrived, _ := blockingUpstream(t)
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	srv := e.start(Config{ShutdownTimeout: 200 * time.Millisecond})

	inFlight := getAsync(e.client(true), "https://a.test/never")
	<-arrived
	if err := srv.Shutdown(context.Background()); err == nil {
		t.Error("Shutdown returned nil, want an error saying requests were cut")
	}
	if r := <-inFlight; r.err == nil && r.status == http.StatusOK {
		t.Errorf("request in flight: got %d %q, want it cut", r.status, r.body)
	}
}

// TestShutdownClosesWebSockets checks that upgraded connections, which
// http.Server.Shutdown does not track, are closed when Shutdown returns.
func TestShutdownClosesWebSockets(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Read(r.Context()) // until the connection goes
	}))
	t.Cleanup(up.Close)
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	srv := e.start(Config{})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "wss://a.test/ws", &websocket.DialOptions{HTTPClient: e.client(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, _, err := c.Read(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("read after shutdown: got %v (context: %v), want the connection closed", err, ctx.Err())
	}
}

// TestAccessLog checks the one line per request and its switch.
func TestAccessLog(t *testing.T) {
	up := tagUpstream(t, "hello")
	for _, tt := range []struct {
		name    string
		disable bool
	}{
		{"on", false},
		{"off", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.keypair("a", "a.test", "*.a.test")
			e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
			e.start(Config{DisableAccessLog: tt.disable})
			if res, _ := get(t, e.client(true), "https://www.a.test/some/path?token=secret", nil); res.StatusCode != 200 {
				t.Fatalf("got %d", res.StatusCode)
			}
			lines := e.logs.lines("request")
			if tt.disable {
				if len(lines) != 0 {
					t.Fatalf("got %d access log lines with the log off: %v", len(lines), lines)
				}
				return
			}
			if len(lines) != 1 {
				t.Fatalf("got %d access log lines, want 1: %v", len(lines), lines)
			}
			l := lines[0]
			want := map[string]any{
				"tenant": "a.test", "method": "GET", "host": "www.a.test", "path": "/some/path",
				"status": float64(200), "bytes": float64(5), "upstream": up.URL,
			}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("access log %s: got %v, want %v", k, l[k], v)
				}
			}
			if d, ok := l["duration"].(float64); !ok || d <= 0 {
				t.Errorf("access log duration: got %v, want a positive number", l["duration"])
			}
		})
	}
}
