package metrics

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDiscoveryAndACME(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := NewDiscovery(reg)
	a := NewACME(reg)
	d.Pass(nil)
	d.Pass(errors.New("unreadable"))
	d.Skipped(map[string]int{"mismatched_key": 2})
	d.Skipped(map[string]int{"unreadable": 1}) // replaces the last pass's counts
	a.Attempt("success")
	a.Attempt("failure")
	a.Attempt("failure")

	want := `
# HELP portico_acme_attempts_total ACME issuance and renewal attempts, by result (success or failure).
# TYPE portico_acme_attempts_total counter
portico_acme_attempts_total{result="failure"} 2
portico_acme_attempts_total{result="success"} 1
# HELP portico_discovery_passes_total Discovery passes over the certificate folder, by result (ok, or error when the folder could not be read).
# TYPE portico_discovery_passes_total counter
portico_discovery_passes_total{result="error"} 1
portico_discovery_passes_total{result="ok"} 1
# HELP portico_discovery_skipped_files Files the last discovery pass skipped, by reason.
# TYPE portico_discovery_skipped_files gauge
portico_discovery_skipped_files{reason="unreadable"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"portico_acme_attempts_total", "portico_discovery_passes_total", "portico_discovery_skipped_files"); err != nil {
		t.Error(err)
	}
}

func TestNilReceivers(t *testing.T) {
	var d *Discovery
	var a *ACME
	d.Pass(nil)
	d.Skipped(map[string]int{"x": 1})
	a.Attempt("success")
}
