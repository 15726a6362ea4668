package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/portico-proxy/portico/internal/acmelab"
)

// certbotRun runs certbot with its folders under dir, against the lab, and
// fails the test when it fails.
func certbotRun(t *testing.T, bin, dir string, lab *acmelab.Lab, env []string, args ...string) {
	t.Helper()
	argv := append([]string{"--non-interactive",
		"--config-dir", filepath.Join(dir, "config"),
		"--work-dir", filepath.Join(dir, "work"),
		"--logs-dir", filepath.Join(dir, "logs"),
	}, args...)
	cmd := exec.Command(bin, argv...)
	// certbot trusts the lab's HTTPS through REQUESTS_CA_BUNDLE.
	cmd.Env = append(append(cleanEnv(), "REQUESTS_CA_BUNDLE="+lab.CABundleFile), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("certbot %s: %v\n%s\nlog:\n%s", args[0], err, out, tailFile(filepath.Join(dir, "logs", "letsencrypt.log"), 40))
	}
	t.Logf("certbot %s:\n%s", args[0], out)
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// liveLeaf reads the leaf certbot links from live/<name>/cert.pem.
func liveLeaf(t *testing.T, config, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(config, "live", name, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("live/%s/cert.pem holds no PEM", name)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRealCertbot obtains a certificate with certbot and its RFC 2136
// plugin from the local ACME lab (Pebble and BIND), serves it through
// discovery, then renews it with certbot and shows the running server
// serving the renewed certificate without a restart. The deploy hook of
// docker-compose.override.yml runs on both, and certbot keeps its group
// on the renewed key.
func TestRealCertbot(t *testing.T) {
	certbot, err := exec.LookPath("certbot")
	if err != nil {
		t.Skip("certbot is not installed (bash .ci/run installs it: apt-get install certbot python3-certbot-dns-rfc2136)")
	}
	if out, err := exec.Command(certbot, "plugins", "--text").CombinedOutput(); err != nil || !strings.Contains(string(out), "dns-rfc2136") {
		t.Skipf("certbot's RFC 2136 plugin is not installed (apt-get install python3-certbot-dns-rfc2136): %v\n%s", err, out)
	}
	lab := acmelab.Start(t)

	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	name := "shop." + lab.Zone
	hook := "sh " + mustAbs(t, filepath.Join("..", "..", "deploy", "certbot", "deploy-hook.sh"))
	const gid = 65534
	hookEnv := []string{"PORTICO_GID=65534"}
	certbotRun(t, certbot, dir, lab, hookEnv, "certonly",
		"--server", lab.DirectoryURL,
		"--agree-tos", "--register-unsafely-without-email",
		"--authenticator", "dns-rfc2136",
		"--dns-rfc2136-credentials", lab.CertbotCredentials,
		"--dns-rfc2136-propagation-seconds", "1",
		"--key-type", "ecdsa",
		"--deploy-hook", hook,
		"-d", name, "-d", "www."+name)
	first := liveLeaf(t, config, name)

	data := t.TempDir()
	s := startDiscoveryServe(t, data, "--certs", config)
	mustPortico(t, data, "tenant", "add", "--domain", name, "--certificate", name)
	s.waitServed(t, name, lab.IssuerPool(), first)
	s.waitServed(t, "www."+name, lab.IssuerPool(), first)

	// Nothing but the lineage is a keypair: accounts/, keys/, csr/,
	// renewal/ and archive/ are certbot's own.
	r := mustPortico(t, t.TempDir(), "discover", "--once", "--certs", config)
	if created := reportLines(r, "created"); len(created) != 1 || len(reportLines(r, "skipped")) != 0 ||
		!strings.Contains(created[0], `keypair "`+name+`"`) {
		t.Fatalf("discover --once over certbot's folder:\n%s", r)
	}

	certbotRun(t, certbot, dir, lab, hookEnv, "renew", "--force-renewal", "--no-random-sleep-on-renew")
	renewed := liveLeaf(t, config, name)
	if renewed.Equal(first) {
		t.Fatal("certbot renew left the same certificate in live/")
	}
	took := s.waitServed(t, name, lab.IssuerPool(), renewed)
	t.Logf("renewed certificate served %s after certbot renew returned", took)
	if s.cmd.ProcessState != nil {
		t.Fatal("serve exited")
	}

	// The renewed key is readable by the group the hook gave the first
	// one (certbot keeps it) and by nobody else.
	key := filepath.Join(config, "archive", name, "privkey2.pem")
	info, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Sys().(*syscall.Stat_t); info.Mode().Perm() != 0o640 || st.Gid != gid {
		t.Fatalf("%s: mode %o group %d, want 640 and group %d", key, info.Mode().Perm(), st.Gid, gid)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
