package discovery

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/certtree"
	"github.com/portico-proxy/portico/internal/testpki"
)

// certbotAfterTwoRenewals builds a certbot configuration folder holding two
// lineages, each issued and then renewed twice, and returns it with the
// newest leaf of each lineage.
func certbotAfterTwoRenewals(t *testing.T, dir string) (*certtree.Certbot, map[string]*testpki.Leaf) {
	t.Helper()
	ca := testpki.NewCA(t)
	cb := certtree.NewCertbot(t, dir)
	newest := map[string]*testpki.Leaf{}
	for _, name := range []string{"a.example.test", "b.example.test"} {
		cb.Issue(name, ca.Issue(t, []string{name}))
		for range 2 {
			newest[name] = ca.Issue(t, []string{name, "www." + name})
			cb.Renew(name, newest[name])
		}
	}
	return cb, newest
}

func TestCertbotTreeYieldsExactlyItsLineages(t *testing.T) {
	root := filepath.Join(t.TempDir(), "letsencrypt")
	cb, newest := certbotAfterTwoRenewals(t, root)
	if v := cb.Version("a.example.test"); v != 3 {
		t.Fatalf("archive version %d, want 3", v)
	}
	store := openStore(t)
	d := newDiscoverer(t, root, store)

	rep := pass(t, d)
	if got, want := storedNames(t, store), []string{"a.example.test", "b.example.test"}; !slices.Equal(got, want) {
		t.Fatalf("stored keypairs %q, want %q\n%s", got, want, reportText(rep))
	}
	// Nothing else is reported: accounts/, keys/, csr/, renewal/, archive/,
	// the READMEs and cert.pem/chain.pem are certbot's own and skipped
	// quietly.
	if len(rep.KeyPairs) != 2 || len(rep.Skipped) != 0 {
		t.Fatalf("report has %d keypair lines and %d skipped, want 2 and 0:\n%s",
			len(rep.KeyPairs), len(rep.Skipped), reportText(rep))
	}
	for name, leaf := range newest {
		line := rep.Line(name, Created)
		if line == nil {
			t.Fatalf("no created line for %s:\n%s", name, reportText(rep))
		}
		if want := cb.Live(name, "fullchain"); line.Path != want {
			t.Errorf("%s created from %s, want %s", name, line.Path, want)
		}
		checkHolds(t, store, name, leaf)
		kp := keyPair(t, store, name)
		if kp.Source != certstore.SourceDiscovered || kp.Origin != cb.Live(name, "fullchain") || kp.Status != "" {
			t.Errorf("%s: source %s, origin %s, status %q; want discovered from live/ with no status",
				name, kp.Source, kp.Origin, kp.Status)
		}
	}

	// An idle tree: the same answer and not one write.
	gen := generation(t, store)
	rep = pass(t, d)
	if n := rep.Count(Unchanged); n != 2 || rep.Changed() {
		t.Fatalf("second pass: %d unchanged, changed %v; want 2 unchanged, no change:\n%s", n, rep.Changed(), reportText(rep))
	}
	if g := generation(t, store); g != gen {
		t.Fatalf("idle pass moved the store generation from %d to %d", gen, g)
	}

	// A fresh process (no memory of the last pass) writes nothing either.
	rep = pass(t, newDiscoverer(t, root, store))
	if g := generation(t, store); g != gen || rep.Count(Unchanged) != 2 {
		t.Fatalf("fresh discoverer: generation %d -> %d, %d unchanged:\n%s", gen, g, rep.Count(Unchanged), reportText(rep))
	}
}

// TestCertbotRenewalCaughtHalfway reads the tree between every step certbot
// takes to renew, and shows that the stored keypair only ever is the old one
// or the new one, never a mix and never missing.
func TestCertbotRenewalCaughtHalfway(t *testing.T) {
	root := filepath.Join(t.TempDir(), "letsencrypt")
	ca := testpki.NewCA(t)
	cb := certtree.NewCertbot(t, root)
	old := ca.Issue(t, []string{"shop.example.test"})
	cb.Issue("shop.example.test", old)
	store := openStore(t)
	d := newDiscoverer(t, root, store)
	pass(t, d)
	checkHolds(t, store, "shop.example.test", old)

	renewed := ca.Issue(t, []string{"shop.example.test"})
	steps := cb.RenewSteps("shop.example.test", renewed)
	for i, step := range steps {
		step.Do()
		rep := pass(t, d)
		last := i == len(steps)-1
		t.Logf("after %q:\n%s", step.Name, reportText(rep))
		switch {
		case last:
			if rep.Line("shop.example.test", Updated) == nil {
				t.Fatalf("after the last step: not updated:\n%s", reportText(rep))
			}
			checkHolds(t, store, "shop.example.test", renewed)
		default:
			checkHolds(t, store, "shop.example.test", old)
			if kp := keyPair(t, store, "shop.example.test"); kp.Status != "" {
				t.Fatalf("after %q: status %q, want none", step.Name, kp.Status)
			}
		}
	}

	// The state just before the end is the classic half-renewal: the new
	// key linked, the old full chain still in place.
	ca2 := testpki.NewCA(t)
	next := ca2.Issue(t, []string{"shop.example.test"})
	steps = cb.RenewSteps("shop.example.test", next)
	for _, step := range steps[:5] { // archive written, cert and privkey relinked
		step.Do()
	}
	rep := pass(t, d)
	line := rep.Line("shop.example.test", Rejected)
	if line == nil || line.Path != cb.Live("shop.example.test", "privkey") ||
		!strings.Contains(line.Reason, "does not match") || !strings.Contains(line.Reason, "stored keypair is kept") {
		t.Fatalf("half renewal not reported as a mismatched key with the stored keypair kept:\n%s", reportText(rep))
	}
	checkHolds(t, store, "shop.example.test", renewed)
}
