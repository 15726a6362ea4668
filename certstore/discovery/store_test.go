package discovery

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// TestSameNameTwice gives one name two sources and checks that the same
// one wins on every pass, with a fresh store too, and the other is
// reported.
func TestSameNameTwice(t *testing.T) {
	ca := testpki.NewCA(t)
	first := ca.Issue(t, []string{"a.example.test"})
	second := ca.Issue(t, []string{"b.example.test"})
	both := func(l *testpki.Leaf) []byte { return append(append([]byte{}, l.ChainPEM...), l.KeyPEM...) }
	root := t.TempDir()
	// b/ is written first, so walk order or file age cannot be what decides.
	writeFile(t, root, "b/foo.pem", both(second), 0o600)
	writeFile(t, root, "a/foo.pem", both(first), 0o600)
	// In one folder: foo2.crt and foo2.pem both hold certificates.
	writeFile(t, root, "c/foo2.pem", first.ChainPEM, 0o644)
	writeFile(t, root, "c/foo2.crt", second.ChainPEM, 0o644)
	writeFile(t, root, "c/foo2.key", second.KeyPEM, 0o600)

	for round := range 3 {
		store := openStore(t)
		d := newDiscoverer(t, root, store)
		for range 2 {
			rep := pass(t, d)
			checkHolds(t, store, "foo", first)
			checkHolds(t, store, "foo2", second)
			l := rep.Line("foo", Conflict)
			if l == nil || l.Path != filepath.Join(root, "b/foo.pem") || !strings.Contains(l.Reason, filepath.Join(root, "a/foo.pem")+", which is used") {
				t.Fatalf("round %d: b/foo.pem not reported as losing to a/foo.pem:\n%s", round, reportText(rep))
			}
			l = rep.Line("foo2", Conflict)
			if l == nil || l.Path != filepath.Join(root, "c/foo2.pem") {
				t.Fatalf("round %d: c/foo2.pem not reported as a conflict:\n%s", round, reportText(rep))
			}
		}
	}
}

// TestNeverOverwritesOthers checks that a keypair imported by hand keeps
// its name against a discovered file of the same name.
func TestNeverOverwritesOthers(t *testing.T) {
	ca := testpki.NewCA(t)
	imported := ca.Issue(t, []string{"shop.example.test"})
	onDisk := ca.Issue(t, []string{"shop.example.test"})
	store := openStore(t)
	ctx := context.Background()
	if _, _, err := store.PutKeyPair(ctx, certstore.Input{Name: "shop", Source: certstore.SourceImported,
		Cert: imported.ChainPEM, Key: imported.KeyPEM}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeFile(t, root, "shop.crt", onDisk.ChainPEM, 0o644)
	writeFile(t, root, "shop.key", onDisk.KeyPEM, 0o600)
	gen := generation(t, store)

	rep := pass(t, newDiscoverer(t, root, store))
	l := rep.Line("shop", Conflict)
	if l == nil || !strings.Contains(l.Reason, "exists with source imported") {
		t.Fatalf("want a conflict with the imported keypair:\n%s", reportText(rep))
	}
	checkHolds(t, store, "shop", imported)
	if g := generation(t, store); g != gen {
		t.Fatalf("generation moved from %d to %d", gen, g)
	}
	if kp := keyPair(t, store, "shop"); kp.Source != certstore.SourceImported {
		t.Fatalf("source became %s", kp.Source)
	}
}

// TestFilesGone removes a keypair's files, then brings them back.
func TestFilesGone(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.test"})
	stays := ca.Issue(t, []string{"stays.example.test"})
	root := t.TempDir()
	writeFile(t, root, "shop/fullchain.pem", leaf.ChainPEM, 0o644)
	writeFile(t, root, "shop/privkey.pem", leaf.KeyPEM, 0o600)
	writeFile(t, root, "stays/fullchain.pem", stays.ChainPEM, 0o644)
	writeFile(t, root, "stays/privkey.pem", stays.KeyPEM, 0o600)
	store := openStore(t)
	d := newDiscoverer(t, root, store)
	pass(t, d)
	// A tenant uses it: a keypair in use must survive its files too.
	ctx := context.Background()
	if _, err := store.CreateTenant(ctx, tenants.Tenant{Domain: "shop.example.test", Certificate: "shop"}); err != nil {
		t.Fatal(err)
	}

	if err := os.Rename(filepath.Join(root, "shop"), filepath.Join(t.TempDir(), "away")); err != nil {
		t.Fatal(err)
	}
	rep := pass(t, d)
	if l := rep.Line("shop", Missing); l == nil || !rep.Changed() {
		t.Fatalf("want shop missing:\n%s", reportText(rep))
	}
	if kp := keyPair(t, store, "shop"); kp.Status != StatusMissing {
		t.Fatalf("status %q, want missing", kp.Status)
	}
	checkHolds(t, store, "shop", leaf)
	if kp := keyPair(t, store, "stays"); kp.Status != "" {
		t.Fatalf("stays: status %q", kp.Status)
	}

	// Still gone: reported, but nothing is written again.
	gen := generation(t, store)
	rep = pass(t, d)
	if rep.Line("shop", Missing) == nil || rep.Changed() || generation(t, store) != gen {
		t.Fatalf("second pass with the files gone wrote or forgot:\n%s", reportText(rep))
	}

	// Back: the same record, status cleared.
	renewed := ca.Issue(t, []string{"shop.example.test"})
	writeFile(t, root, "shop/fullchain.pem", renewed.ChainPEM, 0o644)
	writeFile(t, root, "shop/privkey.pem", renewed.KeyPEM, 0o600)
	before := keyPair(t, store, "shop")
	rep = pass(t, d)
	after := keyPair(t, store, "shop")
	if rep.Line("shop", Updated) == nil || after.Status != "" || after.ID != before.ID {
		t.Fatalf("files back: want shop updated in place with no status; id %d -> %d, status %q:\n%s",
			before.ID, after.ID, after.Status, reportText(rep))
	}
	checkHolds(t, store, "shop", renewed)
}

// TestUnreadableFolderIsNotMissing shows that keypairs under a folder that
// cannot be read this pass are left alone rather than marked missing.
func TestUnreadableFolderIsNotMissing(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.test"})
	root := t.TempDir()
	writeFile(t, root, "live/shop/fullchain.pem", leaf.ChainPEM, 0o644)
	writeFile(t, root, "live/shop/privkey.pem", leaf.KeyPEM, 0o644)
	writeFile(t, root, "other.pem", append(append([]byte{}, leaf.ChainPEM...), leaf.KeyPEM...), 0o644)
	store := openStore(t)
	pass(t, newDiscoverer(t, root, store))

	// As certbot leaves live/: 0700, owned by root. Root reads it anyway,
	// so as root the pass runs as another user.
	live := filepath.Join(root, "live")
	mode := os.FileMode(0o000)
	if os.Geteuid() == 0 {
		mode = 0o700
	}
	if err := os.Chmod(live, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(live, 0o755) })
	var rep *Report
	if os.Geteuid() == 0 {
		rep = passAsNobody(t, root, store)
	} else {
		rep = pass(t, newDiscoverer(t, root, store))
	}

	if s := rep.Skip(live); s == nil || !strings.Contains(s.Reason, "cannot read folder: permission denied") {
		t.Fatalf("unreadable folder not reported:\n%s", reportText(rep))
	}
	if l := rep.Line("shop", Unchanged); l == nil || !strings.Contains(l.Reason, "could not be read") {
		t.Fatalf("shop not reported as left alone:\n%s", reportText(rep))
	}
	if kp := keyPair(t, store, "shop"); kp.Status != "" {
		t.Fatalf("status %q, want none", kp.Status)
	}
	checkHolds(t, store, "shop", leaf)
}

