package server

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
)

// listen binds addr and, when the PROXY protocol is on, wraps the listener
// so that every connection must start with a PROXY v1 or v2 header whose
// source address becomes the connection's remote address.
func (s *Server) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	if !s.cfg.ProxyProtocol {
		return ln, nil
	}
	return &proxyproto.Listener{
		Listener:          ln,
		ConnPolicy:        s.proxyProtocolPolicy,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
	}, nil
}

// proxyProtocolPolicy requires the PROXY header on every connection. With
// trusted proxies configured, a connection from any other address is closed
// at once: only the load balancer may say who the client is.
func (s *Server) proxyProtocolPolicy(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
	if len(s.trusted) == 0 {
		return proxyproto.REQUIRE, nil
	}
	ap, err := netip.ParseAddrPort(o.Upstream.String())
	if err == nil {
		a := ap.Addr().Unmap().WithZone("")
		for _, p := range s.trusted {
			if p.Contains(a) {
				return proxyproto.REQUIRE, nil
			}
		}
	}
	s.log.Debug("refused connection from outside the trusted proxies", "remote_addr", o.Upstream.String())
	return proxyproto.REJECT, fmt.Errorf("%w: %s", proxyproto.ErrInvalidUpstream, o.Upstream)
}
