package discovery

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testpki"
)

// TestUnchangedFilesAreNotReadAgain checks that a pass trusts what the last
// one read for files whose stamp did not change, and reads again a file
// rewritten in place, even with the same size.
func TestUnchangedFilesAreNotReadAgain(t *testing.T) {
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.test"})
	root := t.TempDir()
	writeFile(t, root, "shop.crt", leaf.ChainPEM, 0o644)
	key := writeFile(t, root, "shop.key", leaf.KeyPEM, 0o600)
	store := openStore(t)
	// An hour from now every file here has been still for long enough.
	later := func() time.Time { return time.Now().Add(time.Hour) }
	d, err := New(Config{Root: root, Now: later}, store, nil)
	if err != nil {
		t.Fatal(err)
	}

	if rep := pass(t, d); rep.read != 2 || rep.Count(Created) != 1 {
		t.Fatalf("first pass read %d files, want 2:\n%s", rep.read, reportText(rep))
	}
	if rep := pass(t, d); rep.read != 0 || rep.Count(Unchanged) != 1 {
		t.Fatalf("second pass read %d files, want 0:\n%s", rep.read, reportText(rep))
	}

	// Another key of the same type has the same size: only the stamp can
	// tell that the file changed.
	other := ca.Issue(t, []string{"shop.example.test"})
	if len(other.KeyPEM) != len(leaf.KeyPEM) {
		t.Fatalf("keys of %d and %d bytes: the test needs equal sizes", len(other.KeyPEM), len(leaf.KeyPEM))
	}
	before, _ := os.Stat(key)
	if err := os.WriteFile(key, other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.Stat(key); !os.SameFile(before, after) || after.Size() != before.Size() {
		t.Fatal("the key was not rewritten in place with the same size")
	}
	rep := pass(t, d)
	if l := rep.Line("shop", Rejected); rep.read != 1 || l == nil || !strings.Contains(l.Reason, "does not match") {
		t.Fatalf("after rewriting the key in place: read %d, want 1 and a mismatch:\n%s", rep.read, reportText(rep))
	}
	checkHolds(t, store, "shop", leaf)

	// Files that changed less than settle before they were read are read
	// on every pass: a second change within the same clock tick would keep
	// their stamp. A clock a minute behind makes every file here recent.
	recent, err := New(Config{Root: root, Now: func() time.Time { return time.Now().Add(-time.Minute) }}, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	pass(t, recent)
	if rep := pass(t, recent); rep.read != 2 {
		t.Fatalf("files changed just now: read %d, want 2", rep.read)
	}
}
