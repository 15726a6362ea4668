package discovery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
)

// openStore opens a fresh SQLite store in a temporary folder.
func openStore(t testing.TB) *certstore.SQLite {
	t.Helper()
	s, err := certstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newDiscoverer(t testing.TB, root string, store Store) *Discoverer {
	t.Helper()
	d, err := New(Config{Root: root}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pass runs one pass and fails the test when the pass fails.
func pass(t testing.TB, d *Discoverer) *Report {
	t.Helper()
	rep, err := d.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// reportText is the report as discover --once prints it, for failure
// messages.
func reportText(rep *Report) string {
	var b bytes.Buffer
	rep.WriteTo(&b)
	return b.String()
}

// storedNames returns the names of every keypair in the store.
func storedNames(t testing.TB, s certstore.Store) []string {
	t.Helper()
	kps, err := s.KeyPairs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, kp := range kps {
		names = append(names, kp.Name)
	}
	sort.Strings(names)
	return names
}

func keyPair(t testing.TB, s certstore.Store, name string) certstore.KeyPair {
	t.Helper()
	kp, err := s.KeyPair(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func generation(t testing.TB, s certstore.Store) uint64 {
	t.Helper()
	g, err := s.Generation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// checkHolds fails unless the stored keypair name is leaf: its full chain
// in order, and a private key that serves it.
func checkHolds(t testing.TB, s certstore.Store, name string, leaf *testpki.Leaf) {
	t.Helper()
	mats, err := s.Material(context.Background(), []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if len(mats) != 1 {
		t.Fatalf("keypair %q: not stored", name)
	}
	if !bytes.Equal(mats[0].ChainPEM, leaf.ChainPEM) {
		t.Fatalf("keypair %q: stored chain is not the leaf followed by its CA", name)
	}
	cert, err := tls.X509KeyPair(mats[0].ChainPEM, mats[0].KeyPEM)
	if err != nil {
		t.Fatalf("keypair %q cannot be served: %v", name, err)
	}
	if !cert.Leaf.Equal(leaf.Cert) {
		t.Fatalf("keypair %q serves %s, want %s", name, cert.Leaf.SerialNumber, leaf.Cert.SerialNumber)
	}
}

// writeFile writes data to root/rel with mode, making folders as needed.
func writeFile(t testing.TB, root, rel string, data []byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
}
