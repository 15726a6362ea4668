// Package certtree builds, for tests, the folder trees that certificate
// tools leave on disk: a certbot 2.x configuration folder and a Kubernetes
// TLS secret mount, with the same links, names and modes, and renewals
// written step by step as the tools write them.
package certtree

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

// certbotFiles are a lineage's four files, in the order certbot 2.x writes
// and relinks them (storage.ALL_FOUR).
var certbotFiles = []string{"cert", "privkey", "chain", "fullchain"}

// Certbot is a certbot configuration folder, what /etc/letsencrypt holds.
type Certbot struct {
	Dir string

	t        testing.TB
	versions map[string]int // the newest archive version of each lineage
	serial   int            // the number of keys/ and csr/ files
}

// NewCertbot lays out the parts of a certbot 2.x configuration folder that
// exist before the first certificate: an account, the hook folders and the
// renewal, live and archive folders, with certbot's modes.
func NewCertbot(t testing.TB, dir string) *Certbot {
	t.Helper()
	c := &Certbot{Dir: dir, t: t, versions: map[string]int{}}
	mkdir(t, dir, 0o755)
	accounts := []string{"accounts", "accounts/127.0.0.1:14000", "accounts/127.0.0.1:14000/dir",
		"accounts/127.0.0.1:14000/dir/02729f7ab450cbd0552676885c006bd0"}
	for _, d := range accounts {
		mkdir(t, filepath.Join(dir, d), 0o700)
	}
	account := filepath.Join(dir, accounts[len(accounts)-1])
	write(t, filepath.Join(account, "meta.json"), `{"creation_dt": "2026-01-01T00:00:00Z", "creation_host": "test"}`, 0o644)
	write(t, filepath.Join(account, "regr.json"), `{"body": {}, "uri": "https://127.0.0.1:14000/my-account/1"}`, 0o644)
	write(t, filepath.Join(account, "private_key.json"), `{"n": "...", "e": "AQAB", "d": "...", "kty": "RSA"}`, 0o400)
	for _, d := range []string{"renewal-hooks", "renewal-hooks/pre", "renewal-hooks/post", "renewal-hooks/deploy", "csr", "renewal"} {
		mkdir(t, filepath.Join(dir, d), 0o755)
	}
	for _, d := range []string{"keys", "live", "archive"} {
		mkdir(t, filepath.Join(dir, d), 0o700)
	}
	write(t, filepath.Join(dir, "live", "README"), liveReadme, 0o644)
	return c
}

const liveReadme = `This directory contains your keys and certificates.

` + "`[cert name]/privkey.pem`" + `  : the private key for your certificate.
` + "`[cert name]/fullchain.pem`" + `: the certificate file used in most server software.
` + "`[cert name]/chain.pem`" + `    : used for OCSP stapling in Nginx >=1.3.7.
` + "`[cert name]/cert.pem`" + `     : will break many server configurations, and should not be used
                 without reading further documentation (see link below).

WARNING: DO NOT MOVE OR RENAME THESE FILES!
         Certbot expects these files to remain in this location in order
         to function properly!

We recommend not moving these files. For more information, see the Certbot
User Guide at https://certbot.eff.org/docs/using.html#where-are-my-certificates.
`

// Version returns the newest archive version of lineage name (0 when none).
func (c *Certbot) Version(name string) int { return c.versions[name] }

// Live returns the path of a file of lineage name in live/, such as
// Live("a.example.test", "fullchain").
func (c *Certbot) Live(name, kind string) string {
	return filepath.Join(c.Dir, "live", name, kind+".pem")
}

// Issue creates lineage name holding leaf (its chain is leaf.ChainPEM
// after the first certificate), as certbot certonly does: the renewal
// configuration, the archive and live folders, version 1 of the four files
// linked from live/, the per-lineage README, and the key and request in
// keys/ and csr/.
func (c *Certbot) Issue(name string, leaf *testpki.Leaf) {
	c.t.Helper()
	if c.versions[name] != 0 {
		c.t.Fatalf("certtree: lineage %s exists", name)
	}
	write(c.t, filepath.Join(c.Dir, "renewal", name+".conf"), renewalConf(name), 0o644)
	mkdir(c.t, filepath.Join(c.Dir, "archive", name), 0o755)
	mkdir(c.t, filepath.Join(c.Dir, "live", name), 0o755)
	c.writeArchive(name, 1, leaf)
	for _, kind := range certbotFiles {
		link(c.t, fmt.Sprintf("../../archive/%s/%s1.pem", name, kind), c.Live(name, kind))
	}
	write(c.t, filepath.Join(c.Dir, "live", name, "README"), liveReadme, 0o644)
	c.versions[name] = 1
}

