package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/certstore/discovery"
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
func (f DiscoveryFlags) startDiscovery(ctx context.Context, store certstore.Store, log *slog.Logger) (*discovery.Discoverer, error) {
	if f.Certs == "" {
		log.Info("certificate discovery is off (no --certs)")
		return nil, nil
	}
	d, err := discovery.New(discovery.Config{Root: f.Certs, Interval: f.DiscoveryInterval}, store, log)
	if err != nil {
		return nil, err
	}
	d.Start(ctx)
	return d, nil
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
