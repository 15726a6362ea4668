package acme

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libdns/cloudflare"
	"github.com/libdns/libdns"
	"github.com/libdns/rfc2136"
	"github.com/libdns/route53"
)

const testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestRFC2136Provider(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(testSecret+"\n"), 0o600)
	base := func(extra map[string]string) map[string]string {
		env := map[string]string{"RFC2136_NAMESERVER": "127.0.0.1:5353", "RFC2136_TSIG_KEY": "portico",
			"RFC2136_TSIG_SECRET": testSecret}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	tests := []struct {
		name    string
		env     map[string]string
		server  string
		alg     string
		wantErr string
	}{
		{"defaults to hmac-sha256", base(nil), "127.0.0.1:5353", "hmac-sha256.", ""},
		{"algorithm without the dot", base(map[string]string{"RFC2136_TSIG_ALGORITHM": "hmac-sha256"}), "127.0.0.1:5353", "hmac-sha256.", ""},
		{"algorithm with the dot", base(map[string]string{"RFC2136_TSIG_ALGORITHM": "hmac-sha256."}), "127.0.0.1:5353", "hmac-sha256.", ""},
		{"algorithm in upper case", base(map[string]string{"RFC2136_TSIG_ALGORITHM": "HMAC-SHA512"}), "127.0.0.1:5353", "hmac-sha512.", ""},
		{"name server without a port", base(map[string]string{"RFC2136_NAMESERVER": "ns1.example.com"}), "ns1.example.com:53", "hmac-sha256.", ""},
		{"IPv6 name server without a port", base(map[string]string{"RFC2136_NAMESERVER": "[::1]"}), "[::1]:53", "hmac-sha256.", ""},
		{"secret from a file", base(map[string]string{"RFC2136_TSIG_SECRET": "", "RFC2136_TSIG_SECRET_FILE": secretFile}), "127.0.0.1:5353", "hmac-sha256.", ""},
		{"unknown algorithm", base(map[string]string{"RFC2136_TSIG_ALGORITHM": "hmac-sha3"}), "", "", "RFC2136_TSIG_ALGORITHM"},
		{"no name server", base(map[string]string{"RFC2136_NAMESERVER": ""}), "", "", "RFC2136_NAMESERVER is not set"},
		{"bad port", base(map[string]string{"RFC2136_NAMESERVER": "127.0.0.1:99999"}), "", "", "bad port"},
		{"no key", base(map[string]string{"RFC2136_TSIG_KEY": ""}), "", "", "RFC2136_TSIG_KEY is not set"},
		{"secret not base64", base(map[string]string{"RFC2136_TSIG_SECRET": "not base64!"}), "", "", "not valid base64"},
		{"secret file missing", base(map[string]string{"RFC2136_TSIG_SECRET": "", "RFC2136_TSIG_SECRET_FILE": "/nonexistent/secret"}), "", "", "RFC2136_TSIG_SECRET_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewDNSProvider(context.Background(), "rfc2136", envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), "not base64!") {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rp := p.DNSProvider.(*rfc2136.Provider)
			if rp.Server != tt.server || rp.KeyAlg != tt.alg || rp.KeyName != "portico" || rp.Key != testSecret {
				t.Errorf("got server %q alg %q key %q, want %q %q portico", rp.Server, rp.KeyAlg, rp.KeyName, tt.server, tt.alg)
			}
			if strings.Contains(p.String(), testSecret) {
				t.Errorf("String shows the secret: %s", p)
			}
			if len(p.Secrets()) != 1 || p.Secrets()[0] != testSecret {
				t.Errorf("Secrets: got %d values, want the TSIG secret", len(p.Secrets()))
			}
		})
	}
}

