package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/certtree"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/web"
)

// nobodyID is the user and group the unprivileged runs use.
const nobodyID = "65534"

// discoveryBinary returns the binary TestMain built, in a folder every
// user can reach, for the runs as an unprivileged user.
func discoveryBinary(t *testing.T) string {
	t.Helper()
	openToAll(t, filepath.Dir(binary))
	return binary
}

// runAs runs the binary with args under prefix (such as setpriv and its
// flags), without the machine's PORTICO_ settings, and waits for it.
func runAs(t *testing.T, prefix []string, args ...string) result {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), binary), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", argv, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// openToAll lets every user reach dir: it and every folder above it up to
// the temporary folder get search permission for others, and dir read too.
func openToAll(t *testing.T, dir string) {
	t.Helper()
	top := filepath.Clean(os.TempDir())
	for p := dir; strings.HasPrefix(p, top+string(filepath.Separator)); p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		mode := info.Mode().Perm() | 0o011
		if p == dir {
			mode |= 0o055
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// dataFor makes a data folder the unprivileged user owns.
func dataFor(t *testing.T, uid, gid int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	openToAll(t, filepath.Dir(dir))
	return dir
}

// reportLines returns the report lines of discover --once that start with
// action.
func reportLines(out, action string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, action+" ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestDiscoverOnce(t *testing.T) {
	discoveryBinary(t)
	root := filepath.Join(t.TempDir(), "letsencrypt")
	ca := testpki.NewCA(t)
	cb := certtree.NewCertbot(t, root)
	for _, name := range []string{"a.example.test", "b.example.test"} {
		cb.Issue(name, ca.Issue(t, []string{name}))
		cb.Renew(name, ca.Issue(t, []string{name}))
		cb.Renew(name, ca.Issue(t, []string{name}))
	}

	t.Run("certbot tree", func(t *testing.T) {
		data := t.TempDir()
		r := runAs(t, nil, "--data", data, "discover", "--once", "--certs", root)
		created := reportLines(r.stdout, "created")
		if r.code != 0 || len(created) != 2 || len(reportLines(r.stdout, "skipped")) != 0 {
			t.Fatalf("exit %d, want 0 and two created lines:\n%s%s", r.code, r.stdout, r.stderr)
		}
		for i, name := range []string{"a.example.test", "b.example.test"} {
			want := `created   keypair "` + name + `" from ` + cb.Live(name, "fullchain")
			if created[i] != want {
				t.Errorf("line %q, want %q", created[i], want)
			}
		}
		r = runAs(t, nil, "--data", data, "discover", "--once", "--certs", root)
		if r.code != 0 || len(reportLines(r.stdout, "unchanged")) != 2 || len(reportLines(r.stdout, "created")) != 0 {
			t.Fatalf("second run: exit %d, want two unchanged lines:\n%s%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("report:\n%s", r.stdout)
	})

	t.Run("folder that cannot be read", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nothing-here")
		r := runAs(t, nil, "--data", t.TempDir(), "discover", "--once", "--certs", missing)
		if r.code != 1 || !strings.Contains(r.stderr, missing+": does not exist") {
			t.Fatalf("exit %d, want 1 naming the folder:\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("as an unprivileged user", func(t *testing.T) {
		setpriv := unprivileged(t)
		openToAll(t, root)
		nobody := []string{setpriv, "--reuid", nobodyID, "--regid", nobodyID, "--clear-groups"}

		// As certbot leaves it: live/ is 0700 root, so the user is refused,
		// and the report says where and as whom.
		r := runAs(t, nobody, "--data", dataFor(t, 65534, 65534), "discover", "--once", "--certs", root)
		want := "skipped   " + filepath.Join(root, "live") + ": cannot read folder: permission denied (Portico runs as uid 65534, gid 65534)"
		if r.code != 0 || !strings.Contains(r.stdout, want) || len(reportLines(r.stdout, "created")) != 0 {
			t.Fatalf("exit %d; want 0 and the line %q:\n%s%s", r.code, want, r.stdout, r.stderr)
		}
		t.Logf("as uid 65534, before the deploy hook:\n%s", r.stdout)

		// After the deploy hook of docker-compose.override.yml, with the
		// user's group: both keypairs, and no key readable by others.
		hook := exec.Command("sh", filepath.Join("..", "..", "deploy", "certbot", "deploy-hook.sh"))
		hook.Env = append(cleanEnv(), "PORTICO_GID="+nobodyID, "RENEWED_LINEAGE="+filepath.Join(root, "live", "a.example.test"))
		if out, err := hook.CombinedOutput(); err != nil {
			t.Fatalf("deploy hook: %v\n%s", err, out)
		}
		checkKeysPrivate(t, root, 65534)
		r = runAs(t, nobody, "--data", dataFor(t, 65534, 65534), "discover", "--once", "--certs", root)
		if r.code != 0 || len(reportLines(r.stdout, "created")) != 2 || len(reportLines(r.stdout, "skipped")) != 0 {
			t.Fatalf("after the deploy hook: exit %d, want two created lines:\n%s%s", r.code, r.stdout, r.stderr)
		}
		t.Logf("as uid 65534, after the deploy hook:\n%s", r.stdout)
	})
}

// unprivileged returns setpriv's path, or skips the test when it cannot
// run a process as another user.
func unprivileged(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: cannot build a tree owned by another user and run Portico as a third; CI runs as root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed: cannot run Portico as another user")
	}
	return setpriv
}

// checkKeysPrivate fails unless every private key in the certbot tree at
// root is readable by its owner and group gid only.
func checkKeysPrivate(t *testing.T, root string, gid int) {
	t.Helper()
	keys, _ := filepath.Glob(filepath.Join(root, "archive", "*", "privkey*.pem"))
	if len(keys) == 0 {
		t.Fatal("no keys in archive/")
	}
	for _, k := range keys {
		info, err := os.Stat(k)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if info.Mode().Perm() != 0o640 || int(st.Gid) != gid {
			t.Fatalf("%s: mode %o group %d, want 640 and group %d", k, info.Mode().Perm(), st.Gid, gid)
		}
	}
}

// discoveryServe is a running portico serve.
type discoveryServe struct {
	addr string
	cmd  *exec.Cmd

	mu   sync.Mutex // guards logs
	logs bytes.Buffer
}

// startDiscoveryServe starts portico serve with the data folder data and
// the extra serve flags args on a free loopback port, and waits until it
// listens.
func startDiscoveryServe(t *testing.T, data string, args ...string) *discoveryServe {
	t.Helper()
	argv := append([]string{"--data", data, "serve", "--listen", "127.0.0.1:0", "--http-listen", "",
		"--admin-listen", "", "--hostname", "portico.test"}, args...)
	s := &discoveryServe{cmd: exec.Command(binary, argv...)}
	s.cmd.Env = cleanEnv()
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		s.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's log:\n%s", s.log())
		}
	})
	found := make(chan string, 1)
	go func() {
		defer close(found)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatalf("serve ended before it listened:\n%s", s.log())
		}
		s.addr = addr
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start listening:\n%s", s.log())
	}
	return s
}

