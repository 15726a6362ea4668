package discovery

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/portico-proxy/portico/internal/certtree"
	"github.com/portico-proxy/portico/internal/testpki"
)

func secretFiles(ca *testpki.CA, leaf *testpki.Leaf) map[string][]byte {
	return map[string][]byte{"tls.crt": leaf.ChainPEM, "tls.key": leaf.KeyPEM, "ca.crt": ca.PEM}
}

// TestKubernetesSecretMount reads secrets mounted as kubelet mounts them,
// one per folder, and follows the atomic swap of ..data on an update.
func TestKubernetesSecretMount(t *testing.T) {
	root := t.TempDir()
	ca := testpki.NewCA(t)
	shop := ca.Issue(t, []string{"shop.example.test"})
	blog := ca.Issue(t, []string{"blog.example.test"})
	shopSecret := certtree.NewKubeSecret(t, filepath.Join(root, "shop"), secretFiles(ca, shop))
	certtree.NewKubeSecret(t, filepath.Join(root, "blog"), secretFiles(ca, blog))
	store := openStore(t)
	d := newDiscoverer(t, root, store)

	rep := pass(t, d)
	if got, want := storedNames(t, store), []string{"blog", "shop"}; !slices.Equal(got, want) {
		t.Fatalf("stored %q, want %q:\n%s", got, want, reportText(rep))
	}
	// ca.crt and the hidden ..data copies add nothing: no conflicts, no
	// skipped lines, no third keypair.
	if len(rep.KeyPairs) != 2 || len(rep.Skipped) != 0 {
		t.Fatalf("want exactly two created lines:\n%s", reportText(rep))
	}
	if l := rep.Line("shop", Created); l == nil || l.Path != filepath.Join(root, "shop", "tls.crt") {
		t.Fatalf("shop not created from shop/tls.crt:\n%s", reportText(rep))
	}
	checkHolds(t, store, "shop", shop)
	checkHolds(t, store, "blog", blog)

	renewed := ca.Issue(t, []string{"shop.example.test"})
	shopSecret.Update(secretFiles(ca, renewed))
	rep = pass(t, d)
	if rep.Line("shop", Updated) == nil || rep.Line("blog", Unchanged) == nil {
		t.Fatalf("after the ..data swap: want shop updated, blog unchanged:\n%s", reportText(rep))
	}
	checkHolds(t, store, "shop", renewed)
}

// TestKubernetesSecretAsRoot mounts one secret as the discovery folder
// itself: the keypair takes the folder's own name.
func TestKubernetesSecretAsRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "tls")
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"api.example.test"})
	certtree.NewKubeSecret(t, root, secretFiles(ca, leaf))
	store := openStore(t)

	rep := pass(t, newDiscoverer(t, root, store))
	if got := storedNames(t, store); !slices.Equal(got, []string{"tls"}) {
		t.Fatalf("stored %q, want [tls]:\n%s", got, reportText(rep))
	}
	checkHolds(t, store, "tls", leaf)
}
