package server

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/tenants"
)

// handler answers HTTPS requests. Until tenants have upstreams it names the
// tenant the request's host matched.
func (s *Server) handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/-/health", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok\n")
	})
	e.Any("/*", func(c echo.Context) error {
		t, _ := s.snap.Load().match(hostName(c.Request().Host))
		if t == nil {
			return c.String(http.StatusOK, "Portico: no tenant matched this host\n")
		}
		return c.String(http.StatusOK, "Portico: tenant "+t.Domain+"\n")
	})
	return e
}

// hostName returns the normalised host of a Host header, without its port.
func hostName(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
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