func (s *discoveryServe) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// leafFor makes a TLS handshake with server name sni and returns the
// chain served, unverified: while a change is on its way, the previous
// certificate (or the default one) is a normal answer.
func (s *discoveryServe) leafFor(t *testing.T, sni string) []*x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", s.addr,
		&tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake for %s: %v", sni, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates
}

// waitServed polls new handshakes for sni until the server presents want,
// checks that the chain served verifies against pool for sni, and returns
// how long that took. The deadline only keeps a broken server from hanging
// the test; the time is logged, not asserted (docs/benchmarks.md has the
// figure).
func (s *discoveryServe) waitServed(t *testing.T, sni string, pool *x509.CertPool, want *x509.Certificate) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		chain := s.leafFor(t, sni)
		if chain[0].Equal(want) {
			inter := x509.NewCertPool()
			for _, c := range chain[1:] {
				inter.AddCert(c)
			}
			if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: sni, Roots: pool, Intermediates: inter}); err != nil {
				t.Fatalf("%s: served chain does not verify: %v", sni, err)
			}
			return time.Since(start)
		}
		if time.Since(start) > 90*time.Second {
			t.Fatalf("%s: still not serving serial %s", sni, want.SerialNumber)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeFollowsRenewal runs serve on a certbot tree and renews a
// lineage the way certbot does: new handshakes get the new certificate
// without a restart.
func TestServeFollowsRenewal(t *testing.T) {
	root := filepath.Join(t.TempDir(), "letsencrypt")
	ca := testpki.NewCA(t)
	cb := certtree.NewCertbot(t, root)
	const name = "shop.example.test"
	first := ca.Issue(t, []string{name})
	cb.Issue(name, first)
	data := t.TempDir()

	s := startDiscoveryServe(t, data, "--certs", root)
	pid := s.cmd.Process.Pid
	// The keypair is discovered at start; the tenant is added by another
	// process, as a user would.
	if r := runAs(t, nil, "--data", data, "tenant", "add", "--domain", name, "--certificate", name); r.code != 0 {
		t.Fatalf("tenant add: %s%s", r.stdout, r.stderr)
	}
	s.waitServed(t, name, ca.Pool(), first.Cert)

	for i := range 2 {
		renewed := ca.Issue(t, []string{name})
		cb.Renew(name, renewed)
		took := s.waitServed(t, name, ca.Pool(), renewed.Cert)
		t.Logf("renewal %d served on new handshakes %s after certbot's last link", i+1, took.Round(10*time.Millisecond))
	}
	if s.cmd.Process.Pid != pid || s.cmd.ProcessState != nil {
		t.Fatal("serve restarted")
	}
	if !strings.Contains(s.log(), "keypair updated from discovery") {
		t.Fatalf("no discovery update in serve's log:\n%s", s.log())
	}
}

// TestDiscoveryOnTheAdminListener runs serve with --certs and the admin
// listener: the status shows the last pass, /metrics counts it, and a
// SIGHUP rescans the folder before the server reloads.
func TestDiscoveryOnTheAdminListener(t *testing.T) {
	root := filepath.Join(t.TempDir(), "certs")
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.test"})
	writeTestFile(t, root, "shop.crt", leaf.ChainPEM)
	writeTestFile(t, root, "shop.key", leaf.KeyPEM)
	writeTestFile(t, root, "lonely.key", leaf.KeyPEM)
	data := t.TempDir()
	// A rescan interval far beyond the test: only the SIGHUP can explain a
	// second pass.
	p := startAdminServe(t, data, "PORTICO_CERTS="+root, "PORTICO_DISCOVERY_INTERVAL=1h")
	token, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(token))

	code, body := adminGet(t, p, "/api/v1/status", tok)
	var st struct {
		Discovery struct {
			Configured bool                `json:"configured"`
			LastPass   web.DiscoveryReport `json:"last_pass"`
		} `json:"discovery"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != http.StatusOK || err != nil {
		t.Fatalf("status: %d %v %s", code, err, body)
	}
	last := st.Discovery.LastPass
	wantSkip := filepath.Join(root, "lonely.key")
	if !st.Discovery.Configured || last.Root != root || len(last.KeyPairs) != 1 || last.KeyPairs[0].Name != "shop" ||
		last.KeyPairs[0].Outcome != "created" || len(last.Skipped) != 1 || last.Skipped[0].Path != wantSkip {
		t.Fatalf("status discovery: %+v", st.Discovery)
	}
	if code, body := adminGet(t, p, "/metrics", ""); code != http.StatusOK ||
		!strings.Contains(body, `portico_discovery_passes_total{result="ok"} 1`) ||
		!strings.Contains(body, `portico_discovery_skipped_files{reason="no_certificate"} 1`) {
		t.Fatalf("/metrics lacks the discovery pass: %d\n%s", code, body)
	}

	// A new file and a SIGHUP: the rescan writes it before the reload.
	other := ca.Issue(t, []string{"blog.example.test"})
	writeTestFile(t, root, "blog.pem", append(append([]byte{}, other.ChainPEM...), other.KeyPEM...))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The file-system event may run a pass too; the log tells the SIGHUP's
	// steps apart, in their order.
	eventually(t, "the reload after SIGHUP", 30*time.Second, func() bool {
		return strings.Contains(p.logs.String(), `"msg":"reload step done","step":"store"`)
	})
	logs := p.logs.String()
	rescan := strings.Index(logs, `"msg":"reload step done","step":"discovery"`)
	if rescan < 0 || rescan > strings.Index(logs, `"msg":"reload step done","step":"store"`) {
		t.Fatalf("SIGHUP did not rescan before the store reload:\n%s", logs)
	}
	names := map[string]bool{}
	for _, kp := range listKeyPairs(t, data) {
		names[kp.Name] = true
	}
	if !names["shop"] || !names["blog"] {
		t.Fatalf("keypairs after the SIGHUP: %v", names)
	}
}

func writeTestFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
