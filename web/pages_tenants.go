package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// tenantRow is one line of the tenants page.
type tenantRow struct {
	tenants.Tenant
	Expiry  expiry
	HasKey  bool
	Missing bool // the named keypair does not exist
}

func (s *Server) tenantsPage(c echo.Context) error {
	ctx := c.Request().Context()
	ts, err := s.deps.Store.Tenants(ctx)
	if err != nil {
		return err
	}
	byName, err := s.keyPairsByName(ctx)
	if err != nil {
		return err
	}
	rows := make([]tenantRow, 0, len(ts))
	for _, t := range ts {
		r := tenantRow{Tenant: t}
		if t.Certificate != "" {
			k, ok := byName[t.Certificate]
			r.Missing = !ok
			r.HasKey = k.HasKey
			r.Expiry = newExpiry(k.NotAfter, s.now())
		}
		rows = append(rows, r)
	}
	return s.page(c, http.StatusOK, "tenants.html", "Tenants", "tenants", rows)
}

func (s *Server) keyPairsByName(ctx context.Context) (map[string]certstore.KeyPair, error) {
	kps, err := s.deps.Store.KeyPairs(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]certstore.KeyPair, len(kps))
	for _, k := range kps {
		out[k.Name] = k
	}
	return out, nil
}

// tenantForm is the add and edit form's data.
type tenantForm struct {
	New          bool
	Domain       string
	Default      bool
	Certificate  string
	Upstream     string
	UpstreamHost bool
	HSTS         string // seconds, as typed
	ACME         bool
	Options      []certOption
	Problem      *problem
}

// certOption is one keypair in the form's certificate list.
type certOption struct {
	Name, Label string
}

func (s *Server) certOptions(ctx context.Context) ([]certOption, error) {
	kps, err := s.deps.Store.KeyPairs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]certOption, 0, len(kps))
	for _, k := range kps {
		label := k.Name
		if len(k.DNSNames) > 0 {
			label += " — " + strings.Join(k.DNSNames, ", ")
		}
		label += ", until " + k.NotAfter.Format("2006-01-02")
		if !k.HasKey {
			label += " (no key: cannot serve)"
		}
		out = append(out, certOption{k.Name, label})
	}
	return out, nil
}

func (s *Server) newTenantPage(c echo.Context) error {
	return s.showTenantForm(c, http.StatusOK, tenantForm{New: true, HSTS: "0"})
}

func (s *Server) editTenantPage(c echo.Context) error {
	d, err := domainParam(c)
	if err != nil {
		return err
	}
	t, err := s.deps.Store.Tenant(c.Request().Context(), d)
	if err != nil {
		return err
	}
	return s.showTenantForm(c, http.StatusOK, tenantForm{
		Domain: t.Domain, Default: t.Default, Certificate: t.Certificate, Upstream: t.Upstream,
		UpstreamHost: t.UpstreamHost, HSTS: strconv.FormatInt(int64(t.HSTSMaxAge/time.Second), 10), ACME: t.ACME,
	})
}

func (s *Server) showTenantForm(c echo.Context, status int, f tenantForm) error {
	opts, err := s.certOptions(c.Request().Context())
	if err != nil {
		return err
	}
	f.Options = opts
	title := "Edit " + f.Domain
	if f.New {
		title = "Add a tenant"
	}
	return s.page(c, status, "tenant.html", title, "tenants", f)
}

// readTenantForm reads the form's fields; hsts is checked here because
// the form carries it as text.
func readTenantForm(c echo.Context) (tenantForm, tenants.Tenant, error) {
	f := tenantForm{
		Domain:       strings.TrimSpace(c.FormValue("domain")),
		Default:      c.FormValue("default") != "",
		Certificate:  c.FormValue("certificate"),
		Upstream:     strings.TrimSpace(c.FormValue("upstream")),
		UpstreamHost: c.FormValue("upstream_host") != "",
		HSTS:         strings.TrimSpace(c.FormValue("hsts_max_age")),
		ACME:         c.FormValue("acme") != "",
	}
	t := tenants.Tenant{Domain: f.Domain, Default: f.Default, Certificate: f.Certificate,
		Upstream: f.Upstream, UpstreamHost: f.UpstreamHost, ACME: f.ACME}
	if f.HSTS != "" {
		n, err := strconv.ParseInt(f.HSTS, 10, 64)
		if err != nil || n < 0 {
			return f, t, &tenants.FieldError{Field: "hsts_max_age", Reason: "must be a whole number of seconds, 0 or more"}
		}
		t.HSTSMaxAge = time.Duration(n) * time.Second
	}
	return f, t, nil
}

func (s *Server) createTenantForm(c echo.Context) error {
	f, t, err := readTenantForm(c)
	f.New = true
	if err == nil {
		t, err = s.createTenant(c, t)
	}
	if err != nil {
		return s.formFailed(c, err, func(p *problem) error {
			f.Problem = p
			return s.showTenantForm(c, p.Status, f)
		})
	}
	return s.redirectWith(c, "/tenants", "Added tenant "+t.Domain+".")
}

func (s *Server) updateTenantForm(c echo.Context) error {
	d, err := domainParam(c)
	if err != nil {
		return err
	}
	f, in, err := readTenantForm(c)
	f.Domain = d
	var t tenants.Tenant
	if err == nil {
		t, err = s.updateTenant(c, d, func(t *tenants.Tenant) {
			t.Default, t.Certificate, t.Upstream = in.Default, in.Certificate, in.Upstream
			t.UpstreamHost, t.HSTSMaxAge, t.ACME = in.UpstreamHost, in.HSTSMaxAge, in.ACME
		})
	}
	if err != nil {
		return s.formFailed(c, err, func(p *problem) error {
			f.Problem = p
			return s.showTenantForm(c, p.Status, f)
		})
	}
	return s.redirectWith(c, "/tenants", "Saved tenant "+t.Domain+".")
}

func (s *Server) deleteTenantForm(c echo.Context) error {
	d, err := domainParam(c)
	if err != nil {
		return err
	}
	if err := s.deleteTenant(c, d); err != nil {
		return err
	}
	return s.redirectWith(c, "/tenants", "Deleted tenant "+d+".")
}

// formFailed shows a form again with the problem when err is the user's to
// fix (a 4xx), and hands anything else to the error handler.
func (s *Server) formFailed(c echo.Context, err error, again func(*problem) error) error {
	p := toProblem(err)
	if p.Status >= 500 || p.Status == http.StatusNotFound {
		return err
	}
	return again(p)
}
