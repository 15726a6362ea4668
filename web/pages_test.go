package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
	"github.com/portico-proxy/portico/web"
)

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the first form in page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", page)
	}
	return m[1]
}

// get fetches a page with the harness's cookies (no bearer token).
func (h *harness) get(path string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.ctx, "GET", h.base+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, body := h.send(req)
	return resp, string(body)
}

// post submits a form with the harness's cookies.
func (h *harness) post(path string, form url.Values) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.ctx, "POST", h.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body := h.send(req)
	return resp, string(body)
}

// login logs the harness's client in through the login form.
func (h *harness) login() {
	h.t.Helper()
	_, page := h.get("/login")
	resp, body := h.post("/login", url.Values{"csrf": {csrfOf(h.t, page)}, "token": {testToken}, "next": {"/tenants"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/tenants" {
		h.t.Fatalf("login: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// loggedInGet logs in when needed and returns the page at path, which must
// answer 200.
func (h *harness) loggedInGet(path string) string {
	h.t.Helper()
	resp, page := h.get(path)
	if resp.StatusCode == http.StatusSeeOther {
		h.login()
		resp, page = h.get(path)
	}
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return page
}

func TestLoginCookieAndCSRF(t *testing.T) {
	h := newHarness(t)

	resp, _ := h.get("/tenants")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=%2Ftenants") {
		t.Fatalf("a page without a session: %d to %q, want a redirect to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, page := h.get("/login")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "portico_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v, want HttpOnly, Secure and SameSite=Strict", cookie)
	}
	for _, want := range []string{`<label for="token">`, `id="token"`, `lang="en"`} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	csrf := csrfOf(t, page)

	t.Run("login without csrf", func(t *testing.T) {
		resp, _ := h.post("/login", url.Values{"token": {testToken}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		resp, body := h.post("/login", url.Values{"csrf": {csrf}, "token": {"nope-nope-nope-nope"}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not the admin token") {
			t.Errorf("status %d, want 401 with a message", resp.StatusCode)
		}
	})
	t.Run("open redirect", func(t *testing.T) {
		resp, _ := h.post("/login", url.Values{"csrf": {csrf}, "token": {testToken}, "next": {"//evil.example/"}})
		if loc := resp.Header.Get("Location"); loc != "/tenants" {
			t.Errorf("redirected to %q after login, want /tenants", loc)
		}
	})

	// Logged in now; a form without the session's token is refused and
	// changes nothing.
	before := h.state()
	for _, form := range []url.Values{
		{"domain": {"a.example.com"}},
		{"domain": {"a.example.com"}, "csrf": {"forged"}},
	} {
		resp, _ := h.post("/tenants", form)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("form with csrf %q: status %d, want 403", form.Get("csrf"), resp.StatusCode)
		}
	}
	h.wantUnchanged(before)

	// Another browser's session token does not work here either.
	other := newHarnessClient(h)
	_, otherPage := other.get("/login")
	resp, _ = h.post("/tenants", url.Values{"domain": {"a.example.com"}, "csrf": {csrfOf(t, otherPage)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form with another session's csrf: status %d, want 403", resp.StatusCode)
	}
	h.wantUnchanged(before)
}

// newHarnessClient is the same Portico seen from a second browser.
func newHarnessClient(h *harness) *harness {
	c := *h
	c.client = newClient(h.t)
	return &c
}

func TestRotatedTokenEndsSessions(t *testing.T) {
	h := newHarness(t)
	h.login()
	if resp, _ := h.get("/tenants"); resp.StatusCode != http.StatusOK {
		t.Fatalf("logged in: %d", resp.StatusCode)
	}
	newToken, err := web.RotateToken(h.ctx, h.store, h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := h.get("/tenants"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after rotation the old session still works: %d", resp.StatusCode)
	}
	if resp, _ := h.do("GET", "/api/v1/tenants", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after rotation the old token still works: %d", resp.StatusCode)
	}
	if resp, _ := h.do("GET", "/api/v1/tenants", nil, withToken(newToken)); resp.StatusCode != http.StatusOK {
		t.Errorf("the new token is refused: %d", resp.StatusCode)
	}
}

func TestPagesFlow(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.com"})
	page := h.loggedInGet("/import")

	// Import by upload, the key as a separate file.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", csrfOf(t, page))
	mw.WriteField("name", "shop")
	fw, _ := mw.CreateFormFile("certificate_file", "fullchain.pem")
	fw.Write(leaf.ChainPEM)
	fw, _ = mw.CreateFormFile("private_key_file", "privkey.pem")
	fw.Write(leaf.KeyPEM)
	mw.Close()
	req, _ := http.NewRequestWithContext(h.ctx, "POST", h.base+"/import", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, _ := h.send(req)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/certificates/shop" {
		t.Fatalf("upload import: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if kp, err := h.store.KeyPair(h.ctx, "shop"); err != nil || !kp.HasKey || kp.Source != "api" {
		t.Fatalf("after upload the store holds %+v, %v", kp, err)
	}

	// A mismatched paste is refused, the form shows why, and the key is
	// not echoed back.
	other := ca.Issue(t, []string{"other.example.com"})
	before := h.state()
	resp, body := h.post("/import", url.Values{"csrf": {csrfOf(t, page)}, "name": {"shop"},
		"certificate": {string(leaf.ChainPEM)}, "private_key": {string(other.KeyPEM)}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "does not match") ||
		!strings.Contains(body, `role="alert"`) {
		t.Errorf("mismatched import: %d", resp.StatusCode)
	}
	h.wantUnchanged(before)

	// Create a tenant, then give it the certificate from the list.
	resp, body = h.post("/tenants", url.Values{"csrf": {csrfOf(t, page)}, "domain": {"Shop.Example.com"}, "hsts_max_age": {"0"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create tenant: %d %s", resp.StatusCode, body)
	}
	edit := h.loggedInGet("/tenants/shop.example.com")
	if !strings.Contains(edit, `<option value="shop">`) {
		t.Errorf("edit page does not offer keypair shop")
	}
	resp, _ = h.post("/tenants/shop.example.com", url.Values{"csrf": {csrfOf(t, edit)}, "certificate": {"shop"},
		"hsts_max_age": {"600"}, "upstream": {"http://127.0.0.1:9"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update tenant: %d", resp.StatusCode)
	}
	tn, err := h.store.Tenant(h.ctx, "shop.example.com")
	if err != nil || tn.Certificate != "shop" || tn.HSTSMaxAge.Seconds() != 600 || tn.Upstream != "http://127.0.0.1:9" {
		t.Fatalf("after edit the store holds %+v, %v", tn, err)
	}

	// The tenants page shows it with its certificate and expiry.
	list := h.loggedInGet("/tenants")
	for _, want := range []string{"Saved tenant shop.example.com.", `href="/certificates/shop"`, "expiry-ok", "89 days left"} {
		if !strings.Contains(list, want) {
			t.Errorf("tenants page lacks %q", want)
		}
	}

	// Bad input in the form: the form again with the reason, nothing stored.
	before = h.state()
	resp, body = h.post("/tenants", url.Values{"csrf": {csrfOf(t, page)}, "domain": {"not a domain"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "not a valid host name") {
		t.Errorf("bad domain form: %d", resp.StatusCode)
	}
	if _, err := h.store.CreateTenant(h.ctx, tenants.Tenant{Domain: "def.example.com", Default: true}); err != nil {
		t.Fatal(err)
	}
	before = h.state()
	resp, body = h.post("/tenants/shop.example.com", url.Values{"csrf": {csrfOf(t, page)}, "certificate": {"shop"}, "default": {"on"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already the default") {
		t.Errorf("second default form: %d", resp.StatusCode)
	}
	h.wantUnchanged(before)

	// Deleting the certificate while in use is refused with the users named.
	resp, body = h.post("/certificates/shop/delete", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "shop.example.com") {
		t.Errorf("delete in use: %d", resp.StatusCode)
	}
	h.wantUnchanged(before)

	// Other pages render.
	for _, p := range []string{"/certificates", "/certificates/shop", "/generate", "/discovery", "/status"} {
		page := h.loggedInGet(p)
		if !strings.Contains(page, "<h1>") {
			t.Errorf("%s has no heading", p)
		}
	}
	if !strings.Contains(h.loggedInGet("/discovery"), "not configured") {
		t.Error("discovery page does not say discovery is not configured")
	}

	// Generate through the form, then delete the tenant and the keypair.
	resp, _ = h.post("/generate", url.Values{"csrf": {csrfOf(t, page)}, "name": {"gen"}, "domains": {"gen.example.com, *.gen.example.com"},
		"days": {"10"}, "key_type": {"ecdsa-p384"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("generate form: %d", resp.StatusCode)
	}
	if !strings.Contains(h.loggedInGet("/certificates"), "expiry-warn") {
		t.Error("a keypair with 10 days left is not amber")
	}
	resp, _ = h.post("/tenants/shop.example.com/delete", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("delete tenant: %d", resp.StatusCode)
	}
	resp, _ = h.post("/certificates/shop/delete", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("delete keypair: %d", resp.StatusCode)
	}
	if _, err := h.store.KeyPair(h.ctx, "shop"); err == nil {
		t.Error("keypair shop still stored")
	}

	// Logging out ends the session.
	resp, _ = h.post("/logout", url.Values{"csrf": {csrfOf(t, page)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := h.get("/tenants"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to login", resp.StatusCode)
	}
}
