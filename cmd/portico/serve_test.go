package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// daemon is `portico serve` running in a second process, its JSON log
// lines collected as they come.
type daemon struct {
	cmd  *exec.Cmd
	done chan error // receives Wait's result

	mu    sync.Mutex // guards lines
	lines []map[string]any
	addr  string
}

// serve starts `portico serve` on loopback with extra flags and env, and
// waits until it listens.
func serve(t *testing.T, data string, env []string, args ...string) *daemon {
	t.Helper()
	// The admin listener is off: its default port would clash between
	// tests; admin_test.go runs it on a port of its own.
	args = append([]string{"--data", data, "serve", "--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "",
		"--log-json"}, args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, done: make(chan error, 1)}
	go d.read(stderr)
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-d.done
	})
	d.waitLog(t, "serving", func(l map[string]any) bool {
		d.addr, _ = l["https"].(string)
		return true
	})
	return d
}

func (d *daemon) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l = map[string]any{"msg": sc.Text()}
		}
		d.mu.Lock()
		d.lines = append(d.lines, l)
		d.mu.Unlock()
	}
	d.done <- d.cmd.Wait()
}

// waitLog waits for a log line with message msg for which match (nil for
// any) holds, and returns its position among the lines.
func (d *daemon) waitLog(t *testing.T, msg string, match func(map[string]any) bool) int {
	t.Helper()
	return d.waitLogAfter(t, -1, msg, match)
}

// waitLogAfter is waitLog for the lines after position after.
func (d *daemon) waitLogAfter(t *testing.T, after int, msg string, match func(map[string]any) bool) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		d.mu.Lock()
		for i := after + 1; i < len(d.lines); i++ {
			l := d.lines[i]
			if l["msg"] == msg && (match == nil || match(l)) {
				d.mu.Unlock()
				return i
			}
		}
		d.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t.Fatalf("no log line %q after line %d; got %v", msg, after, d.lines)
	return 0
}

// stop sends SIGTERM and returns the process's exit error.
func (d *daemon) stop(t *testing.T) error {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		d.done <- err
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("portico did not exit after SIGTERM")
		return nil
	}
}

// client connects to the daemon whatever the URL's host; it does not
// verify the self-signed certificates the test generates.
func (d *daemon) client() *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "tcp", d.addr)
		},
	}}
}

// TestServeGracefulSIGTERM runs the binary with a tenant whose upstream
// holds a request, sends SIGTERM, and checks that the listener closes, the
// request in flight still completes, and the process exits with status 0.
// The default upstream comes from the environment, not a flag.
func TestServeGracefulSIGTERM(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "finished "+r.Host)
	}))
	defer up.Close()
	defer close(release)

	data := t.TempDir()
	mustPortico(t, data, "certificate", "generate", "--name", "a", "--domain", "a.test")
	mustPortico(t, data, "tenant", "add", "--domain", "a.test", "--certificate", "a")
	d := serve(t, data, []string{"PORTICO_DEFAULT_UPSTREAM=" + up.URL})

	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		res, err := d.client().Get("https://a.test/slow")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		got <- result{res.StatusCode, string(body), err}
	}()
	<-arrived

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, "shutting down", nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", d.addr)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts connections after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}

	release <- struct{}{}
	r := <-got
	if r.err != nil || r.status != http.StatusOK || r.body != "finished a.test" {
		t.Fatalf("request in flight: got %d %q %v, want 200 \"finished a.test\"", r.status, r.body, r.err)
	}
	select {
	case err := <-d.done:
		d.done <- err
		if err != nil {
			t.Fatalf("portico exited with %v, want status 0", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("portico did not exit after the request finished")
	}
	d.waitLog(t, "stopped", nil)
}

// TestServeSIGHUP checks that SIGHUP makes the running server rebuild its
// snapshot from the whole store, although nothing changed (instead of
// killing the process, SIGHUP's default), and that it goes on serving and
// stops cleanly afterwards.
func TestServeSIGHUP(t *testing.T) {
	data := t.TempDir()
	d := serve(t, data, nil, "--no-access-log")
	before := d.waitLog(t, "snapshot published", nil)

	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	requested := d.waitLogAfter(t, before, "reload requested", nil)
	d.waitLogAfter(t, requested, "snapshot published", func(l map[string]any) bool { return l["full"] == true })
	d.waitLogAfter(t, requested, "reload step done", func(l map[string]any) bool { return l["step"] == "store" })

	res, err := d.client().Get("https://anything.test/")
	if err != nil {
		t.Fatalf("request after SIGHUP: %v", err)
	}
	res.Body.Close()
	if err := d.stop(t); err != nil {
		t.Fatalf("portico exited with %v after SIGHUP and SIGTERM, want status 0", err)
	}
}

// TestServeRejectsBadSettings checks that unusable proxy settings stop
// serve before it listens, with a message naming the setting.
func TestServeRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"trusted proxies", []string{"--trusted-proxies", "10.0.0.0/8,not-an-ip"}, `trusted proxies: "not-an-ip"`},
		{"default upstream", []string{"--default-upstream", "ftp://files.test"}, "default upstream"},
		{"upstream CA", []string{"--upstream-ca", "/nonexistent/ca.pem"}, "upstream CA"},
		{"body size", []string{"--max-request-body", "lots"}, "lots"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--data", t.TempDir(), "serve", "--listen", "127.0.0.1:0", "--http-listen", ""}, tt.args...)
			cmd := exec.Command(binary, args...)
			cmd.Env = cleanEnv()
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("got %v, want a non-zero exit; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output does not name %q:\n%s", tt.want, out)
			}
		})
	}
}
