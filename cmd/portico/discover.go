package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/certstore/discovery"
	"github.com/portico-proxy/portico/internal/metrics"
	"github.com/portico-proxy/portico/web"
)

// DiscoveryFlags are serve's settings for discovering certificates in a
// folder tree.
type DiscoveryFlags struct {
	Certs             string        `placeholder:"DIR" help:"Folder to discover certificates in: certbot's /etc/letsencrypt, Kubernetes secret mounts or PEM files (the container image sets /certs). Empty turns discovery off."`
	DiscoveryInterval time.Duration `name:"discovery-interval" default:"5m" help:"How often the whole --certs folder is read again, besides reacting to its changes at once."`
}

// startDiscovery starts keeping the store in step with --certs and returns
// the running Discoverer, or nil when --certs is empty. Its Rescan asks for
// a pass at once (for a SIGHUP handler) and its Stop ends it; both accept
// nil. A folder that cannot be read is logged and tried again; it does not
// stop the server.
func (f DiscoveryFlags) startDiscovery(ctx context.Context, store certstore.Store, reg prometheus.Registerer, log *slog.Logger) (*discovery.Discoverer, error) {
	if f.Certs == "" {
		log.Info("certificate discovery is off (no --certs)")
		return nil, nil
	}
	d, err := discovery.New(discovery.Config{
		Root:     f.Certs,
		Interval: f.DiscoveryInterval,
		Metrics:  metrics.NewDiscovery(reg),
	}, store, log)
	if err != nil {
		return nil, err
	}
	d.Start(ctx)
	return d, nil
}

// discoveryReport shows the Discoverer's last pass on the admin listener.
type discoveryReport struct{ d *discovery.Discoverer }

// LastDiscovery returns the last finished pass in the admin listener's
// terms: created, updated, unchanged and missing keypairs as keypairs; files
// skipped, and keypairs rejected or in conflict, as skipped files with the
// reason.
func (r discoveryReport) LastDiscovery() (web.DiscoveryReport, bool) {
	last, ok := r.d.LastPass()
	if !ok {
		return web.DiscoveryReport{}, false
	}
	out := web.DiscoveryReport{
		Root:     r.d.Root(),
		Started:  last.Started.UTC(),
		Finished: last.Finished.UTC(),
		KeyPairs: []web.DiscoveredKeyPair{},
		Skipped:  []web.SkippedFile{},
	}
	if last.Err != nil {
		out.Error = last.Err.Error()
		return out, true
	}
	for _, l := range last.Report.KeyPairs {
		switch l.Action {
		case discovery.Created, discovery.Updated, discovery.Unchanged, discovery.Missing:
			out.KeyPairs = append(out.KeyPairs, web.DiscoveredKeyPair{Name: l.Name, Path: l.Path, Outcome: string(l.Action)})
		default:
			out.Skipped = append(out.Skipped, web.SkippedFile{Path: l.Path,
				Reason: fmt.Sprintf("keypair %q %s: %s", l.Name, l.Action, l.Reason)})
		}
	}
	for _, s := range last.Report.Skipped {
		out.Skipped = append(out.Skipped, web.SkippedFile{Path: s.Path, Reason: s.Reason})
	}
	return out, true
}

// DiscoverCmd reads a folder tree of certificates into the store.
type DiscoverCmd struct {
	Certs string `required:"" placeholder:"DIR" help:"Folder to discover certificates in."`
	Once  bool   `help:"Run one pass, print its report and exit: 0 when the pass completed, 1 when the folder cannot be read at all. Without it, keep the store in step with the folder until interrupted."`
}

// Run runs one pass and prints its report, or keeps discovering until the
// process is interrupted.
func (c *DiscoverCmd) Run(ctx context.Context, g *Globals) error {
	log := g.logger()
	store, err := g.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	d, err := discovery.New(discovery.Config{Root: c.Certs}, store, log)
	if err != nil {
		return err
	}

	if !c.Once {
		d.Start(ctx)
		<-ctx.Done()
		d.Stop()
		return nil
	}
	rep, err := d.Pass(ctx)
	if err != nil {
		return err
	}
	_, err = rep.WriteTo(os.Stdout)
	return err
}
