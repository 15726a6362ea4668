package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
	"github.com/portico-proxy/portico/web"
)

// apiEndpoints is one request to every /api/v1 operation, with a valid
// body where it needs one.
var apiEndpoints = []struct{ method, path, body string }{
	{"GET", "/api/v1/status", ""},
	{"GET", "/api/v1/tenants", ""},
	{"POST", "/api/v1/tenants", `{"domain":"auth.example.com"}`},
	{"GET", "/api/v1/tenants/shop.example.com", ""},
	{"PATCH", "/api/v1/tenants/shop.example.com", `{"acme":true}`},
	{"DELETE", "/api/v1/tenants/shop.example.com", ""},
	{"GET", "/api/v1/certificates", ""},
	{"POST", "/api/v1/certificates", `{"name":"x","certificate":"x"}`},
	{"POST", "/api/v1/certificates/generate", `{"name":"gen","domains":["gen.example.com"]}`},
	{"GET", "/api/v1/certificates/shop", ""},
	{"DELETE", "/api/v1/certificates/shop", ""},
	{"GET", "/api/v1/certificates/shop/chain.pem", ""},
}

func TestAPIRefusesWithoutToken(t *testing.T) {
	// Room for every wrong token below; TestAPIRateLimitsFailedTokens
	// covers the limit.
	h := newHarness(t, func(c *web.Config, _ *web.Deps) { c.AuthFailures = 1000 })
	h.importLeaf("shop", testpki.NewCA(t).Issue(t, []string{"shop.example.com"}))
	if _, err := h.store.CreateTenant(h.ctx, tenants.Tenant{Domain: "shop.example.com", Certificate: "shop"}); err != nil {
		t.Fatal(err)
	}
	before := h.state()
	for _, ep := range apiEndpoints {
		for _, auth := range []struct {
			name   string
			header string
		}{
			{"no header", ""},
			{"wrong token", "Bearer not-the-token-at-all"},
			{"basic scheme", "Basic " + testToken},
		} {
			t.Run(ep.method+" "+ep.path+"/"+auth.name, func(t *testing.T) {
				var body any
				if ep.body != "" {
					body = ep.body
				}
				resp, b := h.do(ep.method, ep.path, body, func(r *http.Request) {
					r.Header.Del("Authorization")
					if auth.header != "" {
						r.Header.Set("Authorization", auth.header)
					}
				})
				wantProblem(t, resp, b, http.StatusUnauthorized)
				if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
				}
			})
		}
	}
	h.wantUnchanged(before)
}

func TestAPIRateLimitsFailedTokens(t *testing.T) {
	h := newHarness(t)
	var last *http.Response
	var body []byte
	for i := 0; i < 11; i++ {
		last, body = h.do("GET", "/api/v1/tenants", nil, withToken("wrong-token"))
	}
	wantProblem(t, last, body, http.StatusTooManyRequests, "too many failed")
	if last.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The right token is refused too while the address is blocked, so
	// guessing cannot continue.
	resp, body := h.do("GET", "/api/v1/tenants", nil)
	wantProblem(t, resp, body, http.StatusTooManyRequests)
	if !strings.Contains(h.logs.String(), "admin API token refused") {
		t.Error("failed attempts were not logged")
	}
	if strings.Contains(h.logs.String(), "wrong-token") || strings.Contains(h.logs.String(), testToken) {
		t.Error("a token appears in the log")
	}
}

