package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portico-proxy/portico/internal/testpki"
	"github.com/portico-proxy/portico/tenants"
)

var screenshotOut = flag.String("screenshot", "",
	"also write the browser test's screenshot of the tenants page to this file (the README's is docs/admin-tenants.png)")

// findChromium returns Debian's chromium (or another Chrome) on PATH.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: the browser test needs Debian's chromium package, which .ci/run installs (apt-get install chromium)")
	return ""
}

// newBrowser starts headless Chromium with a fresh profile and nothing
// that reaches the network by itself.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	var out bytes.Buffer
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(findChromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		// The admin listener serves its self-signed default keypair.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&out),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// Start the browser on a context without a deadline: it lives as long
	// as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v\n%s", err, out.String())
	}
	return ctx
}

// TestBrowserAssignsCertificate drives the pages in real headless Chromium
// the way a person would: log in, import a certificate by pasting PEM, add
// a tenant, choose the certificate for it from the list. Then a real TLS
// handshake to the public listener receives that certificate.
func TestBrowserAssignsCertificate(t *testing.T) {
	h := newHarness(t)
	browser := newBrowser(t)
	ca := testpki.NewCA(t)
	leaf := ca.Issue(t, []string{"shop.example.com", "*.shop.example.com"})

	// run runs steps with a time limit and records the page it ends on,
	// so that the private key check covers what the browser was shown.
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, steps...); err != nil {
			html, _ := chromedp.Run(browser, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v\npage:\n%s", what, err, html)
		}
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatalf("%s: reading the page: %v", what, err)
		}
		h.bodies.Write([]byte(html))
	}
	submit := chromedp.Click(chromedp.CSS("main form.stack button[type=submit]"))

	run("log in",
		chromedp.Navigate(h.base+"/tenants"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), testToken),
		submit,
		chromedp.WaitVisible(chromedp.CSS(`a[href="/tenants/new"]`)),
	)

	run("import by pasting PEM",
		chromedp.Navigate(h.base+"/import"),
		chromedp.WaitVisible(chromedp.CSS("#certificate")),
		chromedp.SendKeys(chromedp.CSS("#name"), "shop"),
		chromedp.SetValue(chromedp.CSS("#certificate"), string(leaf.ChainPEM)),
		chromedp.SetValue(chromedp.CSS("#private_key"), string(leaf.KeyPEM)),
		submit,
		chromedp.WaitVisible(chromedp.CSS("dl.details")),
	)
	kp, err := h.store.KeyPair(h.ctx, "shop")
	if err != nil || !kp.HasKey {
		t.Fatalf("after the import the store holds %+v, %v", kp, err)
	}

	run("add a tenant",
		chromedp.Navigate(h.base+"/tenants/new"),
		chromedp.WaitVisible(chromedp.CSS("#domain")),
		chromedp.SendKeys(chromedp.CSS("#domain"), "shop.example.com"),
		submit,
		chromedp.WaitVisible(chromedp.CSS(`a[href="/tenants/shop.example.com"]`)),
	)

	run("choose its certificate",
		chromedp.Navigate(h.base+"/tenants/shop.example.com"),
		chromedp.WaitVisible(chromedp.CSS("#certificate")),
		chromedp.SetValue(chromedp.CSS("#certificate"), "shop"),
		submit,
		chromedp.WaitVisible(chromedp.CSS(`td a[href="/certificates/shop"]`)),
	)
	if tn, err := h.store.Tenant(h.ctx, "shop.example.com"); err != nil || tn.Certificate != "shop" {
		t.Fatalf("after the edit the store holds %+v, %v", tn, err)
	}

	// The public listener serves it: new handshakes get it once the
	// snapshot is rebuilt (a second or so).
	wantServed(t, h.public.HTTPSAddr().String(), "www.shop.example.com", ca, leaf.Cert.Raw)

	// Two more tenants so that the screenshot shows amber and red.
	soon := ca.Issue(t, []string{"blog.example.org"}, testpki.Options{NotAfter: time.Now().Add(20 * 24 * time.Hour)})
	h.importLeaf("blog", soon)
	expiring := ca.Issue(t, []string{"legacy.example.net"}, testpki.Options{NotAfter: time.Now().Add(4 * 24 * time.Hour)})
	h.importLeaf("legacy", expiring)
	for _, tn := range []tenants.Tenant{
		{Domain: "blog.example.org", Certificate: "blog", Upstream: "http://127.0.0.1:8080"},
		{Domain: "legacy.example.net", Certificate: "legacy", Default: true},
	} {
		if _, err := h.store.CreateTenant(h.ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	run("tenants page",
		chromedp.Navigate(h.base+"/tenants"),
		chromedp.WaitVisible(chromedp.CSS(".expiry-bad")),
	)
	page, _ := chromedp.Run(browser, chromedp.OuterHTML(chromedp.CSS("main")))
	for _, want := range []string{"expiry-ok", "expiry-warn", "expiry-bad", "shop.example.com"} {
		if !strings.Contains(page, want) {
			t.Errorf("tenants page lacks %q", want)
		}
	}
	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if *screenshotOut != "" {
		if err := os.WriteFile(*screenshotOut, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wantServed makes TLS handshakes to addr with server name sni until one
// receives the certificate whose DER is want (verified against ca), and
// fails the test when none has after ten seconds.
func wantServed(t *testing.T, addr, sni string, ca *testpki.CA, want []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, RootCAs: ca.Pool()})
		if err == nil {
			got := conn.ConnectionState().PeerCertificates[0].Raw
			conn.Close()
			if bytes.Equal(got, want) {
				return
			}
			lastErr = nil
		} else {
			lastErr = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no handshake for %s received the assigned certificate within 10s (last error: %v)", sni, lastErr)
}
