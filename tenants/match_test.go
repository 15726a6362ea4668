package tenants

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	ts := []Tenant{
		{Domain: "example.com"},
		{Domain: "shop.example.com"},
		{Domain: "fallback.test", Default: true},
		{Domain: "nokey.example.com"},
		{Domain: "com"},
	}
	usable := func(i int) bool { return ts[i].Domain != "nokey.example.com" }
	ix := NewIndex(ts, usable)

	tests := []struct {
		name, sni, want string
	}{
		{"exact", "example.com", "example.com"},
		{"exact deeper tenant", "shop.example.com", "shop.example.com"},
		{"subdomain", "www.example.com", "example.com"},
		{"deeper subdomain, longest suffix wins", "a.b.shop.example.com", "shop.example.com"},
		{"not on a label boundary", "badexample.com", "com"},
		{"tenant without usable keypair skipped", "nokey.example.com", "example.com"},
		{"below the unusable tenant", "x.nokey.example.com", "example.com"},
		{"no SNI goes to the default", "", "fallback.test"},
		{"unknown name goes to the default", "other.org", "fallback.test"},
		{"single label", "localhost", "fallback.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := "<none>"
			if i := ix.Match(NormalizeName(tt.sni)); i >= 0 {
				got = ts[i].Domain
			}
			if got != tt.want {
				t.Errorf("Match(%q) = %s, want %s", tt.sni, got, tt.want)
			}
		})
	}
}

func TestMatchWithoutDefault(t *testing.T) {
	ts := []Tenant{{Domain: "example.com"}, {Domain: "unusable.test", Default: true}}
	ix := NewIndex(ts, func(i int) bool { return i == 0 })
	for _, name := range []string{"", "other.org", "badexample.com"} {
		if i := ix.Match(name); i != -1 {
			t.Errorf("Match(%q) = %s, want none (the default has no usable keypair)", name, ts[i].Domain)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	tests := map[string]string{
		"Example.COM.": "example.com",
		"example.com":  "example.com",
		"":             "",
		".":            "",
	}
	for in, want := range tests {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { NormalizeName("already.lower.example") }); n != 0 {
		t.Errorf("NormalizeName allocates %v times for a normalised name, want 0", n)
	}
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Example.COM.", "example.com", true},
		{"  shop.example.com ", "shop.example.com", true},
		{"bücher.example", "xn--bcher-kva.example", true},
		{"localhost", "localhost", true},
		{"a-b.example", "a-b.example", true},
		{"", "", false},
		{"*.example.com", "", false},
		{"https://example.com", "", false},
		{"example.com:443", "", false},
		{"192.0.2.1", "", false},
		{"-bad.example", "", false},
		{"a..example", "", false},
		{"under_score.example", "", false},
		{strings.Repeat("a", 64) + ".example", "", false},
		{strings.Repeat("abcdefghi.", 26) + "com", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeDomain(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCheckUpstream(t *testing.T) {
	for raw, ok := range map[string]bool{
		"":                             true,
		"http://127.0.0.1:8080":        true,
		"https://app.internal/prefix/": true,
		"ftp://x":                      false,
		"http://":                      false,
		"http://user:pw@host":          false,
		"http://host/?q=1":             false,
		"127.0.0.1:8080":               false,
		"http://127.0.0.1:99999":       false,
		"http://127.0.0.1:0":           false,
	} {
		if err := CheckUpstream(raw); (err == nil) != ok {
			t.Errorf("CheckUpstream(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

// matchLinear is the matching rule written the slow, obvious way: it is the
// reference the fuzz test holds Index.Match to.
func matchLinear(ts []Tenant, usable func(int) bool, name string) int {
	best, bestLen := -1, -1
	def := -1
	for i, t := range ts {
		if !usable(i) {
			continue
		}
		if t.Default {
			def = i
		}
		if name == "" {
			continue
		}
		if t.Domain == name {
			return i
		}
		if strings.HasSuffix(name, "."+t.Domain) && len(t.Domain) > bestLen {
			best, bestLen = i, len(t.Domain)
		}
	}
	if best >= 0 {
		return best
	}
	return def
}

func FuzzMatch(f *testing.F) {
	f.Add("a.b.example.com", "example.com,b.example.com,other.org", uint8(0b101), uint8(2))
	f.Add("badexample.com", "example.com,com", uint8(0b11), uint8(1))
	f.Add("", "x.y", uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, name, domains string, usableMask, def uint8) {
		var ts []Tenant
		seen := map[string]bool{}
		for _, d := range strings.Split(domains, ",") {
			d = NormalizeName(d)
			if d == "" || seen[d] || len(ts) == 8 {
				continue
			}
			seen[d] = true
			ts = append(ts, Tenant{Domain: d, Default: len(ts) == int(def)})
		}
		usable := func(i int) bool { return usableMask&(1<<i) != 0 }
		name = NormalizeName(name)

		got := NewIndex(ts, usable).Match(name)
		if want := matchLinear(ts, usable, name); got != want {
			t.Fatalf("Match(%q) over %v = %d, want %d", name, ts, got, want)
		}
	})
}
