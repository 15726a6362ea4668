package discovery

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/certtree"
	"github.com/portico-proxy/portico/internal/testpki"
)

// wantLine is a report line a bad tree must produce: a keypair line with
// its action, or a skipped line (action "skipped"), about the file at rel
// with a reason containing reason.
type wantLine struct {
	action Action // or "skipped"
	rel    string
	reason string
}

// TestBadTrees puts one kind of bad input beside a good keypair and checks
// that it is reported with its path and reason, that nothing else is
// reported, and that the store holds exactly what it should.
func TestBadTrees(t *testing.T) {
	ca := testpki.NewCA(t)
	good := ca.Issue(t, []string{"good.example.test"})
	leaf := ca.Issue(t, []string{"bad.example.test"})
	other := ca.Issue(t, []string{"other.example.test"})
	pub, err := x509.MarshalPKIXPublicKey(leaf.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	junk := make([]byte, 512)
	rand.Read(junk)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: junk})
	legacy := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: junk,
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}})

	tests := []struct {
		name string
		// before lays out what is there at the first pass, besides the
		// good keypair; build then changes the tree for the second pass.
		before, build func(t *testing.T, root string)
		want          []wantLine
		// kept is a keypair stored by the first pass that must still be
		// the one before: the leaf it holds.
		kept     string
		keptLeaf *testpki.Leaf
		// unprivileged: the case needs a file root can read but others
		// cannot, so as root it runs as another user.
		unprivileged bool
	}{
		{name: "dangling link", build: func(t *testing.T, root string) {
			symlink(t, "gone.pem", filepath.Join(root, "dangling.pem"))
		}, want: []wantLine{{"skipped", "dangling.pem", "dangling symbolic link to gone.pem"}}},

		{name: "unreadable key", unprivileged: true, build: func(t *testing.T, root string) {
			writeFile(t, root, "locked.crt", leaf.ChainPEM, 0o644)
			writeFile(t, root, "locked.key", leaf.KeyPEM, 0o000)
		}, want: []wantLine{
			{"skipped", "locked.key", "cannot read file: permission denied"},
			{Rejected, "locked.crt", "certificate without a private key"},
		}},

		{name: "encrypted key", build: func(t *testing.T, root string) {
			writeFile(t, root, "enc.crt", leaf.ChainPEM, 0o644)
			writeFile(t, root, "enc.key", encrypted, 0o600)
			writeFile(t, root, "legacy.crt", other.ChainPEM, 0o644)
			writeFile(t, root, "legacy.key", legacy, 0o600)
		}, want: []wantLine{
			{Rejected, "enc.key", "private key is encrypted"},
			{Rejected, "legacy.key", "private key is encrypted"},
		}},

		{name: "mismatched pair mid-renewal", before: func(t *testing.T, root string) {
			cb := certtree.NewCertbot(t, filepath.Join(root, "letsencrypt"))
			cb.Issue("shop", leaf)
		}, build: func(t *testing.T, root string) {
			// Halfway through certbot's renewal: the archive holds version
			// 2 and privkey.pem already links to it, fullchain.pem not yet.
			writeFile(t, root, "letsencrypt/archive/shop/privkey2.pem", other.KeyPEM, 0o600)
			live := filepath.Join(root, "letsencrypt/live/shop/privkey.pem")
			if err := os.Remove(live); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../../archive/shop/privkey2.pem", live)
		}, want: []wantLine{
			{Rejected, "letsencrypt/live/shop/privkey.pem", "private key does not match the certificate's public key; the stored keypair is kept"},
		}, kept: "shop", keptLeaf: leaf},

		{name: "key without certificate", build: func(t *testing.T, root string) {
			writeFile(t, root, "lonely.key", leaf.KeyPEM, 0o600)
		}, want: []wantLine{{Rejected, "lonely.key", "private key without a certificate"}}},

		{name: "certificate without key", build: func(t *testing.T, root string) {
			writeFile(t, root, "keyless.pem", leaf.ChainPEM, 0o644)
		}, want: []wantLine{{Rejected, "keyless.pem", "certificate without a private key"}}},

		{name: "public key file", build: func(t *testing.T, root string) {
			writeFile(t, root, "bad.pub", pubPEM, 0o644)
		}, want: []wantLine{{"skipped", "bad.pub", "holds no certificate or private key, only PUBLIC KEY"}}},

		{name: "DER files", build: func(t *testing.T, root string) {
			writeFile(t, root, "der.crt", leaf.Cert.Raw, 0o644)
			block, _ := pem.Decode(leaf.KeyPEM)
			writeFile(t, root, "der.key", block.Bytes, 0o600)
		}, want: []wantLine{
			{"skipped", "der.crt", "no PEM block"},
			{"skipped", "der.key", "no PEM block"},
		}},

		{name: "junk", build: func(t *testing.T, root string) {
			writeFile(t, root, "notes.txt", []byte("renew on the 1st\n"), 0o644)
			writeFile(t, root, "noise.bin", junk, 0o644)
			writeFile(t, root, "broken.pem", []byte("-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n"), 0o644)
			writeFile(t, root, "broken.key", leaf.KeyPEM, 0o600)
		}, want: []wantLine{
			{"skipped", "noise.bin", "no PEM block"},
			{"skipped", "notes.txt", "no PEM block"},
			{Rejected, "broken.pem", "malformed PEM block"},
		}},

		{name: "link loop", build: func(t *testing.T, root string) {
			symlink(t, "..", filepath.Join(root, "sub", "up"))
			symlink(t, "self.pem", filepath.Join(root, "self.pem"))
			symlink(t, "pong.pem", filepath.Join(root, "ping.pem"))
			symlink(t, "ping.pem", filepath.Join(root, "pong.pem"))
		}, want: []wantLine{
			{"skipped", "ping.pem", "symbolic link loop"},
			{"skipped", "pong.pem", "symbolic link loop"},
			{"skipped", "self.pem", "symbolic link loop"},
			{"skipped", "sub/up", "symbolic link loop: leads back to " /* the root */},
		}},

		{name: "a name no store accepts", build: func(t *testing.T, root string) {
			writeFile(t, root, "acme:stolen.pem", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), 0o600)
		}, want: []wantLine{{Rejected, "acme:stolen.pem", `name: keypair name "acme:stolen": the prefix "acme:" is for ACME keypairs only`}}},

		{name: "0-byte file", build: func(t *testing.T, root string) {
			writeFile(t, root, "empty.pem", nil, 0o644)
		}, want: []wantLine{{"skipped", "empty.pem", "empty file"}}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root := filepath.Join(dir, "certs")
			writeFile(t, root, "good.pem", good.ChainPEM, 0o644)
			writeFile(t, root, "good.key", good.KeyPEM, 0o644)
			if tt.before != nil {
				tt.before(t, root)
			}
			store := openStore(t)
			pass(t, newDiscoverer(t, root, store))
			wantNames := storedNames(t, store)
			tt.build(t, root)

			var rep *Report
			if tt.unprivileged && os.Geteuid() == 0 {
				rep = passAsNobody(t, root, store)
			} else {
				rep = pass(t, newDiscoverer(t, root, store))
			}

			t.Logf("report:\n%s", reportText(rep))
			checkLines(t, rep, root, tt.want)
			// The metric's reasons come from the messages: a reworded
			// message must not fall into the catch-all unnoticed.
			if n := rep.SkipCounts()["other"]; n > 0 {
				t.Errorf("%d skipped files counted under reason \"other\": %v", n, rep.SkipCounts())
			}
			if got := storedNames(t, store); !slices.Equal(got, wantNames) {
				t.Fatalf("stored %q, want %q", got, wantNames)
			}
			checkHolds(t, store, "good", good)
			if kp := keyPair(t, store, "good"); kp.Status != "" || kp.Source != certstore.SourceDiscovered {
				t.Fatalf("good keypair: status %q source %s", kp.Status, kp.Source)
			}
			if tt.kept != "" {
				checkHolds(t, store, tt.kept, tt.keptLeaf)
			}
		})
	}
}

// checkLines fails unless rep's lines, besides the good keypair's, are
// exactly want.
func checkLines(t *testing.T, rep *Report, root string, want []wantLine) {
	t.Helper()
	type line struct {
		action Action
		path   string
		reason string
	}
	var got []line
	for _, l := range rep.KeyPairs {
		if l.Name == "good" && l.Action == Unchanged {
			continue
		}
		got = append(got, line{l.Action, l.Path, l.Reason})
	}
	for _, s := range rep.Skipped {
		got = append(got, line{"skipped", s.Path, s.Reason})
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), reportText(rep))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if g.action == w.action && g.path == filepath.Join(root, w.rel) && strings.Contains(g.reason, w.reason) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s line for %s with reason %q:\n%s", w.action, w.rel, w.reason, reportText(rep))
		}
	}
}
