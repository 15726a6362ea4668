package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testpki"
)

// binary is the portico command built the way the Dockerfile builds it.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portico-cli-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "portico")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building portico: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// portico runs the built command with --data data and args.
func portico(t *testing.T, data string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"--data", data}, args...)...)
	cmd.Env = cleanEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errOut.String()}
}

// mustPortico runs the command and fails the test unless it exits 0.
func mustPortico(t *testing.T, data string, args ...string) string {
	t.Helper()
	r := portico(t, data, args...)
	if r.code != 0 {
		t.Fatalf("portico %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// cleanEnv is the environment without PORTICO_ settings from the machine.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTICO_") {
			env = append(env, kv)
		}
	}
	return env
}

type listedKeyPair struct {
	Name        string   `json:"name"`
	Fingerprint string   `json:"fingerprint"`
	HasKey      bool     `json:"has_key"`
	UsedBy      []string `json:"used_by"`
}

func listKeyPairs(t *testing.T, data string) []listedKeyPair {
	t.Helper()
	var kps []listedKeyPair
	if err := json.Unmarshal([]byte(mustPortico(t, data, "certificate", "list", "--json")), &kps); err != nil {
		t.Fatal(err)
	}
	return kps
}

func TestImportCertificateIsIdempotent(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	ca := testpki.NewCA(t)
	l := ca.Issue(t, []string{"shop.example.com"})
	cert := testpki.WriteFile(t, dir, "fullchain.pem", l.ChainPEM)
	key := testpki.WriteFile(t, dir, "privkey.pem", l.KeyPEM)

	for _, want := range []string{"created", "unchanged", "unchanged"} {
		out := mustPortico(t, data, "import-certificate", "--name", "shop", "--certificate", cert, "--private-key", key)
		if !strings.Contains(out, want) {
			t.Errorf("import printed %q, want it to say %s", out, want)
		}
	}
	renewed := ca.Issue(t, []string{"shop.example.com"})
	testpki.WriteFile(t, dir, "fullchain.pem", renewed.ChainPEM)
	testpki.WriteFile(t, dir, "privkey.pem", renewed.KeyPEM)
	if out := mustPortico(t, data, "import-certificate", "--name", "shop", "--certificate", cert, "--private-key", key); !strings.Contains(out, "updated") {
		t.Errorf("import of a renewal printed %q, want updated", out)
	}

	// Without a key: a certificate-only keypair.
	mustPortico(t, data, "import-certificate", "--name", "trust", "--certificate", testpki.WriteFile(t, dir, "ca.pem", ca.PEM))
	for _, kp := range listKeyPairs(t, data) {
		if kp.Name == "trust" && kp.HasKey {
			t.Errorf("keypair imported without a key says it has one")
		}
	}
}

