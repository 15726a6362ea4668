package certstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

func openTestStore(t *testing.T) *SQLite {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "data", "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenSQLitePermissions(t *testing.T) {
	s := openTestStore(t)
	for path, want := range map[string]os.FileMode{s.Path(): 0o600, filepath.Dir(s.Path()): 0o700} {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", filepath.Base(path), got, want)
		}
	}
}

func TestPutKeyPairOutcomes(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	ca := testpki.NewCA(t)
	first := ca.Issue(t, []string{"shop.example.com"})
	renewed := ca.Issue(t, []string{"shop.example.com", "www.shop.example.com"})

	put := func(l *testpki.Leaf) (KeyPair, Outcome) {
		t.Helper()
		kp, out, err := s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported,
			Cert: l.ChainPEM, CertFrom: "cert.pem", Key: l.KeyPEM, KeyFrom: "key.pem"})
		if err != nil {
			t.Fatalf("PutKeyPair: %v", err)
		}
		return kp, out
	}
	created, out := put(first)
	if out != Created {
		t.Fatalf("first put: got %s, want created", out)
	}
	gen, _ := s.Generation(ctx)
	if _, out := put(first); out != Unchanged {
		t.Fatalf("same input again: got %s, want unchanged", out)
	}
	if after, _ := s.Generation(ctx); after != gen {
		t.Errorf("an unchanged put moved the generation from %d to %d", gen, after)
	}
	updated, out := put(renewed)
	if out != Updated {
		t.Fatalf("renewed input: got %s, want updated", out)
	}
	if updated.ID != created.ID {
		t.Errorf("update made a new record %d, want the same record %d", updated.ID, created.ID)
	}

	got, err := s.KeyPair(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.DNSNames) != 2 || got.Fingerprint != updated.Fingerprint || !got.HasKey || got.KeyType != "ecdsa-p256" {
		t.Errorf("stored keypair is %+v", got)
	}
	if !got.NotAfter.Equal(renewed.Cert.NotAfter.Truncate(time.Second)) {
		t.Errorf("not after %v, want %v", got.NotAfter, renewed.Cert.NotAfter)
	}
}

func TestPutKeyPairRejectedLeavesStoreUnchanged(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	ca := testpki.NewCA(t)
	good := ca.Issue(t, []string{"shop.example.com"})
	other := ca.Issue(t, []string{"other.example.com"})
	if _, _, err := s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported, Cert: good.ChainPEM, Key: good.KeyPEM}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.KeyPair(ctx, "shop")
	gen, _ := s.Generation(ctx)

	_, _, err := s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported,
		Cert: good.ChainPEM, CertFrom: "new.pem", Key: other.KeyPEM, KeyFrom: "new.key"})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Input != "new.key" {
		t.Fatalf("got %v, want an input error naming new.key", err)
	}
	after, _ := s.KeyPair(ctx, "shop")
	if after.Revision != before.Revision {
		t.Errorf("a rejected input changed the stored keypair")
	}
	if g, _ := s.Generation(ctx); g != gen {
		t.Errorf("a rejected input moved the generation")
	}
}

func TestPutKeyPairOnlySource(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	ca := testpki.NewCA(t)
	l := ca.Issue(t, []string{"shop.example.com"})
	s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported, Cert: l.ChainPEM, Key: l.KeyPEM})
	l2 := ca.Issue(t, []string{"shop.example.com"})
	_, _, err := s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceDiscovered, OnlySource: SourceDiscovered,
		Cert: l2.ChainPEM, Key: l2.KeyPEM})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("got %v, want ErrConflict", err)
	}
}

// TestDefaultKeyPairIsProtected: the keypair served when nothing else
// matches can be neither deleted nor overwritten by a user.
func TestDefaultKeyPairIsProtected(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := EnsureDefault(ctx, s, "portico.test", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKeyPair(ctx, DefaultKeyPairName); !errors.Is(err, ErrInUse) {
		t.Errorf("deleting the default keypair: got %v, want ErrInUse", err)
	}
	l := testpki.NewCA(t).Issue(t, []string{"x.test"})
	_, _, err := s.PutKeyPair(ctx, Input{Name: DefaultKeyPairName, Source: SourceImported, Cert: l.ChainPEM, Key: l.KeyPEM})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Input != "name" {
		t.Errorf("importing over the default keypair: got %v, want a name error", err)
	}
}

// TestCertificateOnlyUpdateKeepsKey: importing a certificate without its
// key over a keypair that has one is refused, so a forgotten --private-key
// never makes a served keypair unservable.
func TestCertificateOnlyUpdateKeepsKey(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	l := testpki.NewCA(t).Issue(t, []string{"shop.example.com"})
	s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported, Cert: l.ChainPEM, Key: l.KeyPEM})
	_, _, err := s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported, Cert: l.ChainPEM, CertFrom: "cron.pem"})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Input != "cron.pem" {
		t.Fatalf("got %v, want an input error naming cron.pem", err)
	}
	if kp, _ := s.KeyPair(ctx, "shop"); !kp.HasKey {
		t.Errorf("the stored keypair lost its key")
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name   string
		source Source
		ok     bool
	}{
		{DefaultKeyPairName, SourceSelfSigned, false},
		{DefaultKeyPairName, SourceImported, false},
		{"shop", SourceImported, true},
		{"", SourceImported, false},
		{" shop", SourceImported, false},
		{"a/b", SourceImported, false},
		{"acme:shop.example.com", SourceImported, false},
		{"acme:shop.example.com", SourceACME, true},
		{"shop", SourceACME, false},
		{"tab\there", SourceImported, false},
	}
	for _, tt := range tests {
		if err := CheckName(tt.name, tt.source); (err == nil) != tt.ok {
			t.Errorf("CheckName(%q, %s) = %v, want ok=%v", tt.name, tt.source, err, tt.ok)
		}
	}
}

