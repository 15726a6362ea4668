package server

import (
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // every part the error must name; none for valid
	}{
		{"defaults", Defaults(), nil},
		{"everything set", Config{
			DefaultUpstream: "https://app.internal:8443/prefix", TrustedProxies: []string{"10.0.0.0/8", "::1"},
			MaxRequestBody: 1 << 20, ProxyProtocol: true, UpstreamResponseTimeout: time.Hour,
		}, nil},
		{"every problem at once", Config{
			DefaultUpstream: "ftp://x", TrustedProxies: []string{"nope"}, UpstreamCA: "/nonexistent/ca.pem",
			IdleTimeout: -time.Second, MaxRequestBody: -1,
		}, []string{"default upstream", `"nope"`, "upstream CA", "idle timeout", "max request body"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want an error naming %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

// TestStartRefusesBadConfig checks that New keeps a bad configuration's
// reasons and Start returns them instead of serving.
func TestStartRefusesBadConfig(t *testing.T) {
	e := newEnv(t)
	srv := New(Config{Listen: "127.0.0.1:0", UpstreamCA: t.TempDir() + "/missing.pem"}, e.store, nil)
	if err := srv.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "upstream CA") {
		srv.Shutdown(t.Context())
		t.Fatalf("got %v, want an error naming the upstream CA", err)
	}
}

// TestForceReload checks that a forced reload publishes a snapshot rebuilt
// from the whole store although nothing changed, reusing the certificates
// already parsed, and that requests go on being routed.
func TestForceReload(t *testing.T) {
	up := tagUpstream(t, "up")
	e := newEnv(t)
	e.keypair("a", "a.test")
	e.tenant(tenants.Tenant{Domain: "a.test", Certificate: "a", Upstream: up.URL})
	srv := e.start(Config{})

	before := srv.snap.Load()
	if err := srv.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if srv.snap.Load() != before {
		t.Fatal("a reload with nothing changed published a new snapshot")
	}
	if err := srv.ForceReload(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := srv.snap.Load()
	if after == before || after.generation != before.generation {
		t.Fatalf("forced reload: same snapshot %v, generation %d then %d", after == before, before.generation, after.generation)
	}
	_, certBefore := before.match("a.test")
	if _, certAfter := after.match("a.test"); certAfter != certBefore {
		t.Error("forced reload parsed an unchanged certificate again")
	}
	if res, body := get(t, e.client(true), "https://a.test/", nil); res.StatusCode != 200 || body != "up" {
		t.Errorf("after the forced reload got %d %q", res.StatusCode, body)
	}
}
