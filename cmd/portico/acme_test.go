package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

func TestACMEFlagsConfig(t *testing.T) {
	t.Setenv("RFC2136_NAMESERVER", "127.0.0.1:5353")
	t.Setenv("RFC2136_TSIG_KEY", "portico")
	t.Setenv("RFC2136_TSIG_SECRET", "c2VjcmV0")
	t.Setenv("RFC2136_TSIG_ALGORITHM", "")

	tests := []struct {
		name    string
		flags   ACMEFlags
		on      bool
		ca      string
		wantErr string
	}{
		{"no provider: off", ACMEFlags{}, false, "", ""},
		{"staging", ACMEFlags{DNSProvider: "rfc2136", Staging: true}, true, certmagic.LetsEncryptStagingCA, ""},
		{"own CA", ACMEFlags{DNSProvider: "rfc2136", CA: "https://ca.internal/dir"}, true, "https://ca.internal/dir", ""},
		{"staging and another CA", ACMEFlags{DNSProvider: "rfc2136", Staging: true, CA: "https://ca.internal/dir"}, false, "", "--acme-staging"},
		{"missing CA root file", ACMEFlags{DNSProvider: "rfc2136", CARoot: []string{filepath.Join(t.TempDir(), "none.pem")}}, false, "", "--acme-ca-root"},
		{"unknown provider", ACMEFlags{DNSProvider: "bind"}, false, "", "unknown ACME DNS provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, on, err := tt.flags.config(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if on != tt.on || cfg.CA != tt.ca {
				t.Errorf("got on %v, CA %q; want %v, %q", on, cfg.CA, tt.on, tt.ca)
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	got := splitList([]string{"127.0.0.1:53, 10.0.0.1", "", "ns.example"})
	want := []string{"127.0.0.1:53", "10.0.0.1", "ns.example"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestACMEReportForAdmin checks what the admin listener shows of ACME: every
// tenant marked for ACME, read from the store.
func TestACMEReportForAdmin(t *testing.T) {
	ctx := context.Background()
	store, err := certstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for _, tn := range []tenants.Tenant{{Domain: "shop.example.com", ACME: true}, {Domain: "plain.example.com"}} {
		if _, err := store.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	got, err := acmeReport{store}.ACMETenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Domain != "shop.example.com" || got[0].KeyPair != "" {
		t.Errorf("ACME report %+v, want only shop.example.com, with no keypair yet", got)
	}
}
