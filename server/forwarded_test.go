package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestForwardedElement(t *testing.T) {
	tests := []struct {
		name, client, host, proto, want string
	}{
		{"ipv4", "192.0.2.1", "a.test", "https", "for=192.0.2.1;host=a.test;proto=https"},
		{"ipv6 is quoted in brackets", "2001:db8::1", "a.test", "https", `for="[2001:db8::1]";host=a.test;proto=https`},
		{"host with port is quoted", "192.0.2.1", "a.test:8443", "https", `for=192.0.2.1;host="a.test:8443";proto=https`},
		{"unknown client", "", "a.test", "https", "for=unknown;host=a.test;proto=https"},
		{"no host", "192.0.2.1", "", "http", "for=192.0.2.1;proto=http"},
		{"quote and backslash escaped", "192.0.2.1", `a"b\c`, "https", `for=192.0.2.1;host="a\"b\\c";proto=https`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forwardedElement(tt.client, tt.host, tt.proto); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string // the prefixes, space-separated
		wantErr string
	}{
		{"addresses and prefixes", []string{"10.0.0.0/8", " 192.0.2.7 ", "2001:db8::/32", ""}, "10.0.0.0/8 192.0.2.7/32 2001:db8::/32", ""},
		{"host bits are masked", []string{"10.1.2.3/8"}, "10.0.0.0/8", ""},
		{"mapped IPv4", []string{"::ffff:10.0.0.0/104", "::ffff:192.0.2.1"}, "10.0.0.0/8 192.0.2.1/32", ""},
		{"bad entries named", []string{"10.0.0.0/33", "example.com", "10.0.0.1"}, "", `"10.0.0.0/33"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrefixes(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "example.com") {
					t.Fatalf("got error %v, want one naming %s and example.com", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if strings.Join(s, " ") != tt.want {
				t.Errorf("got %v, want %s", s, tt.want)
			}
		})
	}
}

func TestForwardingTrusts(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarding{trusted: trusted}
	tests := []struct {
		ip   string
		want bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"2001:db8::5", true},
		{"fe80::1%eth0", false},
		{"11.0.0.1", false},
		{"", false},
		{"not-an-ip", false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			if got := f.trusts(tt.ip); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if (&forwarding{}).trusts("10.1.2.3") {
		t.Error("with no trusted proxies, 10.1.2.3 is trusted")
	}
}

// TestForwardingSet checks the outbound headers for a trusted and an
// untrusted client directly.
func TestForwardingSet(t *testing.T) {
	trusted, _ := ParsePrefixes([]string{"10.0.0.0/8"})
	f := &forwarding{trusted: trusted}
	for _, tt := range []struct {
		name   string
		remote string
		want   map[string]string
	}{
		{"untrusted", "192.0.2.9:4000", map[string]string{
			"X-Forwarded-For": "192.0.2.9", "X-Forwarded-Host": "a.test", "X-Forwarded-Proto": "https",
			"Forwarded": "for=192.0.2.9;host=a.test;proto=https", "X-Forwarded-Prefix": "", "X-Real-Ip": "",
		}},
		{"trusted", "10.0.0.2:4000", map[string]string{
			"X-Forwarded-For": "203.0.113.1, 198.51.100.1, 10.0.0.2", "X-Forwarded-Host": "shop.test",
			"X-Forwarded-Proto": "https", "Forwarded": "for=203.0.113.1, for=10.0.0.2;host=a.test;proto=https",
			"X-Forwarded-Prefix": "/p", "X-Real-Ip": "203.0.113.1",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := httptest.NewRequest(http.MethodGet, "https://a.test/", nil)
			in.RemoteAddr = tt.remote
			in.Header = http.Header{
				"X-Forwarded-For":    {"203.0.113.1", "198.51.100.1"},
				"X-Forwarded-Host":   {"shop.test"},
				"X-Forwarded-Prefix": {"/p"},
				"X-Real-Ip":          {"203.0.113.1"},
				"Forwarded":          {"for=203.0.113.1"},
			}
			out := in.Header.Clone()
			f.set(in, out)
			for k, want := range tt.want {
				if got := strings.Join(out[k], ", "); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}
