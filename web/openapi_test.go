package web_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestOpenAPIMatchesRoutes checks the served OpenAPI document against the
// routes the admin listener really has: every /api/v1 route is documented
// and every documented operation exists, each with its responses.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := newHarness(t)
	resp, body := h.do("GET", "/api/v1/openapi.json", nil, func(r *http.Request) { r.Header.Del("Authorization") })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json without a token: %d", resp.StatusCode)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Paths map[string]map[string]struct {
			OperationID string                     `json:"operationId"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("document header: openapi %q, servers %+v", doc.OpenAPI, doc.Servers)
	}

	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " /api/v1" + param.ReplaceAllString(path, ":$1")
			documented[key] = true
			if op.OperationID == "" || len(op.Responses) == 0 {
				t.Errorf("%s: no operationId or no responses", key)
			}
		}
	}

	routed := map[string]bool{}
	e := h.admin.Handler().(*echo.Echo)
	for _, r := range e.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1") {
			routed[r.Method+" "+r.Path] = true
		}
	}
	if len(routed) < 10 {
		t.Fatalf("only %d API routes found; the route listing is broken", len(routed))
	}
	for _, k := range sortedKeys(routed) {
		if !documented[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for _, k := range sortedKeys(documented) {
		if !routed[k] {
			t.Errorf("openapi.json documents %s, which has no route", k)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
