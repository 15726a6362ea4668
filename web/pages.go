package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pages holds the parsed templates, one set per page, each with the
// shared layout.
type pages struct {
	byName map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"pathEscape": url.PathEscape,
	"join":       strings.Join,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"seconds": func(d time.Duration) string { return d.Round(time.Second).String() },
}

func newPages() (*pages, error) {
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range names {
		base := path.Base(name)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(templateFuncs).ParseFS(assets, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("parsing template %s: %w", base, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// render writes the page name with data, or an error when the page does
// not exist or fails to render (nothing is written then).
func (p *pages) render(c echo.Context, status int, name string, data pageData) error {
	t, ok := p.byName[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// pageData is what every page's template gets: the layout's needs and the
// page's own Data.
type pageData struct {
	Title    string
	Nav      string // which main navigation entry is current
	LoggedIn bool
	CSRF     string
	Flash    string
	Data     any
}

// pageData fills the layout's part for the request's session.
func (s *Server) pageData(c echo.Context, title string, data any) pageData {
	pd := pageData{Title: title, Data: data}
	sess, ok := c.Get(ctxSession).(session)
	if !ok {
		sess, ok = s.currentSession(c)
	}
	if ok {
		pd.CSRF = sess.csrf
		pd.LoggedIn = sess.tokenHash != nil
		if pd.LoggedIn {
			pd.Flash = s.sessions.takeFlash(sess.id)
		}
	}
	return pd
}

// page renders a page for a logged-in session.
func (s *Server) page(c echo.Context, status int, name, title, nav string, data any) error {
	pd := s.pageData(c, title, data)
	pd.Nav = nav
	return s.pages.render(c, status, name, pd)
}

// redirectWith leaves a message for the next page and redirects there.
func (s *Server) redirectWith(c echo.Context, to, msg string) error {
	s.sessions.setFlash(sessionOf(c).id, msg)
	return c.Redirect(http.StatusSeeOther, to)
}

// expiry is how a page shows a certificate's remaining life: red under 7
// days, amber under 30, and always in words as well as colour.
type expiry struct {
	Known bool
	Days  int
	Class string // expiry-bad, expiry-warn or expiry-ok
	Text  string
	Date  string
}

func newExpiry(notAfter, now time.Time) expiry {
	if notAfter.IsZero() {
		return expiry{}
	}
	days := daysLeft(notAfter, now)
	e := expiry{Known: true, Days: days, Class: "expiry-ok", Date: notAfter.UTC().Format("2006-01-02")}
	switch {
	case days < 7:
		e.Class = "expiry-bad"
	case days < 30:
		e.Class = "expiry-warn"
	}
	switch {
	case !now.Before(notAfter):
		e.Text = "expired"
	case days == 0:
		e.Text = "expires today"
	case days == 1:
		e.Text = "1 day left"
	default:
		e.Text = fmt.Sprintf("%d days left", days)
	}
	return e
}

// staticFiles serves the embedded stylesheet.
func staticFiles() echo.HandlerFunc {
	sub, _ := fs.Sub(assets, "static")
	h := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return echo.WrapHandler(h)
}

// pageRoutes registers the login, logout and every page behind a session.
func (s *Server) pageRoutes(e *echo.Echo) {
	e.GET("/static/*", staticFiles())
	e.GET("/login", s.loginForm)
	e.POST("/login", s.login)

	page := func(method, path string, h echo.HandlerFunc) { e.Add(method, path, h, s.requireSession) }
	page(http.MethodGet, "/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/tenants") })
	page(http.MethodPost, "/logout", s.logout)
	page(http.MethodGet, "/tenants", s.tenantsPage)
	page(http.MethodGet, "/tenants/new", s.newTenantPage)
	page(http.MethodPost, "/tenants", s.createTenantForm)
	page(http.MethodGet, "/tenants/:domain", s.editTenantPage)
	page(http.MethodPost, "/tenants/:domain", s.updateTenantForm)
	page(http.MethodPost, "/tenants/:domain/delete", s.deleteTenantForm)
	page(http.MethodGet, "/certificates", s.certificatesPage)
	page(http.MethodGet, "/certificates/:name", s.certificatePage)
	page(http.MethodGet, "/certificates/:name/chain.pem", s.chainPEM)
	page(http.MethodPost, "/certificates/:name/delete", s.deleteCertificateForm)
	page(http.MethodGet, "/import", s.importPage)
	page(http.MethodPost, "/import", s.importForm)
	page(http.MethodGet, "/generate", s.generatePage)
	page(http.MethodPost, "/generate", s.generateForm)
	page(http.MethodGet, "/discovery", s.discoveryPage)
	page(http.MethodGet, "/status", s.statusPage)
}
