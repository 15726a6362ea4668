package web

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/certstore"
)

// collectTimeout bounds the store read behind one scrape.
const collectTimeout = 5 * time.Second

// certificateCollector reports every keypair's expiry, read from the store
// at each scrape so the value is never stale.
type certificateCollector struct {
	store    certstore.Store
	notAfter *prometheus.Desc
}

func newCertificateCollector(store certstore.Store) *certificateCollector {
	return &certificateCollector{
		store: store,
		notAfter: prometheus.NewDesc("portico_certificate_not_after_timestamp_seconds",
			"When each keypair's leaf certificate expires, as Unix seconds.",
			[]string{"name", "source"}, nil),
	}
}

// Describe sends the collector's one description.
func (c *certificateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.notAfter }

// Collect reads the keypairs and sends one gauge per keypair. A store that
// cannot be read makes the scrape report an error rather than no series.
func (c *certificateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	kps, err := c.store.KeyPairs(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.notAfter, fmt.Errorf("reading keypairs: %w", err))
		return
	}
	for _, k := range kps {
		ch <- prometheus.MustNewConstMetric(c.notAfter, prometheus.GaugeValue,
			float64(k.NotAfter.Unix()), k.Name, string(k.Source))
	}
}

// registerMetrics adds the admin listener's collectors to reg: keypair
// expiry and portico_build_info.
func registerMetrics(reg prometheus.Registerer, store certstore.Store, version string) error {
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "portico_build_info",
		Help:        "Always 1; the version label says which Portico is running.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{newCertificateCollector(store), build} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering admin metrics: %w", err)
		}
	}
	return nil
}

// slogPrintln lets promhttp report scrape errors through slog.
type slogPrintln struct {
	log interface{ Warn(string, ...any) }
}

func (l slogPrintln) Println(v ...any) { l.log.Warn("serving metrics", "err", fmt.Sprint(v...)) }
