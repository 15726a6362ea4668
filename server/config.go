package server

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/tenants"
)

// Config holds the server's settings. The zero value of a field means its
// default, as Defaults says; Validate reports every unusable field at once.
type Config struct {
	// Listen is the HTTPS address, such as ":8443".
	Listen string
	// HTTPListen is the plain HTTP address that redirects to HTTPS; empty
	// turns it off.
	HTTPListen string
	// ShutdownTimeout bounds how long Shutdown waits for requests in flight.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds how long a client may take to send a
	// request's headers (and a PROXY protocol header, when that is on).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a client's keep-alive connection after this long
	// without a request.
	IdleTimeout time.Duration

	// DefaultUpstream is the URL requests go to for tenants without an
	// upstream of their own and for hosts no tenant covers; empty means
	// Portico's built-in response. See tenants.CheckUpstream.
	DefaultUpstream string
	// UpstreamCA is a PEM file of CA certificates trusted, besides the
	// system's, for https:// upstreams; empty for the system's alone.
	UpstreamCA string
	// UpstreamDialTimeout bounds connecting to an upstream, its TLS
	// handshake included.
	UpstreamDialTimeout time.Duration
	// UpstreamResponseTimeout bounds the wait for an upstream's response
	// headers once the request is sent; the body may then take as long as
	// it needs (streams, downloads).
	UpstreamResponseTimeout time.Duration
	// MaxRequestBody, when positive, refuses request bodies larger than
	// this many bytes with 413; zero leaves them unlimited.
	MaxRequestBody int64

	// TrustedProxies lists the addresses (IPs or CIDR prefixes) of proxies
	// in front of Portico whose X-Forwarded-* and Forwarded headers are
	// kept. From any other client those headers are replaced.
	TrustedProxies []string
	// ProxyProtocol makes the HTTPS listener require a PROXY protocol (v1
	// or v2) header on every connection and take the client address from
	// it. With TrustedProxies set, only those addresses may connect.
	ProxyProtocol bool

	// DisableAccessLog turns off the one log line per request.
	DisableAccessLog bool

	// Metrics, when set, receives the server's Prometheus collectors
	// (handshakes, requests, snapshot reloads); see metrics.go.
	Metrics prometheus.Registerer
}

// Defaults returns the configuration used for unset fields.
func Defaults() Config {
	return Config{
		Listen:                  ":8443",
		HTTPListen:              ":8080",
		ShutdownTimeout:         30 * time.Second,
		ReadHeaderTimeout:       10 * time.Second,
		IdleTimeout:             2 * time.Minute,
		UpstreamDialTimeout:     10 * time.Second,
		UpstreamResponseTimeout: 60 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	setDefault(&c.Listen, d.Listen)
	setDefault(&c.ShutdownTimeout, d.ShutdownTimeout)
	setDefault(&c.ReadHeaderTimeout, d.ReadHeaderTimeout)
	setDefault(&c.IdleTimeout, d.IdleTimeout)
	setDefault(&c.UpstreamDialTimeout, d.UpstreamDialTimeout)
	setDefault(&c.UpstreamResponseTimeout, d.UpstreamResponseTimeout)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports every setting that cannot be used, joined.
func (c Config) Validate() error {
	var errs []error
	if err := tenants.CheckUpstream(c.DefaultUpstream); err != nil {
		errs = append(errs, fmt.Errorf("default upstream: %w", err))
	}
	if _, err := ParsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted proxies: %w", err))
	}
	if c.UpstreamCA != "" {
		if _, err := os.Stat(c.UpstreamCA); err != nil {
			errs = append(errs, fmt.Errorf("upstream CA: %w", err))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"shutdown timeout", c.ShutdownTimeout},
		{"read header timeout", c.ReadHeaderTimeout},
		{"idle timeout", c.IdleTimeout},
		{"upstream dial timeout", c.UpstreamDialTimeout},
		{"upstream response timeout", c.UpstreamResponseTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", d.name, d.v))
		}
	}
	if c.MaxRequestBody < 0 {
		errs = append(errs, fmt.Errorf("max request body: %d is negative", c.MaxRequestBody))
	}
	return errors.Join(errs...)
}

// ParsePrefixes parses addresses ("10.0.0.7", "2001:db8::1") and CIDR
// prefixes ("10.0.0.0/8") into prefixes; a bare address becomes a prefix
// of its full length. Empty entries are skipped.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%q: not an address or CIDR prefix", s))
				continue
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: not an address or CIDR prefix", s))
			continue
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, errors.Join(errs...)
}
