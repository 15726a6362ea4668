package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/portico-proxy/portico/internal/testpki"
)

// TestMetricsExpiryGauge scrapes /metrics over the admin listener and finds
// each keypair's expiry as Unix seconds, labelled with its name and
// source.
func TestMetricsExpiryGauge(t *testing.T) {
	h := newHarness(t)
	notAfter := time.Now().Add(17 * 24 * time.Hour).Truncate(time.Second)
	leaf := testpki.NewCA(t).Issue(t, []string{"shop.example.com"}, testpki.Options{NotAfter: notAfter})
	resp, body := h.do("POST", "/api/v1/certificates", map[string]any{
		"name": "shop", "certificate": string(leaf.ChainPEM), "private_key": string(leaf.KeyPEM)})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}

	// /metrics needs no token, as Prometheus scrapes it.
	resp, body = h.do("GET", "/metrics", nil, func(r *http.Request) { r.Header.Del("Authorization") })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	fam := families["portico_certificate_not_after_timestamp_seconds"]
	if fam == nil {
		t.Fatalf("no portico_certificate_not_after_timestamp_seconds in:\n%s", body)
	}
	got := map[string]float64{}
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		got[labels["name"]+"/"+labels["source"]] = m.GetGauge().GetValue()
	}
	if v, ok := got["shop/api"]; !ok || v != float64(notAfter.Unix()) {
		t.Errorf("expiry of shop (source api) = %v (present %v), want %d; all: %v", v, ok, notAfter.Unix(), got)
	}
	def, err := h.store.KeyPair(h.ctx, "Portico Self-signed Certificate")
	if err != nil {
		t.Fatal(err)
	}
	if v := got["Portico Self-signed Certificate/self-signed"]; v != float64(def.NotAfter.Unix()) {
		t.Errorf("expiry of the default keypair = %v, want %d", v, def.NotAfter.Unix())
	}

	// The server's own families are on the same endpoint.
	for _, name := range []string{"portico_snapshot_reloads_total", "portico_tls_handshakes_total", "portico_build_info"} {
		if families[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	h := newHarness(t)
	noAuth := func(r *http.Request) { r.Header.Del("Authorization") }
	for _, path := range []string{"/-/health", "/-/ready"} {
		resp, body := h.do("GET", path, nil, noAuth)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	// The public listener answers the same checks.
	client := newClient(t)
	for _, path := range []string{"/-/health", "/-/ready"} {
		resp, err := client.Get("https://" + h.public.HTTPSAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("public %s: %d", path, resp.StatusCode)
		}
	}

	// With the store gone, neither is ready.
	h.store.Close()
	resp, body := h.do("GET", "/-/ready", nil, noAuth)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "store unreadable") {
		t.Errorf("/-/ready with a closed store: %d %s", resp.StatusCode, body)
	}
}
