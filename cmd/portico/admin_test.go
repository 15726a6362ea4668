package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAdminTokenCommand(t *testing.T) {
	data := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(mustPortico(t, data, args...))
	}
	if out := run("admin-token"); !strings.Contains(out, "no admin token yet") {
		t.Errorf("admin-token before any: %q", out)
	}
	first := run("admin-token", "--rotate")
	file, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(file)) != first || len(first) < 40 {
		t.Errorf("printed token %q, file holds %q", first, file)
	}
	if info, _ := os.Stat(filepath.Join(data, "admin-token")); info.Mode().Perm() != 0o600 {
		t.Errorf("admin-token mode %v, want 0600", info.Mode().Perm())
	}
	if second := run("admin-token", "--rotate"); second == first {
		t.Error("--rotate printed the same token twice")
	}
	if out := run("admin-token"); !strings.Contains(out, "an admin token is set") || strings.Contains(out, first) {
		t.Errorf("admin-token after rotation: %q", out)
	}
}

// serveProcess is `portico serve` running in a second process, with its
// admin listener on.
type serveProcess struct {
	cmd   *exec.Cmd
	admin string // host:port of the admin listener
	logs  *lockedLog
}

// lockedLog collects a process's log lines from its reading goroutine.
type lockedLog struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (l *lockedLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAdminServe runs serve on ephemeral loopback ports and waits for the
// admin listener's address in its JSON log.
func startAdminServe(t *testing.T, data string, env ...string) *serveProcess {
	t.Helper()
	cmd := exec.Command(binary, "--data", data, "--log-json", "serve",
		"--listen", "127.0.0.1:0", "--http-listen", "", "--admin-listen", "127.0.0.1:0", "--hostname", "localhost")
	cmd.Env = append(cleanEnv(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, logs: &lockedLog{}}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.add(sc.Text())
			var line struct {
				Msg   string `json:"msg"`
				Admin string `json:"admin"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "admin listener serving" {
				addr <- line.Admin
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case p.admin = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start its admin listener; log:\n%s", p.logs.String())
	}
	return p
}

func adminGet(t *testing.T, p *serveProcess, path, token string) (int, string) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "https://"+p.admin+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeStartsAdminListener(t *testing.T) {
	data := t.TempDir()
	p := startAdminServe(t, data)

	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatalf("serve did not write the admin token: %v", err)
	}
	tok := strings.TrimSpace(string(token))
	if strings.Contains(p.logs.String(), tok) {
		t.Error("the admin token appears in serve's log")
	}

	if code, body := adminGet(t, p, "/-/ready", ""); code != http.StatusOK {
		t.Errorf("/-/ready: %d %s", code, body)
	}
	if code, _ := adminGet(t, p, "/api/v1/status", ""); code != http.StatusUnauthorized {
		t.Errorf("status without a token: %d, want 401", code)
	}
	code, body := adminGet(t, p, "/api/v1/status", tok)
	if code != http.StatusOK || !strings.Contains(body, `"published":true`) {
		t.Errorf("status with the token: %d %s", code, body)
	}
	if code, body := adminGet(t, p, "/metrics", ""); code != http.StatusOK ||
		!strings.Contains(body, "portico_snapshot_reloads_total") ||
		!strings.Contains(body, `portico_certificate_not_after_timestamp_seconds{name="Portico Self-signed Certificate",source="self-signed"}`) ||
		!strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d, lacks the expected families", code)
	}

	// SIGTERM stops both listeners and exits 0.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
}

func TestServeTakesTokenFromEnvironment(t *testing.T) {
	data := t.TempDir()
	const token = "token-from-the-environment"
	p := startAdminServe(t, data, "PORTICO_ADMIN_TOKEN="+token)
	if _, err := os.Stat(filepath.Join(data, "admin-token")); !os.IsNotExist(err) {
		t.Error("serve wrote a token file although PORTICO_ADMIN_TOKEN was set")
	}
	if code, _ := adminGet(t, p, "/api/v1/tenants", token); code != http.StatusOK {
		t.Errorf("API with PORTICO_ADMIN_TOKEN: %d, want 200", code)
	}
}
