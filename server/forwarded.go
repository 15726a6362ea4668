package server

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// forwarding writes the headers that tell an upstream who the client is and
// what it asked for: X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host
// and Forwarded (RFC 7239). What a client sends in these headers is kept
// only when the client is a trusted proxy; from anyone else it is replaced,
// so a client cannot pose as another address. A forwarding is immutable and
// safe for concurrent use.
type forwarding struct {
	trusted []netip.Prefix
}

// trusts reports whether the client at ip (an address without port or
// brackets) is a trusted proxy.
func (f *forwarding) trusts(ip string) bool {
	if len(f.trusted) == 0 || ip == "" {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range f.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// set writes the forwarding headers of out, the request to the upstream,
// from in, the request Portico received. ReverseProxy has already removed
// Forwarded and X-Forwarded-{For,Host,Proto} from out; set also removes the
// other X-Forwarded-* headers and X-Real-Ip when in's client is not trusted.
func (f *forwarding) set(in *http.Request, out http.Header) {
	client := clientIP(in.RemoteAddr)
	trusted := f.trusts(client)
	if !trusted {
		dropForwarding(out)
	}

	proto := "http"
	if in.TLS != nil {
		proto = "https"
	}
	xff, xfProto, xfHost := client, proto, in.Host
	element := forwardedElement(client, in.Host, proto)
	if trusted {
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			xff = joinList(prior, client)
		}
		if v := in.Header.Get("X-Forwarded-Proto"); v != "" {
			xfProto = v
		}
		if v := in.Header.Get("X-Forwarded-Host"); v != "" {
			xfHost = v
		}
		if prior := in.Header["Forwarded"]; len(prior) > 0 {
			element = joinList(prior, element)
		}
	}

	// One backing array for the four values: one allocation, not four.
	// Each header gets a full slice, so an append to one cannot touch the
	// others.
	vals := [...]string{xff, xfProto, xfHost, element}
	v := vals[:]
	if xff != "" {
		out["X-Forwarded-For"] = v[0:1:1]
	}
	out["X-Forwarded-Proto"] = v[1:2:2]
	if xfHost != "" {
		out["X-Forwarded-Host"] = v[2:3:3]
	}
	out["Forwarded"] = v[3:4:4]
}

// dropForwarding removes every header a client could use to pose as another
// address or scheme: X-Forwarded-*, Forwarded and the other client-address
// headers applications trust, also when spelled with underscores, which
// many servers (CGI, PHP, Rack, Gunicorn) read as the same header.
func dropForwarding(h http.Header) {
	for k := range h {
		if isForwardingHeader(k) {
			delete(h, k)
		}
	}
}

// clientAddressHeaders are the headers besides X-Forwarded-* through which
// applications learn a client's address.
var clientAddressHeaders = []string{"forwarded", "x-real-ip", "true-client-ip", "cf-connecting-ip", "x-client-ip"}

func isForwardingHeader(k string) bool {
	k = strings.ToLower(strings.ReplaceAll(k, "_", "-"))
	return strings.HasPrefix(k, "x-forwarded-") || slices.Contains(clientAddressHeaders, k)
}

// clientIP returns the address part of a RemoteAddr ("192.0.2.1:1234",
// "[2001:db8::1]:1234"), or "" when it has none.
func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return ""
	}
	return host
}

// joinList appends last to the comma-separated values of prior.
func joinList(prior []string, last string) string {
	if last == "" {
		return strings.Join(prior, ", ")
	}
	return strings.Join(prior, ", ") + ", " + last
}

// forwardedElement returns this hop's element of a Forwarded header:
// for=client;host=host;proto=proto, quoted where RFC 7239 needs it.
func forwardedElement(client, host, proto string) string {
	var b strings.Builder
	b.Grow(len(client) + len(host) + 32)
	b.WriteString("for=")
	switch {
	case client == "":
		b.WriteString("unknown")
	case strings.Contains(client, ":"): // IPv6: quoted, in brackets
		b.WriteString(`"[`)
		b.WriteString(client)
		b.WriteString(`]"`)
	default:
		b.WriteString(client)
	}
	if host != "" {
		b.WriteString(";host=")
		writeForwardedValue(&b, host)
	}
	b.WriteString(";proto=")
	b.WriteString(proto)
	return b.String()
}

// writeForwardedValue writes v as an RFC 7230 token when it is one, and as
// a quoted string otherwise (a host with a port has a colon).
func writeForwardedValue(b *strings.Builder, v string) {
	if isToken(v) {
		b.WriteString(v)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
}

func isToken(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