func TestRoute53Provider(t *testing.T) {
	// Keep the SDK away from this machine's AWS files.
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	os.WriteFile(filepath.Join(dir, "config"), []byte("[profile dns]\nregion = eu-west-1\n"), 0o600)

	tests := []struct {
		name    string
		env     map[string]string
		region  string
		zone    string
		wantErr string
	}{
		{"static keys, default region", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": testSecret,
			"AWS_HOSTED_ZONE_ID": "Z123"}, "us-east-1", "Z123", ""},
		{"hosted zone with its prefix", map[string]string{"AWS_HOSTED_ZONE_ID": "/hostedzone/Z9", "AWS_REGION": "eu-central-1"}, "eu-central-1", "Z9", ""},
		{"a profile that exists, with its region", map[string]string{"AWS_PROFILE": "dns"}, "eu-west-1", "", ""},
		{"a profile that does not", map[string]string{"AWS_PROFILE": "nope"}, "", "", "loading AWS configuration"},
		{"key id without secret", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}, "", "", "must be set together"},
		{"bad retries", map[string]string{"AWS_MAX_RETRIES": "many"}, "", "", "AWS_MAX_RETRIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewDNSProvider(context.Background(), "route53", envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rp := p.DNSProvider.(*route53.Provider)
			if rp.Region != tt.region || rp.HostedZoneID != tt.zone || !rp.WaitForRoute53Sync {
				t.Errorf("got region %q zone %q sync %v, want %q %q true", rp.Region, rp.HostedZoneID, rp.WaitForRoute53Sync, tt.region, tt.zone)
			}
			if strings.Contains(p.String(), testSecret) {
				t.Errorf("String shows the secret: %s", p)
			}
		})
	}
}

func TestCloudflareProvider(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		token   string
		wantErr string
	}{
		{"lego name", map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "tok1"}, "tok1", ""},
		{"short name", map[string]string{"CF_DNS_API_TOKEN": "tok2"}, "tok2", ""},
		{"lego name wins", map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "tok1", "CF_DNS_API_TOKEN": "tok2"}, "tok1", ""},
		{"none", map[string]string{}, "", "CLOUDFLARE_DNS_API_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewDNSProvider(context.Background(), "cloudflare", envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.DNSProvider.(*cloudflare.Provider).APIToken; got != tt.token {
				t.Errorf("token: got %q, want %q", got, tt.token)
			}
			if p.String() != "cloudflare" || len(p.Secrets()) != 1 {
				t.Errorf("String %q, %d secrets", p, len(p.Secrets()))
			}
		})
	}
}

func TestUnknownProvider(t *testing.T) {
	_, err := NewDNSProvider(context.Background(), "bind", envOf(nil))
	if err == nil || !strings.Contains(err.Error(), "rfc2136") {
		t.Errorf("got %v, want an error listing the known providers", err)
	}
}

// rewriteTransport sends every request to a test server instead of the
// host it names.
type rewriteTransport struct{ target *url.URL }

func (rt rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = rt.target.Scheme, rt.target.Host
	return http.DefaultTransport.RoundTrip(req)
}

// TestCloudflareProviderTalksToTheAPI runs the provider set up from the
// environment against a fake Cloudflare API on loopback: the zone lookup
// carries the zone token, the record creation the DNS token.
func TestCloudflareProviderTalksToTheAPI(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/client/v4/zones" &&
			strings.TrimSuffix(r.URL.Query().Get("name"), ".") == "example.com":
			io.WriteString(w, `{"success":true,"result":[{"id":"zone1","name":"example.com"}]}`)
		case r.Method == http.MethodPost && r.URL.Path == "/client/v4/zones/zone1/dns_records":
			var rec map[string]any
			json.NewDecoder(r.Body).Decode(&rec)
			rec["id"] = "rec1"
			json.NewEncoder(w).Encode(map[string]any{"success": true, "result": rec})
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"success":false,"errors":[{"code":7003,"message":"no route"}]}`)
		}
	}))
	defer api.Close()
	target, _ := url.Parse(api.URL)

	p, err := NewDNSProvider(context.Background(), "cloudflare",
		envOf(map[string]string{"CF_DNS_API_TOKEN": "dns-token", "CF_ZONE_API_TOKEN": "zone-token"}))
	if err != nil {
		t.Fatal(err)
	}
	p.DNSProvider.(*cloudflare.Provider).HTTPClient = &http.Client{Transport: rewriteTransport{target}}

	recs, err := p.AppendRecords(context.Background(), "example.com.",
		[]libdns.Record{libdns.TXT{Name: "_acme-challenge.shop", Text: "token-value", TTL: time.Minute}})
	if err != nil {
		t.Fatalf("%v; requests:\n%s", err, strings.Join(seen, "\n"))
	}
	if len(recs) != 1 || recs[0].RR().Data != "token-value" {
		t.Errorf("created %+v", recs)
	}
	want := []string{
		"GET /client/v4/zones Bearer zone-token",
		"POST /client/v4/zones/zone1/dns_records Bearer dns-token",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
