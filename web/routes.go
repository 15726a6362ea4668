package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxFormSize bounds a page's form, uploads included.
const maxFormSize = 2 << 20

// routes builds the admin listener's Echo instance: health and metrics
// without authentication, the API behind the bearer token, the pages
// behind a session.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("admin handler panicked", "path", c.Path(), "err", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(securityHeaders)
	e.Use(middleware.BodyLimit("2M"))

	e.GET("/-/health", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/-/ready", s.ready)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.deps.Metrics, promhttp.HandlerOpts{
		ErrorLog: slogPrintln{s.log}, ErrorHandling: promhttp.ContinueOnError,
	})))
	e.GET("/api/v1/openapi.json", serveOpenAPI)

	// Routes get their middleware one by one rather than through an Echo
	// group, whose catch-all routes would turn 405s into 404s.
	api := func(method, path string, h echo.HandlerFunc) { e.Add(method, "/api/v1"+path, h, s.requireToken) }
	api(http.MethodGet, "/status", s.apiStatus)
	api(http.MethodGet, "/tenants", s.apiListTenants)
	api(http.MethodPost, "/tenants", s.apiCreateTenant)
	api(http.MethodGet, "/tenants/:domain", s.apiGetTenant)
	api(http.MethodPatch, "/tenants/:domain", s.apiUpdateTenant)
	api(http.MethodDelete, "/tenants/:domain", s.apiDeleteTenant)
	api(http.MethodGet, "/certificates", s.apiListCertificates)
	api(http.MethodPost, "/certificates", s.apiImportCertificate)
	api(http.MethodPost, "/certificates/generate", s.apiGenerateCertificate)
	api(http.MethodGet, "/certificates/:name", s.apiGetCertificate)
	api(http.MethodDelete, "/certificates/:name", s.apiDeleteCertificate)
	api(http.MethodGet, "/certificates/:name/chain.pem", s.chainPEM)

	s.pageRoutes(e)
	return e
}

// securityHeaders keeps pages out of frames and caches and limits what
// they may load to this origin.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// ready answers /-/ready: 200 once the store is readable and the public
// server has published a snapshot, 503 with the reason before.
func (s *Server) ready(c echo.Context) error {
	if s.deps.Snapshots == nil {
		return c.String(http.StatusServiceUnavailable, "not ready: no public server\n")
	}
	if err := s.deps.Snapshots.Ready(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
