package server

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/tenants"
)

// handler answers HTTPS requests: each goes to the upstream of the tenant
// its Host names, or gets the built-in response when there is none.
func (s *Server) handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/-/health", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok\n")
	})
	e.GET("/-/ready", s.ready)
	e.Any("/*", s.serveTenant)
	// Methods Echo does not list (WebDAV's, PURGE, ...) are proxied too.
	e.RouteNotFound("/*", s.serveTenant)
	return e
}

// serveTenant serves one request from the current snapshot. It writes to
// the connection's own ResponseWriter rather than Echo's, so that 1xx
// responses, flushes and upgrades pass through untouched.
func (s *Server) serveTenant(c echo.Context) error {
	r, w := c.Request(), c.Response().Writer
	sn := s.snap.Load()
	host := hostName(r.Host)
	if host == "" && r.TLS != nil {
		// An HTTP/1.0 client may send no Host: the server name it asked
		// for in the handshake names the site instead.
		host = tenants.NormalizeName(r.TLS.ServerName)
	}
	rt := sn.routing.route(host)
	rec := s.recorders.get(w)
	defer s.requestDone(rec, r, rt, time.Now())
	s.serveRoute(rec, r, sn, host, rt)
	return nil
}

// serveRoute answers r along rt, or with 421 when r came on a connection
// whose certificate was chosen for another host.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, sn *snapshot, host string, rt *route) {
	switch {
	case misdirected(sn, r.TLS, host):
		writeStatusPage(w, http.StatusMisdirectedRequest, "")
	case rt.proxy != nil:
		if s.cfg.MaxRequestBody > 0 && r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > s.cfg.MaxRequestBody {
				writeStatusPage(w, http.StatusRequestEntityTooLarge, rt.hsts)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBody)
		}
		rt.proxy.ServeHTTP(w, r)
	case rt.broken != nil:
		s.up.fail(rt, w, r, rt.broken)
	default:
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		if rt.hsts != "" {
			h.Set("Strict-Transport-Security", rt.hsts)
		}
		w.WriteHeader(http.StatusOK)
		w.Write(rt.builtin)
	}
}

// misdirected reports whether a request for host (normalised) came on a
// connection that a new connection for host would not get: its TLS server
// name chose a different certificate, or the certificate does not cover
// host. HTTP/2 clients reuse a connection for every name its certificate
// covers, so Portico answers those requests with 421 and the client retries
// on a connection of the right name.
//
// Requests that name no host are never refused: those on a connection
// without a server name (a client connecting by address) and those whose
// Host is an IP address. Connection reuse happens between names only, and
// a client that addresses Portico by IP expects routing by Host alone.
//
// Within the same name, no work is done; otherwise two index lookups and,
// when both names share a certificate, a check of its names.
func misdirected(sn *snapshot, cs *tls.ConnectionState, host string) bool {
	if cs == nil || cs.ServerName == "" {
		return false
	}
	sni := tenants.NormalizeName(cs.ServerName)
	if sni == host {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return false
	}
	_, served := sn.match(sni)
	if _, wanted := sn.match(host); wanted != served {
		return true
	}
	return served != nil && !covers(sn.dnsNames[served], host)
}

// covers reports whether a certificate for dnsNames is valid for host, by
// crypto/x509's own rule (wildcards, case). It allocates, which is fine on
// this path: only requests whose Host differs from their server name come
// here.
func covers(dnsNames []string, host string) bool {
	leaf := &x509.Certificate{DNSNames: dnsNames}
	return leaf.VerifyHostname(host) == nil
}

// hostName returns the normalised host of a Host header, without its port.
// It does not allocate when the host is already lower-case.
func hostName(hostport string) string {
	host := hostport
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i] // a port, not a colon inside an IPv6 literal
	}
	if len(host) > 1 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return tenants.NormalizeName(host)
}

// redirectHandler sends every plain HTTP request to the same host, path and
// query over HTTPS, on the port the HTTPS listener uses.
func redirectHandler(httpsAddr net.Addr) http.Handler {
	port := ""
	if tcp, ok := httpsAddr.(*net.TCPAddr); ok && tcp.Port != 443 {
		port = strconv.Itoa(tcp.Port)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" {
			http.Error(w, "missing Host header", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") { // an IPv6 literal
			host = "[" + host + "]"
		}
		if port != "" {
			host += ":" + port
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}
