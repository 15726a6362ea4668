package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-proxy/portico/tenants"
)

// TestServerSentEvents checks that each event reaches the client while the
// upstream still holds the response open: the upstream sends its second
// event only after the client has read the first, so a proxy that buffered
// would never deliver it. Over HTTP/1.1 and HTTP/2, with and without the
// access log (which wraps the response writer).
func TestServerSentEvents(t *testing.T) {
	for _, tt := range []struct {
		name      string
		h2        bool
		accessLog bool
	}{
		{"http1", false, true},
		{"http2", true, true},
		{"http2 without access log", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			next := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for i := 1; i <= 3; i++ {
					fmt.Fprintf(w, "data: event %d\n\n", i)
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-r.Context().Done():
						return
					}
				}
			}))
			t.Cleanup(up.Close)

			e := newEnv(t)
			e.keypair("a", "a.test")
			e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
			e.start(Config{DisableAccessLog: !tt.accessLog})

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://a.test/events", nil)
			res, err := e.client(tt.h2).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if got := res.Header.Get("Content-Type"); got != "text/event-stream" {
				t.Errorf("got Content-Type %q", got)
			}
			br := bufio.NewReader(res.Body)
			for i := 1; i <= 3; i++ {
				ev, err := readEvent(br)
				if err != nil {
					t.Fatalf("event %d did not arrive while the stream was open: %v", i, err)
				}
				if want := fmt.Sprintf("data: event %d", i); ev != want {
					t.Fatalf("got event %q, want %q", ev, want)
				}
				next <- struct{}{} // only now may the upstream go on
			}
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Errorf("after the last event: %q, %v", rest, err)
			}
		})
	}
}

// readEvent reads one server-sent event (up to its blank line).
func readEvent(br *bufio.Reader) (string, error) {
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\n")
		if line == "" {
			return strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

// TestWebSocketEcho opens a WebSocket through Portico to an echoing
// upstream and exchanges messages both ways.
func TestWebSocketEcho(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte("echo: "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(up.Close)

	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	e.start(Config{})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "wss://a.test/ws", &websocket.DialOptions{HTTPClient: e.client(false)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got status %d, want 101", res.StatusCode)
	}
	for _, msg := range []string{"hello", "second", strings.Repeat("x", 30_000)} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo: "+msg {
			t.Fatalf("got %.40q, want %.40q", got, "echo: "+msg)
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Errorf("closing: %v", err)
	}

	waitFor(t, "the access log line of the upgrade", func() bool {
		for _, l := range e.logs.lines("request") {
			if l["path"] == "/ws" && l["status"] == float64(http.StatusSwitchingProtocols) {
				return true
			}
		}
		return false
	})
}