func TestImportCertificateRejectsBadInput(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	ca := testpki.NewCA(t)
	good := ca.Issue(t, []string{"shop.example.com"})
	other := ca.Issue(t, []string{"other.example.com"})
	weak := ca.Issue(t, []string{"weak.example.com"}, testpki.Options{KeyType: "rsa-1024"})
	goodCert := testpki.WriteFile(t, dir, "good.pem", good.ChainPEM)
	goodKey := testpki.WriteFile(t, dir, "good.key", good.KeyPEM)
	mustPortico(t, data, "import-certificate", "--name", "shop", "--certificate", goodCert, "--private-key", goodKey)
	before := listKeyPairs(t, data)

	junk := make([]byte, 1<<20)
	rand.Read(junk)
	encrypted := "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"
	tests := []struct {
		name       string
		cert, key  []byte
		badFile    string // which file the message must name: "cert" or "key"
		wantReason string
	}{
		{"encrypted key", good.ChainPEM, []byte(encrypted), "key", "encrypted"},
		{"mismatched key", good.ChainPEM, other.KeyPEM, "key", "does not match"},
		{"truncated PEM", good.ChainPEM[:len(good.ChainPEM)/2], good.KeyPEM, "cert", "truncated"},
		{"DER bytes", good.Cert.Raw, good.KeyPEM, "cert", "no PEM"},
		{"empty file", []byte{}, good.KeyPEM, "cert", "empty"},
		{"key only", good.KeyPEM, nil, "cert", "no certificate"},
		{"1 MB junk file", junk, good.KeyPEM, "cert", "no PEM"},
		{"RSA-1024 key", weak.ChainPEM, weak.KeyPEM, "key", "2048"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := testpki.WriteFile(t, dir, fmt.Sprintf("case%d.crt", i), tt.cert)
			args := []string{"import-certificate", "--name", "shop", "--certificate", cert}
			key := ""
			if tt.key != nil {
				key = testpki.WriteFile(t, dir, fmt.Sprintf("case%d.key", i), tt.key)
				args = append(args, "--private-key", key)
			}
			r := portico(t, data, args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
			}
			named := map[string]string{"cert": cert, "key": key}[tt.badFile]
			if !strings.Contains(r.stderr, named) || !strings.Contains(r.stderr, tt.wantReason) {
				t.Errorf("message %q does not name %s and say %q", r.stderr, named, tt.wantReason)
			}
			if strings.Contains(r.stderr+r.stdout, "PRIVATE KEY") {
				t.Errorf("output shows key material: %q", r.stderr)
			}
			after := listKeyPairs(t, data)
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("store changed after a rejected import: %+v, was %+v", after, before)
			}
		})
	}

	r := portico(t, data, "import-certificate", "--name", "x", "--certificate", filepath.Join(dir, "missing.pem"))
	if r.code != 1 || !strings.Contains(r.stderr, "missing.pem") {
		t.Errorf("missing file: exit %d, %q", r.code, r.stderr)
	}
}

func TestTenantAndCertificateCommands(t *testing.T) {
	data := t.TempDir()
	mustPortico(t, data, "certificate", "generate", "--name", "shop", "--domain", "shop.example.com", "--domain", "*.shop.example.com", "--key-type", "ed25519")
	mustPortico(t, data, "tenant", "add", "--domain", "Shop.Example.COM.", "--certificate", "shop", "--default")

	var ts []tenantJSON
	json.Unmarshal([]byte(mustPortico(t, data, "tenant", "list", "--json")), &ts)
	if len(ts) != 1 || ts[0].Domain != "shop.example.com" || !ts[0].Default || ts[0].Certificate != "shop" {
		t.Fatalf("tenant list: %+v", ts)
	}

	r := portico(t, data, "tenant", "add", "--domain", "other.example.com", "--default")
	if r.code != 1 || !strings.Contains(r.stderr, "default") {
		t.Errorf("second default: exit %d, %q", r.code, r.stderr)
	}
	r = portico(t, data, "tenant", "add", "--domain", "not a host")
	if r.code != 1 || !strings.Contains(r.stderr, "not a host") {
		t.Errorf("bad domain: exit %d, %q", r.code, r.stderr)
	}
	r = portico(t, data, "certificate", "delete", "shop")
	if r.code != 1 || !strings.Contains(r.stderr, "shop.example.com") {
		t.Errorf("deleting a keypair in use: exit %d, %q", r.code, r.stderr)
	}
	mustPortico(t, data, "tenant", "update", "shop.example.com", "--no-default", "--certificate", "")
	mustPortico(t, data, "certificate", "delete", "shop")
	mustPortico(t, data, "tenant", "delete", "shop.example.com")
	if out := mustPortico(t, data, "tenant", "list"); strings.Contains(out, "shop.example.com") {
		t.Errorf("tenant still listed after delete: %q", out)
	}
	r = portico(t, data, "certificate", "generate", "--name", "long", "--domain", "long.test", "--days", "800")
	if r.code != 0 || !strings.Contains(r.stderr, "longer than a year") {
		t.Errorf("generate with 800 days: exit %d, want 0 with a warning; %q", r.code, r.stderr)
	}
}

