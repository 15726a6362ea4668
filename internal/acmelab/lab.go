// Package acmelab runs a private ACME DNS-01 lab for tests: Pebble (a test
// ACME certificate authority) and BIND's named (authoritative for one zone,
// accepting RFC 2136 dynamic updates signed with a TSIG key, hmac-sha256),
// wired so that Pebble checks DNS-01 challenges against that named.
//
// Each lab lives in its own t.TempDir() and binds only to 127.0.0.1 on free
// ports, so tests and test packages can run labs in parallel. Start waits
// until both servers answer; t.Cleanup stops them. Where pebble or named is
// not installed, Start skips the test, naming the Debian packages.
//
// Two things to know when pointing an ACME client at a lab:
//
//   - The DNS-01 solver must send its zone lookups and propagation checks
//     to DNSAddr (certmagic: DNSManager.Resolvers), not to the system's
//     resolver, which knows nothing of the lab's zone.
//   - Pebble keeps everything (accounts, orders, its issuing root) in
//     memory and forgets it when it stops: give each lab fresh ACME storage.
package acmelab

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

// Packages names the Debian packages that provide the lab's servers.
const Packages = "bind9 bind9-utils bind9-dnsutils pebble"

// startAttempts bounds how often a server is started on new ports when
// another process took the ports it was given.
const startAttempts = 5

// Options change what Start makes. The zero value is a good lab.
type Options struct {
	// Zone is the DNS zone named serves, without a trailing dot;
	// "example.test" when empty.
	Zone string
	// AuthzReuse is the percentage of valid authorizations Pebble reuses
	// for new orders (PEBBLE_AUTHZREUSE). Zero, the default, makes every
	// order solve fresh DNS-01 challenges.
	AuthzReuse int
	// EAB, when not empty, makes Pebble require external account binding
	// with these keys: key ID to base64url-encoded HMAC key.
	EAB map[string]string
}

// Lab is a running Pebble and named. Its fields are what a client needs;
// they do not change while the lab runs (StopDNS and StartDNS keep them).
type Lab struct {
	// Dir is the lab's folder: configuration, logs and state of both servers.
	Dir string

	// DirectoryURL is Pebble's ACME directory, https://127.0.0.1:PORT/dir.
	DirectoryURL string
	// ManagementURL is Pebble's management API, https://127.0.0.1:PORT
	// (GET /roots/0 and /intermediates/0).
	ManagementURL string
	// CABundle is the PEM certificate of the CA that signed Pebble's HTTPS
	// certificate (for 127.0.0.1 and localhost): trust it for
	// DirectoryURL. CABundleFile holds the same PEM, for tools that want
	// a file (certbot: REQUESTS_CA_BUNDLE; lego: LEGO_CA_CERTIFICATES).
	CABundle     []byte
	CABundleFile string
	// IssuerRoot is the PEM of the root that Pebble issues certificates
	// under, fetched from the management API at start; verify issued
	// chains against it. Pebble makes a new one every time it starts.
	IssuerRoot     []byte
	IssuerRootFile string
	// IssuerIntermediate is the PEM of the intermediate between
	// IssuerRoot and issued leaves (Pebble sends it with each leaf).
	IssuerIntermediate []byte

	// DNSAddr is named's address, 127.0.0.1:PORT, over UDP and TCP.
	DNSAddr string
	// Zone is the zone named serves, such as "example.test" (no trailing
	// dot). The apex, every name under it and ns1.ZONE resolve to
	// 127.0.0.1.
	Zone string
	// TSIGKeyName, TSIGSecret (base64) and TSIGAlgorithm ("hmac-sha256")
	// sign RFC 2136 updates; named grants the key every name in Zone.
	TSIGKeyName   string
	TSIGSecret    string
	TSIGAlgorithm string
	// TSIGKeyFile is the key as a BIND key clause, for `nsupdate -k`.
	TSIGKeyFile string
	// CertbotCredentials is a certbot-dns-rfc2136 credentials file (mode
	// 0600) for this lab: certbot --dns-rfc2136-credentials FILE.
	CertbotCredentials string

	dns *dnsServer
	ca  *acmeCA
}

