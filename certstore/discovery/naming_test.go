package discovery

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
)

// TestNaming checks the naming table of the README: which keypairs a
// layout makes, and from which file.
func TestNaming(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"example.test"})
	both := append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...)

	tests := []struct {
		name string
		// build lays out the tree at root ("site"); outside is a folder
		// beside it for link targets.
		build func(t *testing.T, root, outside string)
		want  map[string]string // keypair -> the file it is recorded from, relative to root
	}{
		{"certbot files in the root take the root's name", func(t *testing.T, root, _ string) {
			writeFile(t, root, "fullchain.pem", leaf.ChainPEM, 0o644)
			writeFile(t, root, "privkey.pem", leaf.KeyPEM, 0o600)
		}, map[string]string{"site": "fullchain.pem"}},
		{"certbot files take their folder's name", func(t *testing.T, root, _ string) {
			writeFile(t, root, "shop.example.com/fullchain.pem", leaf.ChainPEM, 0o644)
			writeFile(t, root, "shop.example.com/privkey.pem", leaf.KeyPEM, 0o600)
			writeFile(t, root, "shop.example.com/cert.pem", leaf.CertPEM, 0o644)
			writeFile(t, root, "shop.example.com/chain.pem", ca.PEM, 0o644)
		}, map[string]string{"shop.example.com": "shop.example.com/fullchain.pem"}},
		{"Kubernetes files take their folder's name", func(t *testing.T, root, _ string) {
			writeFile(t, root, "web/tls.crt", leaf.ChainPEM, 0o644)
			writeFile(t, root, "web/tls.key", leaf.KeyPEM, 0o600)
			writeFile(t, root, "web/ca.crt", ca.PEM, 0o644)
		}, map[string]string{"web": "web/tls.crt"}},
		{"foo.pem and foo.key", func(t *testing.T, root, _ string) {
			writeFile(t, root, "foo.pem", leaf.ChainPEM, 0o644)
			writeFile(t, root, "foo.key", leaf.KeyPEM, 0o600)
		}, map[string]string{"foo": "foo.pem"}},
		{"foo.crt and foo.key", func(t *testing.T, root, _ string) {
			writeFile(t, root, "foo.crt", leaf.ChainPEM, 0o644)
			writeFile(t, root, "foo.key", leaf.KeyPEM, 0o600)
		}, map[string]string{"foo": "foo.crt"}},
		{"one file holding both", func(t *testing.T, root, _ string) {
			writeFile(t, root, "foo.pem", both, 0o600)
		}, map[string]string{"foo": "foo.pem"}},
		{"no extension and an upper-case one", func(t *testing.T, root, _ string) {
			writeFile(t, root, "plain", both, 0o600)
			writeFile(t, root, "LOUD.PEM", both, 0o600)
		}, map[string]string{"plain": "plain", "LOUD": "LOUD.PEM"}},
		{"only the last extension goes", func(t *testing.T, root, _ string) {
			writeFile(t, root, "example.com.crt", leaf.ChainPEM, 0o644)
			writeFile(t, root, "example.com.key", leaf.KeyPEM, 0o600)
		}, map[string]string{"example.com": "example.com.crt"}},
		{"content decides, not the name", func(t *testing.T, root, _ string) {
			writeFile(t, root, "odd.key", leaf.ChainPEM, 0o644)
			writeFile(t, root, "odd.crt", leaf.KeyPEM, 0o600)
		}, map[string]string{"odd": "odd.key"}},
		{"archive folders are skipped, archive.example.com is not", func(t *testing.T, root, _ string) {
			writeFile(t, root, "archive/old.pem", both, 0o600)
			writeFile(t, root, "deep/archive/x/older.pem", both, 0o600)
			writeFile(t, root, "archive.example.com/fullchain.pem", leaf.ChainPEM, 0o644)
			writeFile(t, root, "archive.example.com/privkey.pem", leaf.KeyPEM, 0o600)
		}, map[string]string{"archive.example.com": "archive.example.com/fullchain.pem"}},
		{"hidden files and folders and READMEs are skipped", func(t *testing.T, root, _ string) {
			writeFile(t, root, ".hidden.pem", both, 0o600)
			writeFile(t, root, ".git/objects.pem", both, 0o600)
			writeFile(t, root, "README", both, 0o644)
		}, map[string]string{}},
		{"a linked folder outside the root is followed", func(t *testing.T, root, outside string) {
			writeFile(t, outside, "real/linked.pem", both, 0o600)
			symlink(t, filepath.Join(outside, "real"), filepath.Join(root, "through"))
		}, map[string]string{"linked": "through/linked.pem"}},
		{"a linked file is named after the link", func(t *testing.T, root, outside string) {
			writeFile(t, outside, "target-name.pem", both, 0o600)
			symlink(t, filepath.Join(outside, "target-name.pem"), filepath.Join(root, "link-name.pem"))
		}, map[string]string{"link-name": "link-name.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			root, outside := filepath.Join(dir, "site"), filepath.Join(dir, "outside")
			for _, d := range []string{root, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			tt.build(t, root, outside)
			store := openStore(t)
			rep := pass(t, newDiscoverer(t, root, store))

			want := make([]string, 0, len(tt.want))
			for name := range tt.want {
				want = append(want, name)
			}
			slices.Sort(want)
			if got := storedNames(t, store); !slices.Equal(got, want) {
				t.Fatalf("stored %q, want %q:\n%s", got, want, reportText(rep))
			}
			for name, rel := range tt.want {
				if got := keyPair(t, store, name).Origin; got != filepath.Join(root, rel) {
					t.Errorf("%s recorded from %s, want %s", name, got, filepath.Join(root, rel))
				}
			}
			if len(rep.Skipped) != 0 || len(rep.KeyPairs) != len(want) {
				t.Errorf("want only created lines:\n%s", reportText(rep))
			}
		})
	}
}
