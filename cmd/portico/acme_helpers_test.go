package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/acmelab"
)

// serveProc is a running `portico serve`, logging JSON at debug level.
type serveProc struct {
	cmd  *exec.Cmd
	addr string // the HTTPS listener

	mu    sync.Mutex // guards lines
	lines []string
	done  chan struct{} // closed when the process has exited
}

// startACMEServe runs the built `portico serve` against lab on data, on a
// free loopback port, with the ACME flags for the lab plus extra, and
// returns once it listens. The process is stopped when the test ends.
func startACMEServe(t *testing.T, data string, lab *acmelab.Lab, extra ...string) *serveProc {
	t.Helper()
	args := []string{"--data", data, "--log-level", "debug", "--log-json", "serve",
		"--listen", "127.0.0.1:0", "--http-listen=", "--admin-listen=", "--hostname", "portico.test",
		"--acme-dns-provider", "rfc2136", "--acme-ca", lab.DirectoryURL,
		"--acme-ca-root", lab.CABundleFile, "--acme-resolvers", lab.DNSAddr,
		"--acme-email", "ops@" + lab.Zone}
	cmd := exec.Command(binary, append(args, extra...)...)
	cmd.Env = append(cleanEnv(), lab.RFC2136Env()...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	listening := make(chan string, 1)
	go p.read(stderr, listening)
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("serve log (last 40 lines):\n%s", p.tail(40))
		}
	})

	select {
	case p.addr = <-listening:
	case <-p.done:
		t.Fatalf("serve exited at start:\n%s", p.tail(40))
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not listen within a minute:\n%s", p.tail(40))
	}
	return p
}

// read keeps every log line and sends the HTTPS address once it is logged.
func (p *serveProc) read(r interface{ Read([]byte) (int, error) }, listening chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		var rec struct {
			Msg   string `json:"msg"`
			HTTPS string `json:"https"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "serving" && rec.HTTPS != "" {
			select {
			case listening <- rec.HTTPS:
			default:
			}
		}
	}
}

// log returns everything the process has logged so far.
func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

func (p *serveProc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// countLog returns how many log lines have the message msg.
func (p *serveProc) countLog(msg string) int {
	return strings.Count(p.log(), `"msg":"`+msg+`"`)
}

// stop sends SIGTERM and waits for the process to exit; it kills it after
// 30 seconds.
func (p *serveProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("serve ignored SIGTERM for 30s")
	}
}

// peerLeaf connects to addr with server name sni and returns the leaf and
// intermediates the server sent, without verifying them.
func peerLeaf(t *testing.T, addr, sni string) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	d := &tls.Dialer{Config: &tls.Config{ServerName: sni, InsecureSkipVerify: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("TLS handshake with %s for %s: %v", addr, sni, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	return certs[0], inter
}

// labVerified reports whether the certificate served to sni verifies for sni
// against the lab's issuing root, and returns its SHA-256 fingerprint.
func labVerified(t *testing.T, lab *acmelab.Lab, addr, sni string) (bool, string) {
	t.Helper()
	leaf, inter := peerLeaf(t, addr, sni)
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: sni, Roots: lab.IssuerPool(), Intermediates: inter})
	return err == nil, fingerprint(leaf)
}

func fingerprint(c *x509.Certificate) string {
	return fmt.Sprintf("%x", sha256.Sum256(c.Raw))
}

// verifiedHandshake makes a fully verified TLS handshake, trusting only the
// lab's issuing root, and fails the test when it does not succeed.
func verifiedHandshake(t *testing.T, lab *acmelab.Lab, addr, sni string) *tls.Conn {
	t.Helper()
	d := &tls.Dialer{Config: &tls.Config{ServerName: sni, RootCAs: lab.IssuerPool(), NextProtos: []string{"http/1.1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("verified TLS handshake for %s: %v", sni, err)
	}
	return conn.(*tls.Conn)
}

// eventually polls cond every 200ms until it holds, failing the test after d.
func eventually(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// acmeStatus runs `portico acme status --json` in its own process.
func acmeStatus(t *testing.T, data string) []acmeStatusJSON {
	t.Helper()
	var out []acmeStatusJSON
	if err := json.Unmarshal([]byte(mustPortico(t, data, "acme", "status", "--json")), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