func TestAPITenants(t *testing.T) {
	h := newHarness(t)
	h.importLeaf("shop", testpki.NewCA(t).Issue(t, []string{"shop.example.com"}))

	// Create, with a domain that needs normalising.
	resp, body := h.do("POST", "/api/v1/tenants", map[string]any{
		"domain": "Shop.Example.COM.", "certificate": "shop", "upstream": "http://127.0.0.1:3000",
		"hsts_max_age": 31536000, "default": true,
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d, want 201: %s", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); loc != "/api/v1/tenants/shop.example.com" {
		t.Errorf("Location %q, want /api/v1/tenants/shop.example.com", loc)
	}
	created := decode[map[string]any](t, body)
	if created["domain"] != "shop.example.com" || created["certificate"] != "shop" || created["hsts_max_age"] != float64(31536000) {
		t.Errorf("created tenant %v", created)
	}

	// Get and list.
	resp, body = h.do("GET", "/api/v1/tenants/shop.example.com", nil)
	if resp.StatusCode != http.StatusOK || decode[map[string]any](t, body)["default"] != true {
		t.Errorf("get: %d %s", resp.StatusCode, body)
	}
	resp, body = h.do("GET", "/api/v1/tenants", nil)
	if list := decode[[]map[string]any](t, body); resp.StatusCode != http.StatusOK || len(list) != 1 {
		t.Errorf("list: %d %s", resp.StatusCode, body)
	}

	// Patch keeps what is left out.
	resp, body = h.do("PATCH", "/api/v1/tenants/shop.example.com", map[string]any{"acme": true, "domain": "shop.example.com"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %s", resp.StatusCode, body)
	}
	stored, err := h.store.Tenant(h.ctx, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !stored.ACME || stored.Certificate != "shop" || !stored.Default || stored.HSTSMaxAge != 365*24*time.Hour {
		t.Errorf("after patch the store holds %+v", stored)
	}

	// Refusals: each leaves the store as it was.
	tests := []struct {
		name         string
		method, path string
		body         any
		opts         []reqOpt
		status       int
		detail       []string
	}{
		{"bad JSON", "POST", "/api/v1/tenants", `{"domain": "a.example.com",`, nil, 400, []string{"not valid JSON"}},
		{"not an object", "POST", "/api/v1/tenants", `["a.example.com"]`, nil, 400, []string{"JSON object"}},
		{"two values", "POST", "/api/v1/tenants", `{"domain":"a.example.com"} {}`, nil, 400, []string{"more than one"}},
		{"empty body", "POST", "/api/v1/tenants", "", nil, 400, []string{"empty"}},
		{"unknown field", "POST", "/api/v1/tenants", `{"domain":"a.example.com","certficate":"shop"}`, nil, 400, []string{`unknown field "certficate"`}},
		{"wrong type", "POST", "/api/v1/tenants", `{"domain":"a.example.com","default":"yes"}`, nil, 400, []string{`"default"`, "boolean"}},
		{"not JSON content", "POST", "/api/v1/tenants", `{"domain":"a.example.com"}`, []reqOpt{withContentType("text/plain")}, 415, []string{"application/json"}},
		{"domain not a host name", "POST", "/api/v1/tenants", map[string]any{"domain": "https://a.example.com/"}, nil, 422, []string{"domain", "not a URL"}},
		{"domain an address", "POST", "/api/v1/tenants", map[string]any{"domain": "192.0.2.1"}, nil, 422, []string{"IP address"}},
		{"wildcard domain", "POST", "/api/v1/tenants", map[string]any{"domain": "*.example.com"}, nil, 422, []string{"domain"}},
		{"second default", "POST", "/api/v1/tenants", map[string]any{"domain": "other.example.com", "default": true}, nil, 409, []string{"already the default"}},
		{"second default by patch", "PATCH", "/api/v1/tenants/other.example.com", map[string]any{"default": true}, nil, 404, []string{"other.example.com"}},
		{"duplicate", "POST", "/api/v1/tenants", map[string]any{"domain": "shop.example.com"}, nil, 409, []string{"shop.example.com"}},
		{"no such keypair", "POST", "/api/v1/tenants", map[string]any{"domain": "b.example.com", "certificate": "nope"}, nil, 422, []string{"certificate", "no keypair"}},
		{"bad upstream", "POST", "/api/v1/tenants", map[string]any{"domain": "b.example.com", "upstream": "ftp://x"}, nil, 422, []string{"upstream", "scheme"}},
		{"negative hsts", "PATCH", "/api/v1/tenants/shop.example.com", map[string]any{"hsts_max_age": -1}, nil, 422, []string{"hsts_max_age"}},
		{"rename", "PATCH", "/api/v1/tenants/shop.example.com", map[string]any{"domain": "new.example.com"}, nil, 422, []string{"cannot be renamed"}},
		{"patch unknown field", "PATCH", "/api/v1/tenants/shop.example.com", `{"acmee":false}`, nil, 400, []string{`"acmee"`}},
		{"patch no such keypair", "PATCH", "/api/v1/tenants/shop.example.com", map[string]any{"certificate": "nope"}, nil, 422, []string{"certificate"}},
		{"get missing", "GET", "/api/v1/tenants/missing.example.com", nil, nil, 404, []string{"missing.example.com"}},
		{"get bad domain", "GET", "/api/v1/tenants/a_b..c", nil, nil, 400, []string{"a_b..c"}},
		{"delete missing", "DELETE", "/api/v1/tenants/missing.example.com", nil, nil, 404, []string{"missing.example.com"}},
		{"method not allowed", "PUT", "/api/v1/tenants/shop.example.com", map[string]any{}, nil, 405, nil},
		{"unknown path", "GET", "/api/v1/nothing", nil, nil, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.state()
			resp, body := h.do(tt.method, tt.path, tt.body, tt.opts...)
			wantProblem(t, resp, body, tt.status, tt.detail...)
			h.wantUnchanged(before)
		})
	}

	// Delete.
	resp, body = h.do("DELETE", "/api/v1/tenants/shop.example.com", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d %s", resp.StatusCode, body)
	}
	if _, err := h.store.Tenant(h.ctx, "shop.example.com"); err == nil {
		t.Error("the tenant is still stored after delete")
	}
}

func TestAPICertificates(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.com", "www.shop.example.com"})
	other := ca.Issue(t, []string{"other.example.com"})

	// Import, then import the same again: unchanged, nothing written.
	in := map[string]any{"name": "shop", "certificate": string(leaf.ChainPEM), "private_key": string(leaf.KeyPEM)}
	resp, body := h.do("POST", "/api/v1/certificates", in)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	res := decode[struct {
		Outcome     string         `json:"outcome"`
		Certificate map[string]any `json:"certificate"`
	}](t, body)
	if res.Outcome != "created" || res.Certificate["source"] != "api" || res.Certificate["has_key"] != true {
		t.Errorf("import result %+v", res)
	}
	before := h.state()
	resp, body = h.do("POST", "/api/v1/certificates", in)
	if resp.StatusCode != http.StatusOK || decode[map[string]any](t, body)["outcome"] != "unchanged" {
		t.Errorf("second import: %d %s", resp.StatusCode, body)
	}
	h.wantUnchanged(before)

	// Get and list describe it; no key in sight.
	resp, body = h.do("GET", "/api/v1/certificates/shop", nil)
	got := decode[map[string]any](t, body)
	if resp.StatusCode != http.StatusOK || got["fingerprint"] == "" || got["key_type"] != "ecdsa-p256" ||
		got["issuer"] != "CN=Portico Test CA" || len(got["dns_names"].([]any)) != 2 {
		t.Errorf("get: %d %v", resp.StatusCode, got)
	}
	resp, body = h.do("GET", "/api/v1/certificates", nil)
	if list := decode[[]map[string]any](t, body); resp.StatusCode != http.StatusOK || len(list) != 2 {
		t.Errorf("list: %d %s", resp.StatusCode, body)
	}

	// The chain downloads as PEM, leaf first, and never the key.
	resp, body = h.do("GET", "/api/v1/certificates/shop/chain.pem", nil)
	if resp.StatusCode != http.StatusOK || string(body) != string(leaf.ChainPEM) {
		t.Errorf("chain.pem: %d, body equals the chain: %v", resp.StatusCode, string(body) == string(leaf.ChainPEM))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-pem-file" {
		t.Errorf("chain.pem Content-Type %q", ct)
	}

	// Generate, as the CLI does.
	resp, body = h.do("POST", "/api/v1/certificates/generate", map[string]any{
		"name": "gen", "domains": []string{"Gen.Example.com", "*.gen.example.com", "192.0.2.7"}, "days": 30, "key_type": "ed25519"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("generate: %d %s", resp.StatusCode, body)
	}
	gen, err := h.store.KeyPair(h.ctx, "gen")
	if err != nil {
		t.Fatal(err)
	}
	if gen.Source != certstore.SourceSelfSigned || gen.KeyType != "ed25519" || !gen.HasKey ||
		strings.Join(gen.DNSNames, ",") != "gen.example.com,*.gen.example.com" ||
		gen.NotAfter.Sub(time.Now()) > 30*24*time.Hour || gen.NotAfter.Sub(time.Now()) < 29*24*time.Hour {
		t.Errorf("generated keypair %+v", gen)
	}

	// A tenant uses shop, so it cannot be deleted.
	if _, err := h.store.CreateTenant(h.ctx, tenants.Tenant{Domain: "shop.example.com", Certificate: "shop"}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		detail       []string
	}{
		{"mismatched pair", "POST", "/api/v1/certificates",
			map[string]any{"name": "shop", "certificate": string(leaf.ChainPEM), "private_key": string(other.KeyPEM)},
			422, []string{"private_key", "does not match"}},
		{"no certificate", "POST", "/api/v1/certificates",
			map[string]any{"name": "new", "certificate": "", "private_key": string(other.KeyPEM)}, 422, []string{"certificate"}},
		{"junk certificate", "POST", "/api/v1/certificates",
			map[string]any{"name": "new", "certificate": "hello"}, 422, []string{"certificate", "no PEM"}},
		{"encrypted key", "POST", "/api/v1/certificates",
			map[string]any{"name": "new", "certificate": string(other.ChainPEM),
				"private_key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"},
			422, []string{"private_key", "encrypted"}},
		{"bad name", "POST", "/api/v1/certificates",
			map[string]any{"name": "a/b", "certificate": string(other.ChainPEM)}, 422, []string{"name", "slash"}},
		{"acme name", "POST", "/api/v1/certificates",
			map[string]any{"name": "acme:x", "certificate": string(other.ChainPEM)}, 422, []string{"ACME"}},
		{"import unknown field", "POST", "/api/v1/certificates",
			`{"name":"new","certificate":"x","key":"y"}`, 400, []string{`"key"`}},
		{"import bad JSON", "POST", "/api/v1/certificates", `{"name":`, 400, []string{"JSON"}},
		{"generate no names", "POST", "/api/v1/certificates/generate",
			map[string]any{"name": "g2", "domains": []string{}}, 422, []string{"domains"}},
		{"generate bad name and days and key type", "POST", "/api/v1/certificates/generate",
			map[string]any{"name": "g2", "domains": []string{"bad domain"}, "days": 0, "key_type": "dsa"},
			422, []string{"domains", "days", "key_type"}},
		{"generate unknown field", "POST", "/api/v1/certificates/generate",
			`{"name":"g2","domains":["a.example.com"],"validity":3}`, 400, []string{`"validity"`}},
		{"delete in use", "DELETE", "/api/v1/certificates/shop", nil, 409, []string{"shop.example.com"}},
		{"delete the fallback", "DELETE", "/api/v1/certificates/Portico%20Self-signed%20Certificate", nil, 409, []string{"Portico itself"}},
		{"get missing", "GET", "/api/v1/certificates/missing", nil, 404, []string{"missing"}},
		{"chain missing", "GET", "/api/v1/certificates/missing/chain.pem", nil, 404, []string{"missing"}},
		{"delete missing", "DELETE", "/api/v1/certificates/missing", nil, 404, []string{"missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := h.state()
			resp, body := h.do(tt.method, tt.path, tt.body)
			wantProblem(t, resp, body, tt.status, tt.detail...)
			h.wantUnchanged(before)
		})
	}

	// A name with a space and other characters works through escaping.
	resp, _ = h.do("GET", "/api/v1/certificates/Portico%20Self-signed%20Certificate", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("get the default keypair by its escaped name: %d", resp.StatusCode)
	}

	resp, body = h.do("DELETE", "/api/v1/certificates/gen", nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %d %s", resp.StatusCode, body)
	}
	if _, err := h.store.KeyPair(h.ctx, "gen"); err == nil {
		t.Error("the keypair is still stored after delete")
	}
}

// fakeDiscovery and fakeACME stand in for the discovery and ACME
// subsystems, which are built on other branches; they return fixed reports
// so the test shows the admin listener passes them on.
type fakeDiscovery struct{ report web.DiscoveryReport }

func (f fakeDiscovery) LastDiscovery() (web.DiscoveryReport, bool) { return f.report, true }

type fakeACME struct{ tenants []web.ACMETenant }

func (f fakeACME) ACMETenants(context.Context) ([]web.ACMETenant, error) { return f.tenants, nil }

func TestAPIStatus(t *testing.T) {
	t.Run("not configured", func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.store.CreateTenant(h.ctx, tenants.Tenant{Domain: "acme.example.com", ACME: true}); err != nil {
			t.Fatal(err)
		}
		resp, body := h.do("GET", "/api/v1/status", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status: %d %s", resp.StatusCode, body)
		}
		var st struct {
			Version  string  `json:"version"`
			Uptime   float64 `json:"uptime_seconds"`
			Snapshot struct {
				Published  bool   `json:"published"`
				Generation uint64 `json:"generation"`
			} `json:"snapshot"`
			Discovery struct {
				Configured bool `json:"configured"`
			} `json:"discovery"`
			ACME struct {
				Configured bool `json:"configured"`
				Tenants    []struct {
					Domain string `json:"domain"`
					State  string `json:"state"`
				} `json:"tenants"`
			} `json:"acme"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Version != "test" || st.Uptime < 0 || !st.Snapshot.Published || st.Snapshot.Generation == 0 ||
			st.Discovery.Configured || st.ACME.Configured {
			t.Errorf("status %s", body)
		}
		if len(st.ACME.Tenants) != 1 || st.ACME.Tenants[0].Domain != "acme.example.com" || st.ACME.Tenants[0].State != "not configured" {
			t.Errorf("ACME tenants %+v, want acme.example.com not configured", st.ACME.Tenants)
		}
	})

	t.Run("configured", func(t *testing.T) {
		finished := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
		disc := fakeDiscovery{web.DiscoveryReport{Root: "/certs", Finished: finished,
			KeyPairs: []web.DiscoveredKeyPair{{Name: "shop", Path: "/certs/live/shop/fullchain.pem", Outcome: "updated"}},
			Skipped:  []web.SkippedFile{{Path: "/certs/bad.pem", Reason: "key does not match"}}}}
		acme := fakeACME{[]web.ACMETenant{{Domain: "acme.example.com", LastResult: "failure", LastError: "DNS timeout"}}}
		h := newHarness(t, func(_ *web.Config, d *web.Deps) { d.Discovery, d.ACME = disc, acme })
		if _, err := h.store.CreateTenant(h.ctx, tenants.Tenant{Domain: "acme.example.com", ACME: true}); err != nil {
			t.Fatal(err)
		}
		resp, body := h.do("GET", "/api/v1/status", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status: %d %s", resp.StatusCode, body)
		}
		for _, want := range []string{`"configured":true,"last_pass":{"root":"/certs"`, `"reason":"key does not match"`,
			`"last_error":"DNS timeout"`, `"state":"failing"`, `"finished":"2026-12-01T03:00:00Z"`} {
			if !strings.Contains(string(body), want) {
				t.Errorf("status lacks %s: %s", want, body)
			}
		}
		// The discovery page shows the same report to people.
		page := h.loggedInGet("/discovery")
		for _, want := range []string{"/certs/bad.pem", "key does not match", "/certs/live/shop/fullchain.pem"} {
			if !strings.Contains(page, want) {
				t.Errorf("discovery page lacks %q", want)
			}
		}
	})
}

// TestAPIImportWarnsOfExpiredCertificate: an expired certificate is stored
// (a renewal may follow) but the answer says so.
func TestAPIImportWarnsOfExpiredCertificate(t *testing.T) {
	h := newHarness(t)
	old := testpki.NewCA(t).Issue(t, []string{"old.example.com"}, testpki.Options{
		NotBefore: time.Now().Add(-60 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	resp, body := h.do("POST", "/api/v1/certificates", map[string]any{
		"name": "old", "certificate": string(old.ChainPEM), "private_key": string(old.KeyPEM)})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	res := decode[struct {
		Warnings []string `json:"warnings"`
	}](t, body)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "expired") {
		t.Errorf("warnings %q, want one saying the certificate expired", res.Warnings)
	}
}
