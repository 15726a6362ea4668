package certstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
)

func openStore(t *testing.T) *certstore.SQLite {
	t.Helper()
	s, err := certstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPutKeyPairs(t *testing.T) {
	ctx := context.Background()
	ca := testpki.NewCA(t)
	a, b, c := ca.Issue(t, []string{"a.test"}), ca.Issue(t, []string{"b.test"}), ca.Issue(t, []string{"c.test"})
	s := openStore(t)
	put := func(name string, l *testpki.Leaf, src certstore.Source) {
		t.Helper()
		if _, _, err := s.PutKeyPair(ctx, certstore.Input{Name: name, Source: src, Cert: l.ChainPEM, Key: l.KeyPEM}); err != nil {
			t.Fatal(err)
		}
	}
	put("same", a, certstore.SourceDiscovered)
	put("renewed", a, certstore.SourceDiscovered)
	put("imported", a, certstore.SourceImported)
	gen, _ := s.Generation(ctx)

	in := func(name string, cert, key *testpki.Leaf) certstore.Input {
		return certstore.Input{Name: name, Source: certstore.SourceDiscovered, OnlySource: certstore.SourceDiscovered,
			Cert: cert.ChainPEM, CertFrom: name + ".crt", Key: key.KeyPEM, KeyFrom: name + ".key"}
	}
	res := s.PutKeyPairs(ctx, []certstore.Input{
		in("new", b, b),
		in("mismatched", b, c),
		in("same", a, a),
		in("imported", c, c),
		in("renewed", c, c),
	})

	var inErr *certstore.InputError
	tests := []struct {
		name    string
		outcome certstore.Outcome
		check   func(error) bool
	}{
		{"new", certstore.Created, nil},
		{"mismatched", "", func(err error) bool { return errors.As(err, &inErr) && inErr.Input == "mismatched.key" }},
		{"same", certstore.Unchanged, nil},
		{"imported", "", func(err error) bool { return errors.Is(err, certstore.ErrConflict) }},
		{"renewed", certstore.Updated, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := res[i]
			if tt.check != nil {
				if !tt.check(r.Err) {
					t.Fatalf("got error %v", r.Err)
				}
				return
			}
			if r.Err != nil || r.Outcome != tt.outcome || r.KeyPair.Name != tt.name {
				t.Fatalf("got %s %q %v, want %s", r.Outcome, r.KeyPair.Name, r.Err, tt.outcome)
			}
		})
	}
	if kp, _ := s.KeyPair(ctx, "imported"); kp.Fingerprint != res[2].KeyPair.Fingerprint {
		t.Fatal("the conflicting input replaced the imported keypair")
	}
	if kp, _ := s.KeyPair(ctx, "renewed"); kp.Fingerprint == res[2].KeyPair.Fingerprint {
		t.Fatal("renewed keypair not updated")
	}
	if g, _ := s.Generation(ctx); g <= gen {
		t.Fatalf("generation %d did not move from %d", g, gen)
	}

	// A batch that only holds rejected inputs writes nothing.
	gen, _ = s.Generation(ctx)
	res = s.PutKeyPairs(ctx, []certstore.Input{in("mismatched", b, c)})
	if g, _ := s.Generation(ctx); res[0].Err == nil || g != gen {
		t.Fatalf("rejected-only batch: err %v, generation %d -> %d", res[0].Err, gen, g)
	}
}

func TestOriginDigest(t *testing.T) {
	ctx := context.Background()
	leaf := testpki.NewCA(t).Issue(t, []string{"a.test"})
	s := openStore(t)
	in := certstore.Input{Name: "a", Source: certstore.SourceDiscovered, Origin: "/certs/a.pem",
		OriginDigest: "one", Cert: leaf.ChainPEM, Key: leaf.KeyPEM}

	for _, step := range []struct {
		digest string
		want   certstore.Outcome
	}{{"one", certstore.Created}, {"one", certstore.Unchanged}, {"two", certstore.Updated}} {
		in.OriginDigest = step.digest
		kp, outcome, err := s.PutKeyPair(ctx, in)
		if err != nil || outcome != step.want || kp.OriginDigest != step.digest {
			t.Fatalf("digest %s: got %s with digest %q (%v), want %s", step.digest, outcome, kp.OriginDigest, err, step.want)
		}
	}
	kps, err := s.KeyPairs(ctx)
	if err != nil || len(kps) != 1 || kps[0].OriginDigest != "two" {
		t.Fatalf("KeyPairs: %+v %v", kps, err)
	}
}
