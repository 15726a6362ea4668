package tenants

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/net/idna"
)

// maxDomainLen is the longest host name DNS allows, without the final dot.
const maxDomainLen = 253

var toASCII = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(true))

// NormalizeDomain returns d as a tenant's domain: lower-cased, without a
// trailing dot, an internationalised name in its ASCII (punycode) form. It
// rejects anything that is not a host name, such as an address, a URL or a
// wildcard.
func NormalizeDomain(d string) (string, error) {
	in := d
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", fmt.Errorf("domain %q: empty", in)
	}
	switch {
	case net.ParseIP(d) != nil:
		return "", fmt.Errorf("domain %q: an IP address is not a host name", in)
	case strings.Contains(d, "://") || strings.Contains(d, "/"):
		return "", fmt.Errorf("domain %q: give a host name, not a URL", in)
	case strings.Contains(d, "*"):
		return "", fmt.Errorf("domain %q: no wildcard needed: a tenant serves its domain and every name under it", in)
	case strings.Contains(d, ":"):
		return "", fmt.Errorf("domain %q: a port is not part of a domain", in)
	}
	ascii, err := toASCII.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("domain %q: not a valid host name: %w", in, err)
	}
	ascii = strings.ToLower(ascii)
	if err := checkHostName(ascii); err != nil {
		return "", fmt.Errorf("domain %q: %w", in, err)
	}
	return ascii, nil
}

// checkHostName enforces RFC 1123 host name syntax on a lower-case ASCII
// name: labels of 1 to 63 letters, digits and hyphens, not starting or
// ending with a hyphen.
func checkHostName(name string) error {
	if len(name) > maxDomainLen {
		return fmt.Errorf("longer than %d characters", maxDomainLen)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("empty label")
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q longer than 63 characters", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("label %q has the character %q", label, c)
			}
		}
	}
	return nil
}

// NormalizeName prepares a TLS server name or an HTTP host (without port)
// for matching: lower-case and without a trailing dot. It does not allocate
// when name is already in that form.
func NormalizeName(name string) string {
	name = strings.TrimSuffix(name, ".")
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}
