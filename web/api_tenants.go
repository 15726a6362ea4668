package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/tenants"
)

// tenantJSON is a tenant as the API shows it. The names match the CLI's
// `tenant list --json`.
type tenantJSON struct {
	Domain       string    `json:"domain"`
	Default      bool      `json:"default"`
	Certificate  string    `json:"certificate"`
	Upstream     string    `json:"upstream"`
	UpstreamHost bool      `json:"upstream_host"`
	HSTSMaxAge   int64     `json:"hsts_max_age"` // seconds; 0 for no header
	ACME         bool      `json:"acme"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toTenantJSON(t tenants.Tenant) tenantJSON {
	return tenantJSON{t.Domain, t.Default, t.Certificate, t.Upstream, t.UpstreamHost,
		int64(t.HSTSMaxAge / time.Second), t.ACME, t.CreatedAt, t.UpdatedAt}
}

// tenantCreate is the body of POST /api/v1/tenants.
type tenantCreate struct {
	Domain       string `json:"domain"`
	Default      bool   `json:"default"`
	Certificate  string `json:"certificate"`
	Upstream     string `json:"upstream"`
	UpstreamHost bool   `json:"upstream_host"`
	HSTSMaxAge   int64  `json:"hsts_max_age"`
	ACME         bool   `json:"acme"`
}

// tenantPatch is the body of PATCH /api/v1/tenants/{domain}: fields left
// out keep their value, as with `portico tenant update`.
type tenantPatch struct {
	Domain       *string `json:"domain"` // may repeat the domain; renaming is refused
	Default      *bool   `json:"default"`
	Certificate  *string `json:"certificate"`
	Upstream     *string `json:"upstream"`
	UpstreamHost *bool   `json:"upstream_host"`
	HSTSMaxAge   *int64  `json:"hsts_max_age"`
	ACME         *bool   `json:"acme"`
}

// apply changes t as p says.
func (p tenantPatch) apply(t *tenants.Tenant) {
	setIf(&t.Default, p.Default)
	setIf(&t.Certificate, p.Certificate)
	setIf(&t.Upstream, p.Upstream)
	setIf(&t.UpstreamHost, p.UpstreamHost)
	setIf(&t.ACME, p.ACME)
	if p.HSTSMaxAge != nil {
		t.HSTSMaxAge = time.Duration(*p.HSTSMaxAge) * time.Second
	}
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// domainParam returns the path's domain, normalised, or a 400 problem.
func domainParam(c echo.Context) (string, error) {
	raw := pathParam(c, "domain")
	d, err := tenants.NormalizeDomain(raw)
	if err != nil {
		return "", &problem{Status: http.StatusBadRequest, Type: "bad-domain", Title: "Invalid domain", Detail: err.Error()}
	}
	return d, nil
}

func (s *Server) apiListTenants(c echo.Context) error {
	ts, err := s.deps.Store.Tenants(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]tenantJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, toTenantJSON(t))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiGetTenant(c echo.Context) error {
	d, err := domainParam(c)
	if err != nil {
		return err
	}
	t, err := s.deps.Store.Tenant(c.Request().Context(), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTenantJSON(t))
}

func (s *Server) apiCreateTenant(c echo.Context) error {
	var in tenantCreate
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	t, err := s.createTenant(c, tenants.Tenant{
		Domain: in.Domain, Default: in.Default, Certificate: in.Certificate, Upstream: in.Upstream,
		UpstreamHost: in.UpstreamHost, HSTSMaxAge: time.Duration(in.HSTSMaxAge) * time.Second, ACME: in.ACME,
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/tenants/"+t.Domain)
	return c.JSON(http.StatusCreated, toTenantJSON(t))
}

// createTenant normalises and validates t, then stores it. The API and the
// pages share it.
func (s *Server) createTenant(c echo.Context, t tenants.Tenant) (tenants.Tenant, error) {
	d, err := tenants.NormalizeDomain(t.Domain)
	if err != nil {
		return t, &tenants.FieldError{Field: "domain", Reason: err.Error()}
	}
	t.Domain = d
	if err := t.Validate(); err != nil {
		return t, err
	}
	t, err = s.deps.Store.CreateTenant(c.Request().Context(), t)
	if err != nil {
		return t, err
	}
	s.log.Info("tenant added through the admin listener", "tenant", t.Domain, "keypair", t.Certificate)
	return t, nil
}

func (s *Server) apiUpdateTenant(c echo.Context) error {
	d, err := domainParam(c)
	if err != nil {
		return err
	}
	var p tenantPatch
	if err := decodeJSON(c, &p); err != nil {
		return err
	}
	if p.Domain != nil {
		if n, err := tenants.NormalizeDomain(*p.Domain); err != nil || n != d {
			return &tenants.FieldError{Field: "domain", Reason: fmt.Sprintf(
				"a tenant cannot be renamed (from %s to %q); add the new one and delete the old", d, *p.Domain)}
		}
	}
	t, err := s.updateTenant(c, d, p.apply)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toTenantJSON(t))
}

// updateTenant edits the tenant for domain in one transaction, refusing a
// result that does not validate. The API and the pages share it.
func (s *Server) updateTenant(c echo.Context, domain string, change func(*tenants.Tenant)) (tenants.Tenant, error) {
	t, err := s.deps.Store.UpdateTenant(c.Request().Context(), domain, func(t *tenants.Tenant) error {
		change(t)
		return t.Validate()
	})
	if err != nil {
		return t, err
	}
	s.log.Info("tenant changed through the admin listener", "tenant", t.Domain, "keypair", t.Certificate)
	return t, nil
}

func (s *Server) apiDeleteTenant(c echo.Context) error {
	d, err := domainParam(c)
	if err != nil {
		return err
	}
	if err := s.deleteTenant(c, d); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) deleteTenant(c echo.Context, domain string) error {
	if err := s.deps.Store.DeleteTenant(c.Request().Context(), domain); err != nil {
		return err
	}
	s.log.Info("tenant deleted through the admin listener", "tenant", domain)
	return nil
}
