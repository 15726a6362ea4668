// Package metrics holds the Prometheus collectors that discovery and ACME
// report through, so that those packages need not know about the admin
// listener that serves them. Every method is safe on a nil receiver, where
// it does nothing: a package given no metrics calls them all the same.
//
// How the packages use them:
//
//	d := metrics.NewDiscovery(reg)   // once, in cmd/portico, with the admin registry
//	d.Pass(err)                      // after every discovery pass
//	d.Skipped(map[string]int{...})   // the files that pass skipped, counted by reason
//
//	a := metrics.NewACME(reg)
//	a.Attempt("success")             // after every issuance or renewal attempt
//
// Proxied requests are counted by the server itself
// (portico_http_requests_total, see server/metrics.go).
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Discovery counts discovery passes and the files they skip.
type Discovery struct {
	passes   *prometheus.CounterVec
	skipped  *prometheus.GaugeVec
	lastPass prometheus.Gauge
}

// NewDiscovery makes discovery's collectors and registers them with reg
// (which may be nil, to count for nobody). It panics when reg already holds
// them, as prometheus.MustRegister does: that is a wiring mistake.
func NewDiscovery(reg prometheus.Registerer) *Discovery {
	d := &Discovery{
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_discovery_passes_total",
			Help: "Discovery passes over the certificate folder, by result (ok, or error when the folder could not be read).",
		}, []string{"result"}),
		skipped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "portico_discovery_skipped_files",
			Help: "Files the last discovery pass skipped, by reason.",
		}, []string{"reason"}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_discovery_last_pass_timestamp_seconds",
			Help: "Unix time the last discovery pass ended.",
		}),
	}
	if reg != nil {
		reg.MustRegister(d.passes, d.skipped, d.lastPass)
	}
	return d
}

// Pass records a finished pass; err is what stopped it reading the folder,
// nil for a pass that completed (even with files skipped).
func (d *Discovery) Pass(err error) {
	if d == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	d.passes.WithLabelValues(result).Inc()
	d.lastPass.Set(float64(time.Now().UnixNano()) / 1e9)
}

// Skipped replaces the skipped-file counts with those of the last pass, by
// reason (short, fixed words such as "mismatched_key", "unreadable",
// "dangling_link", "conflict"; never a path, which would make a series per
// file).
func (d *Discovery) Skipped(byReason map[string]int) {
	if d == nil {
		return
	}
	d.skipped.Reset()
	for reason, n := range byReason {
		d.skipped.WithLabelValues(reason).Set(float64(n))
	}
}

// ACME counts certificate issuance and renewal attempts.
type ACME struct {
	attempts *prometheus.CounterVec
}

// NewACME makes ACME's collectors and registers them with reg (which may be
// nil). It panics when reg already holds them.
func NewACME(reg prometheus.Registerer) *ACME {
	a := &ACME{attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_acme_attempts_total",
		Help: "ACME issuance and renewal attempts, by result (success or failure).",
	}, []string{"result"})}
	// Both series exist from the start, so a rate() over them works
	// before the first attempt.
	a.attempts.WithLabelValues("success")
	a.attempts.WithLabelValues("failure")
	if reg != nil {
		reg.MustRegister(a.attempts)
	}
	return a
}

// Attempt records one issuance or renewal attempt and its result:
// "success" or "failure".
func (a *ACME) Attempt(result string) {
	if a == nil {
		return
	}
	a.attempts.WithLabelValues(result).Inc()
}
