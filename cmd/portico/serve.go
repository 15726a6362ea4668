package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/server"
)

// ServeCmd runs the server.
type ServeCmd struct {
	Listen          string        `default:":8443" help:"HTTPS address."`
	HTTPListen      string        `name:"http-listen" default:":8080" help:"Plain HTTP address that redirects to HTTPS; empty turns it off."`
	ShutdownTimeout time.Duration `default:"30s" help:"How long to let requests in flight finish on shutdown."`
	Hostname        string        `placeholder:"NAME" help:"Name for the default self-signed certificate (default: this machine's host name)."`

	DefaultUpstream         string        `name:"default-upstream" placeholder:"URL" help:"Where to proxy requests of tenants without an upstream, and of hosts no tenant covers: http(s)://host[:port][/prefix]. Empty: Portico's built-in response."`
	UpstreamCA              string        `name:"upstream-ca" placeholder:"FILE" help:"PEM file of CA certificates to trust, besides the system's, for https:// upstreams."`
	TrustedProxies          []string      `name:"trusted-proxies" sep:"," placeholder:"CIDR" help:"Addresses or CIDR prefixes of proxies in front of Portico whose X-Forwarded-*/Forwarded headers are kept; from anyone else they are replaced."`
	ProxyProtocol           bool          `name:"proxy-protocol" help:"Require a PROXY protocol v1/v2 header on every connection (behind a TCP load balancer); with --trusted-proxies, only those may connect."`
	ReadHeaderTimeout       time.Duration `default:"10s" help:"How long a client may take to send a request's headers."`
	IdleTimeout             time.Duration `default:"2m" help:"How long a client's keep-alive connection may stay idle."`
	UpstreamDialTimeout     time.Duration `default:"10s" help:"How long connecting to an upstream (TLS included) may take before the request gets 504."`
	UpstreamResponseTimeout time.Duration `default:"60s" help:"How long an upstream may take to send its response headers before the request gets 504."`
	MaxRequestBody          byteSize      `default:"0" placeholder:"SIZE" help:"Largest request body accepted (such as 10MB); 0 for no limit."`
	AccessLog               bool          `default:"true" negatable:"" help:"Log one line per request (--no-access-log or --access-log=false to turn off)."`

	AdminFlags

	ACME ACMEFlags `embed:"" prefix:"acme-" group:"ACME"`

	DiscoveryFlags `embed:""`
}

// defaultCheckInterval is how often serve checks that the default
// self-signed keypair is not near its expiry.
const defaultCheckInterval = 12 * time.Hour

// config turns the flags into the server's settings.
func (c *ServeCmd) config() server.Config {
	return server.Config{
		Listen:                  c.Listen,
		HTTPListen:              c.HTTPListen,
		ShutdownTimeout:         c.ShutdownTimeout,
		ReadHeaderTimeout:       c.ReadHeaderTimeout,
		IdleTimeout:             c.IdleTimeout,
		DefaultUpstream:         c.DefaultUpstream,
		UpstreamCA:              c.UpstreamCA,
		UpstreamDialTimeout:     c.UpstreamDialTimeout,
		UpstreamResponseTimeout: c.UpstreamResponseTimeout,
		MaxRequestBody:          int64(c.MaxRequestBody),
		TrustedProxies:          c.TrustedProxies,
		ProxyProtocol:           c.ProxyProtocol,
		DisableAccessLog:        !c.AccessLog,
	}
}

// Run serves until the process gets SIGINT or SIGTERM, then lets requests
// in flight finish and returns nil. SIGHUP runs the reload hooks.
func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	log := g.logger()
	cfg := c.config()
	if err := cfg.Validate(); err != nil {
		return err
	}
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

	// Whatever a SIGHUP must also redo (a discovery rescan) registers here,
	// before the server's own reload, which is added last.
	reloads := &reloadHooks{}

	reg := newRegistry()
	cfg.Metrics = reg

	// Discovery's first pass runs before the server starts, so the first
	// snapshot already holds what the folder holds.
	discoverer, err := c.startDiscovery(ctx, store, reg, log)
	if err != nil {
		return err
	}
	defer discoverer.Stop()
	if discoverer != nil {
		reloads.Add("discovery", discoverer.RescanNow)
	}

	srv := server.New(cfg, store, log)
	reloads.Add("store", srv.ForceReload)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// ACME writes to the store only; the server picks up what it writes.
	stopACME, acmeOn, err := c.ACME.startACME(ctx, store, reg, log)
	if err != nil {
		return err
	}
	defer stopACME()
	if err := srv.Start(ctx); err != nil {
		return err
	}
	status := adminStatus{}
	if discoverer != nil {
		status.discovery = discoveryReport{discoverer}
	}
	if acmeOn {
		status.acme = acmeReport{store}
	}
	admin, err := startAdmin(ctx, c.AdminFlags, g, store, srv, reg, status, log)
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	if admin != nil {
		defer admin.Shutdown(context.Background())
	}
	return c.wait(ctx, srv, hup, reloads, log)
}

// wait serves until ctx ends (SIGINT, SIGTERM) or a listener fails, running
// the reload hooks on every SIGHUP, then shuts the server down. Requests cut
// short by the shutdown timeout are logged, not an error: the process was
// asked to stop and it did.
func (c *ServeCmd) wait(ctx context.Context, srv *server.Server, hup <-chan os.Signal, reloads *reloadHooks, log *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down", "timeout", c.ShutdownTimeout)
			if err := srv.Shutdown(context.Background()); err != nil {
				log.Warn("shutdown timeout reached", "err", err)
			}
			log.Info("stopped")
			return nil
		case err := <-srv.Errors():
			srv.Shutdown(context.Background())
			return fmt.Errorf("serving: %w", err)
		case <-hup:
			log.Info("reload requested", "signal", "SIGHUP")
			reloads.Run(ctx, log)
		}
	}
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
