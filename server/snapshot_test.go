package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

// TestIncrementalSnapshotMatchesFullBuild applies random changes of every
// kind (tenants created, re-pointed, renamed, deleted; keypairs renewed,
// deleted, created again) and checks after each that the snapshot built from
// the changes alone serves exactly what a snapshot built from scratch does.
func TestIncrementalSnapshotMatchesFullBuild(t *testing.T) {
	ctx := context.Background()
	store, err := certstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := certstore.EnsureDefault(ctx, store, "portico.test", timeNow(), nil); err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA(t)
	rng := rand.New(rand.NewPCG(1, 2))
	domains := []string{"a.test", "b.test", "c.b.test", "d.test", "e.test"}
	kps := []string{"k0", "k1", "k2"}

	putKeyPair := func(name string) {
		l := ca.Issue(t, []string{name + ".test"})
		in := certstore.Input{Name: name, Source: certstore.SourceImported, Cert: l.ChainPEM}
		if rng.IntN(4) > 0 { // now and then a certificate-only keypair
			in.Key = l.KeyPEM
		}
		// A certificate without a key is refused over a keypair that has
		// one; that refusal is part of the store's rules, not a failure.
		if _, _, err := store.PutKeyPair(ctx, in); err != nil && in.Key != nil {
			t.Fatal(err)
		}
	}
	for _, k := range kps {
		putKeyPair(k)
	}

	incremental, err := buildSnapshot(ctx, store, nil, nopLog)
	if err != nil {
		t.Fatal(err)
	}
	for step := range 200 {
		op := rng.IntN(6)
		d := domains[rng.IntN(len(domains))]
		k := kps[rng.IntN(len(kps))]
		switch op {
		case 0:
			store.CreateTenant(ctx, tenants.Tenant{Domain: d, Certificate: k, Default: rng.IntN(3) == 0})
		case 1:
			store.UpdateTenant(ctx, d, func(t *tenants.Tenant) error { t.Certificate = k; return nil })
		case 2:
			other := domains[rng.IntN(len(domains))]
			store.UpdateTenant(ctx, d, func(t *tenants.Tenant) error { t.Domain = other; return nil })
		case 3:
			store.DeleteTenant(ctx, d)
		case 4:
			putKeyPair(k)
		case 5:
			if store.DeleteKeyPair(ctx, k) == nil {
				putKeyPair(k)
			}
		}

		if incremental, err = buildSnapshot(ctx, store, incremental, nopLog); err != nil {
			t.Fatal(err)
		}
		full, err := buildSnapshot(ctx, store, nil, nopLog)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := describe(incremental, domains), describe(full, domains); got != want {
			t.Fatalf("step %d (op %d): incremental snapshot serves\n%s\nwant\n%s", step, op, got, want)
		}
	}
}

// describe lists which tenant and certificate serve each name and its
// subdomain, and no SNI.
func describe(sn *snapshot, domains []string) string {
	out := ""
	for _, name := range append([]string{""}, domains...) {
		for _, n := range []string{name, "x." + name} {
			t, c := sn.match(n)
			tenant := "-"
			if t != nil {
				tenant = t.Domain
			}
			serial := "-"
			if c != nil {
				if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
					serial = leaf.SerialNumber.String()
				}
			}
			out += fmt.Sprintf("%s -> %s %s\n", n, tenant, serial)
		}
	}
	return out
}
