package discovery

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/certtree"
	"github.com/portico-proxy/portico/internal/testpki"
)

// waitFor polls cond until it holds. The deadline is only there so that a
// broken watcher fails the test instead of hanging it; it asserts nothing
// about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serves reports whether the stored keypair name holds leaf.
func serves(t *testing.T, store certstore.Store, name string, leaf *testpki.Leaf) bool {
	t.Helper()
	kp, err := store.KeyPair(context.Background(), name)
	if err != nil {
		return false
	}
	return kp.Fingerprint == fingerprint(leaf)
}

func fingerprint(leaf *testpki.Leaf) string {
	p, err := certstore.ParseKeyPair(leaf.ChainPEM, "", leaf.KeyPEM, "")
	if err != nil {
		panic(err)
	}
	return p.Fingerprint()
}

// startWatching starts d with a short quiet time and a rescan interval far
// beyond the test, so that only file-system events can explain a pass.
func startWatching(t *testing.T, root string, store Store, log *slog.Logger) *Discoverer {
	t.Helper()
	d, err := New(Config{Root: root, Interval: time.Hour, Quiet: 50 * time.Millisecond}, store, log)
	if err != nil {
		t.Fatal(err)
	}
	d.Start(context.Background())
	t.Cleanup(d.Stop)
	return d
}

// TestWatchFollowsTheTree changes the tree in the ways users do while the
// discoverer runs, and waits for each change to reach the store through
// file-system events alone.
func TestWatchFollowsTheTree(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "certs")
	outside := filepath.Join(dir, "elsewhere")
	ca := testpki.NewCA(t)
	cb := certtree.NewCertbot(t, filepath.Join(root, "letsencrypt"))
	shop := ca.Issue(t, []string{"shop.example.test"})
	cb.Issue("shop.example.test", shop)
	api := ca.Issue(t, []string{"api.example.test"})
	secret := certtree.NewKubeSecret(t, filepath.Join(root, "api"), secretFiles(ca, api))
	writeFile(t, outside, "placeholder", []byte("x"), 0o644)
	symlink(t, outside, filepath.Join(root, "linked"))

	store := openStore(t)
	d := startWatching(t, root, store, nil)
	if !serves(t, store, "shop.example.test", shop) || !serves(t, store, "api", api) {
		t.Fatalf("first pass did not store the tree: %q", storedNames(t, store))
	}

	t.Run("certbot renewal", func(t *testing.T) {
		renewed := ca.Issue(t, []string{"shop.example.test"})
		cb.Renew("shop.example.test", renewed)
		waitFor(t, "the renewed certificate", func() bool { return serves(t, store, "shop.example.test", renewed) })
	})
	t.Run("new certbot lineage", func(t *testing.T) {
		blog := ca.Issue(t, []string{"blog.example.test"})
		cb.Issue("blog.example.test", blog)
		waitFor(t, "the new lineage", func() bool { return serves(t, store, "blog.example.test", blog) })
	})
	t.Run("Kubernetes secret update", func(t *testing.T) {
		renewed := ca.Issue(t, []string{"api.example.test"})
		secret.Update(secretFiles(ca, renewed))
		waitFor(t, "the updated secret", func() bool { return serves(t, store, "api", renewed) })
	})
	t.Run("file in a linked folder", func(t *testing.T) {
		leaf := ca.Issue(t, []string{"linked.example.test"})
		writeFile(t, outside, "far.pem", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), 0o600)
		waitFor(t, "the file in the linked folder", func() bool { return serves(t, store, "far", leaf) })
	})
	t.Run("file link target rewritten in place", func(t *testing.T) {
		target := filepath.Join(dir, "vault", "ext.pem")
		first := ca.Issue(t, []string{"ext.example.test"})
		writeFile(t, filepath.Dir(target), "ext.pem", append(append([]byte{}, first.ChainPEM...), first.KeyPEM...), 0o600)
		symlink(t, target, filepath.Join(root, "ext.pem"))
		waitFor(t, "the linked file", func() bool { return serves(t, store, "ext", first) })
		// Nothing changes in the discovery folder itself: only the watch on
		// the target's folder sees this.
		next := ca.Issue(t, []string{"ext.example.test"})
		writeFile(t, filepath.Dir(target), "ext.pem", append(append([]byte{}, next.ChainPEM...), next.KeyPEM...), 0o600)
		waitFor(t, "the rewritten target", func() bool { return serves(t, store, "ext", next) })
	})
	t.Run("dangling link whose target appears later", func(t *testing.T) {
		// The link is made before its target, and its target's folder
		// only exists up to vault/: the watch on the nearest existing
		// folder sees the target arrive.
		target := filepath.Join(dir, "vault", "pending", "late-link.pem")
		symlink(t, target, filepath.Join(root, "late-link.pem"))
		waitFor(t, "the dangling link to be reported", func() bool {
			d.passMu.Lock()
			defer d.passMu.Unlock()
			return d.watched[filepath.Join(dir, "vault")]
		})
		leaf := ca.Issue(t, []string{"latelink.example.test"})
		// The folder first, then the file: each step is an event.
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the new target folder to be watched", func() bool {
			d.passMu.Lock()
			defer d.passMu.Unlock()
			return d.watched[filepath.Dir(target)]
		})
		writeFile(t, filepath.Dir(target), "late-link.pem", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), 0o600)
		waitFor(t, "the link's target", func() bool { return serves(t, store, "late-link", leaf) })
	})
	t.Run("file in a folder made after the start", func(t *testing.T) {
		later := filepath.Join(root, "later", "deeper")
		if err := os.MkdirAll(later, 0o755); err != nil {
			t.Fatal(err)
		}
		// Wait until a pass has seen (and so watches) the new folder, so
		// that the file below is found through an event on it.
		waitFor(t, "the new folder to be watched", func() bool {
			d.passMu.Lock()
			defer d.passMu.Unlock()
			return d.watched[later]
		})
		leaf := ca.Issue(t, []string{"later.example.test"})
		writeFile(t, later, "late.crt", leaf.ChainPEM, 0o644)
		writeFile(t, later, "late.key", leaf.KeyPEM, 0o600)
		waitFor(t, "the file in the new folder", func() bool { return serves(t, store, "late", leaf) })
	})
	t.Run("files removed", func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(root, "later")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "late to be marked missing", func() bool {
			kp, err := store.KeyPair(context.Background(), "late")
			return err == nil && kp.Status == StatusMissing
		})
	})
}

// TestRescan checks that Rescan runs a pass, and that Stop ends the
// background work.
func TestRescan(t *testing.T) {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := startWatching(t, t.TempDir(), openStore(t), log)
	d.Rescan()
	waitFor(t, "a requested pass", func() bool { return strings.Contains(logs.String(), "reason=requested") })
	d.Stop()
	d.Stop()

	var none *Discoverer
	none.Rescan()
	none.Stop()
}