func TestDeleteKeyPairInUse(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	ca := testpki.NewCA(t)
	l := ca.Issue(t, []string{"shop.example.com"})
	s.PutKeyPair(ctx, Input{Name: "shop", Source: SourceImported, Cert: l.ChainPEM, Key: l.KeyPEM})
	if _, err := s.CreateTenant(ctx, tenants.Tenant{Domain: "shop.example.com", Certificate: "shop"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKeyPair(ctx, "shop"); !errors.Is(err, ErrInUse) {
		t.Fatalf("deleting a keypair in use: got %v, want ErrInUse", err)
	}
	if err := s.DeleteTenant(ctx, "shop.example.com"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKeyPair(ctx, "shop"); err != nil {
		t.Fatalf("deleting an unused keypair: %v", err)
	}
	if err := s.DeleteKeyPair(ctx, "shop"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting it again: got %v, want ErrNotFound", err)
	}
}

func TestTenantConstraints(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.CreateTenant(ctx, tenants.Tenant{Domain: "a.example", Default: true}); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateTenant(ctx, tenants.Tenant{Domain: "b.example", Default: true})
	if !errors.Is(err, tenants.ErrSecondDefault) || !strings.Contains(err.Error(), "a.example") {
		t.Errorf("second default: got %v, want ErrSecondDefault naming a.example", err)
	}
	if _, err := s.CreateTenant(ctx, tenants.Tenant{Domain: "a.example"}); !errors.Is(err, tenants.ErrExists) {
		t.Errorf("same domain twice: got %v, want ErrExists", err)
	}
	if _, err := s.CreateTenant(ctx, tenants.Tenant{Domain: "c.example", Certificate: "nope"}); !errors.Is(err, tenants.ErrNoKeyPair) {
		t.Errorf("unknown keypair: got %v, want ErrNoKeyPair", err)
	}
	if _, err := s.UpdateTenant(ctx, "missing.example", func(*tenants.Tenant) error { return nil }); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("update of a missing tenant: got %v, want ErrNotFound", err)
	}
	upd, err := s.UpdateTenant(ctx, "a.example", func(t *tenants.Tenant) error {
		t.Upstream, t.HSTSMaxAge, t.ACME = "http://127.0.0.1:9", time.Hour, true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Tenant(ctx, "a.example")
	if got.Upstream != upd.Upstream || got.HSTSMaxAge != time.Hour || !got.ACME || !got.Default {
		t.Errorf("stored tenant is %+v", got)
	}
	if ts, _ := s.Tenants(ctx); len(ts) != 1 {
		t.Errorf("%d tenants stored, want 1 (failed creates must not write)", len(ts))
	}
}

// TestChangesSeesOtherConnections commits through a second, independent
// handle on the same file, as another process would, and expects the first
// handle's change signal to report it.
func TestChangesSeesOtherConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := openTestStore(t)
	other, err := OpenSQLite(ctx, s.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	changes := s.Changes(ctx)
	if _, err := other.CreateTenant(ctx, tenants.Tenant{Domain: "a.example"}); err != nil {
		t.Fatal(err)
	}
	want, _ := other.Generation(ctx)
	select {
	case gen := <-changes:
		if gen != want {
			t.Errorf("signalled generation %d, want %d", gen, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no change signalled for a commit made through another handle")
	}
}

func TestEnsureDefault(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	now := time.Now()
	wrote, err := EnsureDefault(ctx, s, "portico.test", now, nil)
	if err != nil || !wrote {
		t.Fatalf("first call: wrote=%v err=%v, want a new keypair", wrote, err)
	}
	first, _ := s.KeyPair(ctx, DefaultKeyPairName)
	if first.Subject != "CN=portico.test,O=Portico" || first.DNSNames[0] != "portico.test" || first.KeyType != "ecdsa-p256" {
		t.Errorf("default keypair is %+v", first)
	}
	if wrote, _ := EnsureDefault(ctx, s, "portico.test", now.Add(300*24*time.Hour), nil); wrote {
		t.Errorf("replaced with 65 days left, want it kept")
	}
	if wrote, _ := EnsureDefault(ctx, s, "portico.test", now.Add(340*24*time.Hour), nil); !wrote {
		t.Fatalf("kept with 25 days left, want it replaced")
	}
	second, _ := s.KeyPair(ctx, DefaultKeyPairName)
	if second.ID != first.ID || second.Fingerprint == first.Fingerprint {
		t.Errorf("replacement must be in place with a new certificate: ids %d/%d", first.ID, second.ID)
	}
}

// TestMigrationsBelowTheHighestApplied opens a database whose schema went
// up to the last migration while missing one below it, as when two
// branches' migrations meet, and expects the missing one applied.
func TestMigrationsBelowTheHighestApplied(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	db := s.DB()
	if _, err := db.Exec(`DROP TABLE acme_state; DROP TABLE acme_storage; DROP TABLE acme_locks;
		DELETE FROM schema_migrations WHERE version = 4`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	again, err := OpenSQLite(ctx, s.Path(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var n int
	if err := again.ReadDB().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'acme_state'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("acme_state after reopening: %d tables, %v; want migration 4 applied again", n, err)
	}
	var version int
	again.ReadDB().QueryRow(`PRAGMA user_version`).Scan(&version)
	if version != 5 { // the highest migration today
		t.Errorf("user_version %d, want 5", version)
	}
}