// Start starts a lab and waits until Pebble and named both answer. It skips
// the test when either program is not installed and fails it when the lab
// cannot start. The lab stops when the test (and its subtests) end.
func Start(t testing.TB, opts ...Options) *Lab {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Zone == "" {
		o.Zone = "example.test"
	}
	o.Zone = strings.TrimSuffix(strings.ToLower(o.Zone), ".")
	pebbleBin, namedBin := lookPath("pebble"), lookPath("named")
	if pebbleBin == "" || namedBin == "" {
		t.Skipf("acmelab: pebble and named are needed for the ACME lab; install the Debian packages: apt-get install %s", Packages)
	}

	l := &Lab{Dir: t.TempDir(), Zone: o.Zone, TSIGAlgorithm: "hmac-sha256",
		TSIGKeyName: "acmelab-key"}
	t.Cleanup(func() { l.stop(t) })
	l.TSIGSecret = base64.StdEncoding.EncodeToString(randomBytes(t, 32))

	dnsDir, caDir := filepath.Join(l.Dir, "named"), filepath.Join(l.Dir, "pebble")
	for _, d := range []string{dnsDir, caDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("acmelab: %v", err)
		}
	}
	l.dns = &dnsServer{bin: namedBin, dir: dnsDir, zone: l.Zone, keyName: l.TSIGKeyName,
		secret: l.TSIGSecret, labID: hex.EncodeToString(randomBytes(t, 8))}
	if err := l.startDNSOnFreePort(); err != nil {
		t.Fatalf("acmelab: starting named: %v", err)
	}
	l.DNSAddr = l.dns.addr()
	l.TSIGKeyFile = l.dns.keyFile()

	l.ca = &acmeCA{bin: pebbleBin, dir: caDir, dnsAddr: l.DNSAddr,
		authzReuse: o.AuthzReuse, eab: o.EAB}
	if err := l.startCA(t); err != nil {
		t.Fatalf("acmelab: starting pebble: %v", err)
	}
	l.DirectoryURL, l.ManagementURL = l.ca.directoryURL(), l.ca.managementURL()
	if err := l.fetchIssuer(); err != nil {
		t.Fatalf("acmelab: %v", err)
	}
	if err := l.writeCertbotCredentials(); err != nil {
		t.Fatalf("acmelab: writing certbot credentials: %v", err)
	}
	return l
}

// lookPath finds a program in PATH or in the sbin folders, where Debian
// puts named but where a user's PATH may not look.
func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("acmelab: %v", err)
	}
	return b
}

