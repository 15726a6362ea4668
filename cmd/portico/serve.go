package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/server"
)

// ServeCmd runs the server.
type ServeCmd struct {
	Listen          string        `default:":8443" placeholder:"ADDR" help:"HTTPS address."`
	HTTPListen      string        `name:"http-listen" default:":8080" placeholder:"ADDR" help:"Plain HTTP address that redirects to HTTPS; empty turns it off."`
	ShutdownTimeout time.Duration `default:"30s" help:"How long to let requests in flight finish on shutdown."`
	Hostname        string        `placeholder:"NAME" help:"Name for the default self-signed certificate (default: this machine's host name)."`
}

// defaultCheckInterval is how often serve checks that the default
// self-signed keypair is not near its expiry.
const defaultCheckInterval = 12 * time.Hour

// Run serves until the process gets SIGINT or SIGTERM.
func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	log := g.logger()
	store, err := g.openStore(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()

	host := c.Hostname
	if host == "" {
		if host, err = os.Hostname(); err != nil || host == "" {
			host = "localhost"
		}
	}
	if _, err := certstore.EnsureDefault(ctx, store, host, time.Now(), log); err != nil {
		return err
	}
	go keepDefault(ctx, store, host, log)

	srv := server.New(server.Config{
		Listen:          c.Listen,
		HTTPListen:      c.HTTPListen,
		ShutdownTimeout: c.ShutdownTimeout,
	}, store, log)
	if err := srv.Start(ctx); err != nil {
		return err
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srv.Errors():
		return fmt.Errorf("serving: %w", err)
	}
	return srv.Shutdown(context.Background())
}

// keepDefault replaces the default self-signed keypair when it nears expiry,
// for a server that runs for months.
func keepDefault(ctx context.Context, store certstore.Store, host string, log *slog.Logger) {
	tick := time.NewTicker(defaultCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if _, err := certstore.EnsureDefault(ctx, store, host, now, log); err != nil {
				log.Error("renewing default keypair", "err", err)
			}
		}
	}
}