// Renew writes the next version of lineage name, holding leaf, whole.
func (c *Certbot) Renew(name string, leaf *testpki.Leaf) {
	c.t.Helper()
	for _, step := range c.RenewSteps(name, leaf) {
		step.Do()
	}
}

// Step is one step of a renewal as certbot takes it.
type Step struct {
	Name string // what the step does, such as "relink privkey"
	Do   func()
}

// RenewSteps returns the steps certbot 2.x takes to renew lineage name
// (storage.RenewableCert.save_successor, then update_all_links_to): it
// writes the four new archive files (the key 0600), then, file by file in
// the order cert, privkey, chain, fullchain, removes the live link and
// makes it again pointing at the new version. Between two steps the tree is
// as a reader would find it halfway through a renewal.
func (c *Certbot) RenewSteps(name string, leaf *testpki.Leaf) []Step {
	c.t.Helper()
	prior := c.versions[name]
	if prior == 0 {
		c.t.Fatalf("certtree: no lineage %s to renew", name)
	}
	next := prior + 1
	steps := []Step{{"write archive version", func() {
		c.writeArchive(name, next, leaf)
		c.versions[name] = next
	}}}
	for _, kind := range certbotFiles {
		steps = append(steps,
			Step{"unlink " + kind, func() {
				if err := os.Remove(c.Live(name, kind)); err != nil {
					c.t.Fatal(err)
				}
			}},
			Step{"link " + kind, func() {
				link(c.t, fmt.Sprintf("../../archive/%s/%s%d.pem", name, kind, next), c.Live(name, kind))
			}})
	}
	return steps
}

// writeArchive writes version v of the lineage's four archive files, and
// the key and request certbot also keeps in keys/ and csr/.
func (c *Certbot) writeArchive(name string, v int, leaf *testpki.Leaf) {
	c.t.Helper()
	dir := filepath.Join(c.Dir, "archive", name)
	chain := leaf.ChainPEM[len(leaf.CertPEM):]
	write(c.t, filepath.Join(dir, fmt.Sprintf("cert%d.pem", v)), string(leaf.CertPEM), 0o644)
	write(c.t, filepath.Join(dir, fmt.Sprintf("privkey%d.pem", v)), string(leaf.KeyPEM), 0o600)
	write(c.t, filepath.Join(dir, fmt.Sprintf("chain%d.pem", v)), string(chain), 0o644)
	write(c.t, filepath.Join(dir, fmt.Sprintf("fullchain%d.pem", v)), string(leaf.ChainPEM), 0o644)

	write(c.t, filepath.Join(c.Dir, "keys", fmt.Sprintf("%04d_key-certbot.pem", c.serial)), string(leaf.KeyPEM), 0o600)
	write(c.t, filepath.Join(c.Dir, "csr", fmt.Sprintf("%04d_csr-certbot.pem", c.serial)), string(csrPEM(c.t, leaf)), 0o644)
	c.serial++
}

func renewalConf(name string) string {
	return fmt.Sprintf(`# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = /etc/letsencrypt/archive/%[1]s
cert = /etc/letsencrypt/live/%[1]s/cert.pem
privkey = /etc/letsencrypt/live/%[1]s/privkey.pem
chain = /etc/letsencrypt/live/%[1]s/chain.pem
fullchain = /etc/letsencrypt/live/%[1]s/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 02729f7ab450cbd0552676885c006bd0
config_dir = /etc/letsencrypt
work_dir = /var/lib/letsencrypt
logs_dir = /var/log/letsencrypt
server = https://127.0.0.1:14000/dir
authenticator = dns-rfc2136
dns_rfc2136_propagation_seconds = 1
dns_rfc2136_credentials = /etc/letsencrypt/rfc2136.ini
key_type = ecdsa
`, name)
}

// csrPEM makes a certificate request for the leaf's names with its key, as
// certbot keeps in csr/.
func csrPEM(t testing.TB, leaf *testpki.Leaf) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: leaf.Cert.Subject.CommonName},
		DNSNames: leaf.Cert.DNSNames,
	}, leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func mkdir(t testing.TB, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	// MkdirAll applies the umask; certbot's modes are exact.
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func write(t testing.TB, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func link(t testing.TB, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
