package tenants

import (
	"fmt"
	"net/url"
	"strconv"
)

// CheckUpstream reports why raw cannot be a tenant's upstream, or nil. An
// upstream is an http:// or https:// URL with a host, an optional port and
// an optional path prefix, and nothing else.
func CheckUpstream(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("upstream %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("upstream %q: scheme must be http or https", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("upstream %q: no host", raw)
	case u.User != nil:
		return fmt.Errorf("upstream %q: user information is not allowed", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("upstream %q: query and fragment are not allowed", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("upstream %q: port must be a number from 1 to 65535", raw)
		}
	}
	return nil
}
