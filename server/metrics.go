package server

import (
	"crypto/tls"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/tenants"
)

// Handshake outcomes, the values of the outcome label of
// portico_tls_handshakes_total.
const (
	outcomeServed        = "served"         // a tenant's certificate was chosen
	outcomeFallback      = "fallback"       // no tenant matched: the default self-signed keypair
	outcomeNoCertificate = "no_certificate" // nothing to serve: the handshake fails
)

// statusClasses are the values of the class label of
// portico_http_requests_total, indexed by status/100 - 1.
var statusClasses = [5]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// metrics are the server's Prometheus collectors. Per-tenant series are
// resolved once, when a tenant first appears in a snapshot (see resolve),
// so a handshake only adds to a counter it already holds: no label lookup,
// no allocation.
type metrics struct {
	handshakes *prometheus.CounterVec // tenant, outcome
	requests   *prometheus.CounterVec // tenant, class
	reloads    *prometheus.CounterVec // result
	reloadTime prometheus.Histogram
	generation prometheus.Gauge
	published  prometheus.Gauge

	// The series of handshakes and requests no tenant matched.
	fallback, none prometheus.Counter
	unmatched      *statusCounters

	mu       sync.Mutex                 // guards byDomain and pass
	byDomain map[string]*tenantCounters // every tenant's series, by domain
	pass     uint64                     // counts resolve calls, to find tenants gone
}

// snapshotCounters are the series one snapshot adds to.
type snapshotCounters struct {
	tenants        []*tenantCounters // tenants[i] belongs to snapshot.tenants[i]
	fallback, none prometheus.Counter
}

// tenantCounters are one tenant's series.
type tenantCounters struct {
	handshakes prometheus.Counter
	requests   *statusCounters
	seen       uint64 // the last resolve pass whose snapshot had the tenant
}

// statusCounters are one tenant's series of portico_http_requests_total,
// one per status class, each made when the tenant first answers a request
// of that class. Most tenants only ever answer 2xx, and a series costs
// about 500 bytes: making all five up front was a third of the live heap
// of a server with 1,000 tenants. Once made, a series is one atomic load
// away: no label lookup, no allocation.
type statusCounters struct {
	vec    *prometheus.CounterVec
	tenant string // the tenant label: its domain, "" when none matched
	series [len(statusClasses)]atomic.Pointer[prometheus.Counter]
}

// add counts one request answered with a status of class (status/100 - 1).
// It is safe for concurrent use.
func (sc *statusCounters) add(class int) {
	if c := sc.series[class].Load(); c != nil {
		(*c).Inc()
		return
	}
	// WithLabelValues returns the one series of these labels, so racing
	// callers count into the same series whichever pointer is kept.
	c := sc.vec.WithLabelValues(sc.tenant, statusClasses[class])
	sc.series[class].CompareAndSwap(nil, &c)
	c.Inc()
}

// newMetrics makes the server's collectors and registers them with reg; a
// nil reg leaves them unregistered, counting for nobody.
func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_tls_handshakes_total",
			Help: "TLS handshakes by the tenant whose certificate was chosen and the outcome: served (the tenant's certificate), fallback (no tenant matched; the default self-signed keypair) or no_certificate.",
		}, []string{"tenant", "outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_http_requests_total",
			Help: "HTTPS requests answered by the public listener, by tenant (empty when none matched) and status class.",
		}, []string{"tenant", "class"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_snapshot_reloads_total",
			Help: "Rebuilds of the serving snapshot from the store, by result (ok or error).",
		}, []string{"result"}),
		reloadTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "portico_snapshot_reload_duration_seconds",
			Help:    "Time to rebuild and publish the serving snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_snapshot_generation",
			Help: "Store generation of the published serving snapshot.",
		}),
		published: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_snapshot_published_timestamp_seconds",
			Help: "Unix time the serving snapshot was last published.",
		}),
		byDomain: map[string]*tenantCounters{},
	}
	m.fallback = m.handshakes.WithLabelValues("", outcomeFallback)
	m.none = m.handshakes.WithLabelValues("", outcomeNoCertificate)
	m.unmatched = &statusCounters{vec: m.requests}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.handshakes, m.requests, m.reloads, m.reloadTime, m.generation, m.published} {
			if err := reg.Register(c); err != nil {
				log.Warn("registering server metrics", "err", err)
			}
		}
	}
	return m
}

// resolve returns the series a snapshot over ts adds to, and gives each of
// rt's routes (rt.routes[i] serves ts[i]) its request counters. Tenants seen
// before keep their series, so a reload costs one map lookup per tenant;
// the series of tenants that are gone are dropped so that deleted tenants
// do not linger.
func (m *metrics) resolve(ts []tenants.Tenant, rt *routing) *snapshotCounters {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pass++
	sc := &snapshotCounters{
		tenants:  make([]*tenantCounters, len(ts)),
		fallback: m.fallback,
		none:     m.none,
	}
	for i, t := range ts {
		tc := m.byDomain[t.Domain]
		if tc == nil {
			tc = &tenantCounters{
				handshakes: m.handshakes.WithLabelValues(t.Domain, outcomeServed),
				requests:   &statusCounters{vec: m.requests, tenant: t.Domain},
			}
			m.byDomain[t.Domain] = tc
		}
		tc.seen = m.pass
		sc.tenants[i] = tc
		rt.routes[i].requests = tc.requests
	}
	rt.none.requests = m.unmatched
	for d, tc := range m.byDomain {
		if tc.seen != m.pass {
			m.handshakes.DeletePartialMatch(prometheus.Labels{"tenant": d})
			m.requests.DeletePartialMatch(prometheus.Labels{"tenant": d})
			delete(m.byDomain, d)
		}
	}
	return sc
}

// reloaded records a snapshot rebuild that took d; err is its failure.
func (m *metrics) reloaded(sn *snapshot, d time.Duration, err error) {
	if err != nil {
		m.reloads.WithLabelValues("error").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.reloadTime.Observe(d.Seconds())
	m.generation.Set(float64(sn.generation))
	m.published.Set(float64(sn.builtAt.UnixNano()) / 1e9)
}

// certificateFor returns the certificate for a handshake with the
// (normalised) server name, or nil when there is none, and counts the
// choice. It does not allocate.
func (sn *snapshot) certificateFor(name string) *tls.Certificate {
	i := sn.index.Match(name)
	if i < 0 {
		if sn.fallback == nil {
			sn.counters.none.Inc()
			return nil
		}
		sn.counters.fallback.Inc()
		return sn.fallback
	}
	sn.counters.tenants[i].handshakes.Inc()
	return sn.certs[i]
}

// countStatus adds a request answered with status to the route's tenant.
// It allocates only for the first request of a status class.
func (rt *route) countStatus(status int) {
	c := status/100 - 1
	if rt.requests == nil || c < 0 || c >= len(statusClasses) {
		return
	}
	rt.requests.add(c)
}