func TestExpiredCertificateIsReported(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"old.example.test"}, testpki.Options{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	root := t.TempDir()
	writeFile(t, root, "old.crt", leaf.ChainPEM, 0o644)
	writeFile(t, root, "old.key", leaf.KeyPEM, 0o600)
	store := openStore(t)
	d := newDiscoverer(t, root, store)
	for _, want := range []Action{Created, Unchanged} {
		rep := pass(t, d)
		if l := rep.Line("old", want); l == nil || !strings.Contains(l.Reason, "certificate expired on") {
			t.Fatalf("want %s with an expiry note:\n%s", want, reportText(rep))
		}
	}
}

// TestWarningsOncePerChange checks that a bad file is warned about once,
// not on every pass, and again when it changes.
func TestWarningsOncePerChange(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "bad.pem", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644)
	writeFile(t, root, "notes.txt", []byte("no PEM here"), 0o644)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := New(Config{Root: root}, openStore(t), log)
	if err != nil {
		t.Fatal(err)
	}
	count := func(path, level string) int {
		n := 0
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "level="+level) && strings.Contains(line, "path="+path) {
				n++
			}
		}
		return n
	}
	bad, notes := filepath.Join(root, "bad.pem"), filepath.Join(root, "notes.txt")

	for range 3 {
		pass(t, d)
	}
	if w, d := count(bad, "WARN"), count(notes, "DEBUG"); w != 1 || d != 1 {
		t.Fatalf("after 3 passes: %d warnings for bad.pem, %d debug lines for notes.txt; want 1 and 1:\n%s", w, d, logs)
	}
	if n := count(notes, "WARN"); n != 0 {
		t.Fatalf("a file without PEM blocks was warned about:\n%s", logs)
	}
	writeFile(t, root, "bad.pem", []byte("-----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----\n"), 0o644)
	pass(t, d)
	pass(t, d)
	if n := count(bad, "WARN"); n != 2 {
		t.Fatalf("after a change: %d warnings for bad.pem, want 2:\n%s", n, logs)
	}
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLastPassAndCounts checks what the admin listener and /metrics get:
// the last finished pass, failed or not, and skipped files by kind.
func TestLastPassAndCounts(t *testing.T) {
	ca := testpki.NewCA(t)
	a, b := ca.Issue(t, []string{"a.example.test"}), ca.Issue(t, []string{"b.example.test"})
	root := t.TempDir()
	writeFile(t, root, "a.crt", a.ChainPEM, 0o644)
	writeFile(t, root, "a.key", b.KeyPEM, 0o600)
	writeFile(t, root, "lonely.key", a.KeyPEM, 0o600)
	writeFile(t, root, "notes.txt", []byte("hello"), 0o644)
	symlink(t, "gone.pem", filepath.Join(root, "dangling.pem"))
	d := newDiscoverer(t, root, openStore(t))

	if _, ok := d.LastPass(); ok {
		t.Fatal("a last pass before the first")
	}
	pass(t, d)
	last, ok := d.LastPass()
	if !ok || last.Err != nil || last.Report == nil || last.Finished.Before(last.Started) {
		t.Fatalf("last pass: %+v %v", last, ok)
	}
	want := map[string]int{"mismatched_key": 1, "no_certificate": 1, "not_pem": 1, "dangling_link": 1}
	if got := last.Report.SkipCounts(); !maps.Equal(got, want) {
		t.Fatalf("counts %v, want %v", got, want)
	}

	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Pass(context.Background()); err == nil {
		t.Fatal("a pass over a removed folder did not fail")
	}
	if last, _ := d.LastPass(); last.Err == nil || last.Report != nil {
		t.Fatalf("last pass after a failure: %+v", last)
	}
}