// served is a running `portico serve` process.
type served struct {
	cmd   *exec.Cmd
	https string
	done  chan error
}

var servingLine = regexp.MustCompile(`msg=serving https=(\S+)`)

// startServe runs `portico serve` on loopback ports and waits until it
// listens.
func startServe(t *testing.T, data string) *served {
	t.Helper()
	// The admin listener is off: its default port would clash between
	// tests; admin_test.go runs it on a port of its own.
	cmd := exec.Command(binary, "--data", data, "serve", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--admin-listen", "")
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &served{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	select {
	case s.https = <-addr:
		return s
	case err := <-s.done:
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start listening in 30 s")
	}
	return nil
}

func (s *served) leaf(t *testing.T, sni string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", s.https, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %q: %v", sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// TestServeFollowsChangesFromOtherProcesses runs serve, then changes the
// store from other processes: new handshakes get the new certificate within
// 2 seconds of the change being committed, and a connection opened before
// goes on working. SIGTERM then stops serve with exit code 0.
func TestServeFollowsChangesFromOtherProcesses(t *testing.T) {
	data, dir := t.TempDir(), t.TempDir()
	ca := testpki.NewCA(t)
	first := ca.Issue(t, []string{"shop.example.com"})
	mustPortico(t, data, "import-certificate", "--name", "shop",
		"--certificate", testpki.WriteFile(t, dir, "a.crt", first.ChainPEM),
		"--private-key", testpki.WriteFile(t, dir, "a.key", first.KeyPEM))
	mustPortico(t, data, "tenant", "add", "--domain", "shop.example.com", "--certificate", "shop")
	s := startServe(t, data)

	if got := s.leaf(t, "www.shop.example.com"); !got.Equal(first.Cert) {
		t.Fatalf("before the change got %q, want the imported certificate", got.Subject)
	}
	// A keep-alive connection opened before the changes.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: "shop.example.com", InsecureSkipVerify: true},
		MaxConnsPerHost: 1,
	}}
	get := func() *http.Response {
		t.Helper()
		resp, err := client.Get("https://" + s.https + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	get()

	second := ca.Issue(t, []string{"shop.example.com"})
	mustPortico(t, data, "import-certificate", "--name", "renewed",
		"--certificate", testpki.WriteFile(t, dir, "b.crt", second.ChainPEM),
		"--private-key", testpki.WriteFile(t, dir, "b.key", second.KeyPEM))
	mustPortico(t, data, "tenant", "update", "shop.example.com", "--certificate", "renewed")
	committed := time.Now()
	for !s.leaf(t, "shop.example.com").Equal(second.Cert) {
		if time.Since(committed) > 2*time.Second {
			t.Fatal("new handshakes did not get the new certificate within 2 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("new certificate served %v after the commit", time.Since(committed).Round(time.Millisecond))

	if resp := get(); !resp.TLS.PeerCertificates[0].Equal(first.Cert) || resp.StatusCode != 200 {
		t.Errorf("the connection opened before the change was not kept")
	}

	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want exit 0", err)
		}
		s.done <- nil // for the cleanup
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// TestServeCreatesDefaultCertificate checks the first start: an empty data
// folder gets the self-signed default, served to every name, and the
// database is private to its owner.
func TestServeCreatesDefaultCertificate(t *testing.T) {
	data := filepath.Join(t.TempDir(), "fresh")
	s := startServe(t, data)
	leaf := s.leaf(t, "anything.example")
	if leaf.Subject.Organization[0] != "Portico" || leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("first start served %q (%v), want the self-signed ECDSA default", leaf.Subject, leaf.PublicKeyAlgorithm)
	}
	if days := time.Until(leaf.NotAfter).Hours() / 24; days < 364 || days > 366 {
		t.Errorf("default certificate valid %.0f more days, want 365", days)
	}
	for path, want := range map[string]os.FileMode{data: 0o700, filepath.Join(data, "portico.db"): 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: mode %v, %v; want %o", filepath.Base(path), info.Mode().Perm(), err, want)
		}
	}
}