// startDNSOnFreePort starts named on a free port, moving to another port
// when a different process takes the one it picked.
func (l *Lab) startDNSOnFreePort() error {
	for range startAttempts {
		port, err := freePort(true)
		if err != nil {
			return err
		}
		l.dns.port = port
		if err := l.dns.writeConfig(); err != nil {
			return fmt.Errorf("writing named configuration: %w", err)
		}
		err = l.dns.start()
		if !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return fmt.Errorf("ports kept being taken by other processes (%d attempts)", startAttempts)
}

// startCA makes Pebble's HTTPS certificate and starts Pebble on free ports.
func (l *Lab) startCA(t testing.TB) error {
	tlsCA := testpki.NewCA(t)
	leaf := tlsCA.Issue(t, []string{"localhost", "127.0.0.1"})
	l.CABundle = tlsCA.PEM
	l.CABundleFile = testpki.WriteFile(t, l.ca.dir, "tls-ca.pem", tlsCA.PEM)
	certFile := testpki.WriteFile(t, l.ca.dir, "tls-cert.pem", leaf.ChainPEM)
	keyFile := testpki.WriteFile(t, l.ca.dir, "tls-key.pem", leaf.KeyPEM)
	l.ca.tlsPool = tlsCA.Pool()

	for range startAttempts {
		var err error
		if l.ca.acmePort, err = freePort(false); err != nil {
			return err
		}
		if l.ca.mgmtPort, err = freePort(false); err != nil {
			return err
		}
		if l.ca.acmePort == l.ca.mgmtPort {
			continue
		}
		if err := l.ca.writeConfig(certFile, keyFile); err != nil {
			return fmt.Errorf("writing pebble configuration: %w", err)
		}
		err = l.ca.start()
		if !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return fmt.Errorf("ports kept being taken by other processes (%d attempts)", startAttempts)
}

// fetchIssuer reads the issuing root and intermediate from the management
// API and writes the root to IssuerRootFile.
func (l *Lab) fetchIssuer() error {
	root, err := l.ca.get(l.ManagementURL + "/roots/0")
	if err != nil {
		return fmt.Errorf("fetching pebble's issuing root: %w", err)
	}
	if _, err := parseCertPEM(root); err != nil {
		return fmt.Errorf("pebble's issuing root: %w", err)
	}
	inter, err := l.ca.get(l.ManagementURL + "/intermediates/0")
	if err != nil {
		return fmt.Errorf("fetching pebble's intermediate: %w", err)
	}
	l.IssuerRoot, l.IssuerIntermediate = root, inter
	l.IssuerRootFile = filepath.Join(l.Dir, "issuer-root.pem")
	return os.WriteFile(l.IssuerRootFile, root, 0o600)
}

func (l *Lab) writeCertbotCredentials() error {
	l.CertbotCredentials = filepath.Join(l.Dir, "certbot-rfc2136.ini")
	body := fmt.Sprintf(`# certbot --dns-rfc2136 --dns-rfc2136-credentials %s
dns_rfc2136_server = 127.0.0.1
dns_rfc2136_port = %d
dns_rfc2136_name = %s
dns_rfc2136_secret = %s
dns_rfc2136_algorithm = HMAC-SHA256
`, l.CertbotCredentials, l.dns.port, l.TSIGKeyName, l.TSIGSecret)
	return os.WriteFile(l.CertbotCredentials, []byte(body), 0o600)
}

// CAPool returns a pool holding CABundle: the roots to trust for
// DirectoryURL.
func (l *Lab) CAPool() *x509.CertPool { return l.ca.tlsPool }

// IssuerPool returns a pool holding IssuerRoot: the roots to verify issued
// certificates against.
func (l *Lab) IssuerPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(l.IssuerRoot)
	return p
}

// RFC2136Env returns the environment that lego, Traefik and Portico read
// for their rfc2136 DNS provider, set for this lab: RFC2136_NAMESERVER,
// RFC2136_TSIG_KEY, RFC2136_TSIG_SECRET and RFC2136_TSIG_ALGORITHM.
func (l *Lab) RFC2136Env() []string {
	return []string{
		"RFC2136_NAMESERVER=" + l.DNSAddr,
		"RFC2136_TSIG_KEY=" + l.TSIGKeyName,
		"RFC2136_TSIG_SECRET=" + l.TSIGSecret,
		"RFC2136_TSIG_ALGORITHM=" + l.TSIGAlgorithm + ".",
	}
}

// StopDNS stops named, so that DNS-01 challenges fail until StartDNS. It
// keeps the zone and its dynamic updates.
func (l *Lab) StopDNS(t testing.TB) {
	t.Helper()
	if err := l.dns.stop(); err != nil {
		t.Fatalf("acmelab: stopping named: %v", err)
	}
}

// StartDNS starts named again after StopDNS, on the same address, and
// waits until it answers.
func (l *Lab) StartDNS(t testing.TB) {
	t.Helper()
	if l.dns.d != nil && !l.dns.d.exited() {
		t.Fatalf("acmelab: StartDNS: named is running")
	}
	if err := l.dns.start(); err != nil {
		t.Fatalf("acmelab: restarting named on %s: %v", l.DNSAddr, err)
	}
}

// PebbleLog returns what Pebble has logged so far.
func (l *Lab) PebbleLog(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(l.ca.d.logPath)
	if err != nil {
		t.Fatalf("acmelab: %v", err)
	}
	return string(b)
}

// IssuedCertificates returns how many certificates Pebble has issued since
// the lab started, counted from its log.
func (l *Lab) IssuedCertificates(t testing.TB) int {
	t.Helper()
	return strings.Count(l.PebbleLog(t), "Issued certificate serial")
}

// Orders returns how many orders Pebble has accepted since the lab started,
// counted from its log.
func (l *Lab) Orders(t testing.TB) int {
	t.Helper()
	return strings.Count(l.PebbleLog(t), "Added order ")
}

// AccountRequests returns how many times a client has asked Pebble to
// create (or look up) an account since the lab started, counted from its
// log. A client that reuses its stored account asks no more.
func (l *Lab) AccountRequests(t testing.TB) int {
	t.Helper()
	return strings.Count(l.PebbleLog(t), "POST /sign-me-up ")
}

// stop ends both servers; when the test failed it logs the end of their
// logs first.
func (l *Lab) stop(t testing.TB) {
	if t.Failed() {
		if l.ca != nil && l.ca.d != nil {
			t.Logf("acmelab: end of pebble log:\n%s", l.ca.d.logTail(30))
		}
		if l.dns != nil && l.dns.d != nil {
			t.Logf("acmelab: end of named log:\n%s", l.dns.d.logTail(30))
		}
	}
	for _, stop := range []func() error{l.caStop, l.dnsStop} {
		if err := stop(); err != nil {
			t.Errorf("acmelab: %v", err)
		}
	}
}

func (l *Lab) caStop() error {
	if l.ca == nil {
		return nil
	}
	return l.ca.stop()
}

func (l *Lab) dnsStop() error {
	if l.dns == nil {
		return nil
	}
	return l.dns.stop()
}

func parseCertPEM(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}
