package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/server"
	"github.com/portico-proxy/portico/web"
)

// AdminFlags are serve's settings for the admin listener.
type AdminFlags struct {
	AdminListen      string `name:"admin-listen" default:"127.0.0.1:8444" help:"Admin HTTPS address (API, pages, /metrics); empty turns it off."`
	AdminCertificate string `name:"admin-certificate" placeholder:"NAME" help:"Keypair the admin listener serves (default: the self-signed default keypair)."`
	AdminToken       string `name:"admin-token" placeholder:"TOKEN" help:"Admin token (at least 16 characters); set it through PORTICO_ADMIN_TOKEN rather than on the command line. Without it a token is generated once into DATA/admin-token."`
}

// newRegistry is the Prometheus registry /metrics serves: Go runtime and
// process metrics, then whatever the server, discovery and ACME register.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// adminStatus is what the admin listener shows of discovery and ACME; a
// nil field shows as not configured.
type adminStatus struct {
	discovery web.DiscoveryStatus
	acme      web.ACMEStatus
}

// startAdmin makes sure an admin token exists and starts the admin
// listener; it returns nil when the listener is turned off.
func startAdmin(ctx context.Context, f AdminFlags, g *Globals, store *certstore.SQLite,
	srv *server.Server, reg *prometheus.Registry, status adminStatus, log *slog.Logger) (*web.Server, error) {
	if f.AdminListen == "" {
		log.Info("admin listener turned off")
		return nil, nil
	}
	if err := web.EnsureToken(ctx, store, g.Data, f.AdminToken, log); err != nil {
		return nil, fmt.Errorf("admin token: %w", err)
	}
	admin, err := web.New(web.Config{
		Listen:      f.AdminListen,
		Certificate: f.AdminCertificate,
		Version:     version,
	}, web.Deps{
		Store:     store,
		Tokens:    store,
		Snapshots: srv,
		Discovery: status.discovery,
		ACME:      status.acme,
		Metrics:   reg,
		Log:       log,
	})
	if err != nil {
		return nil, err
	}
	if err := admin.Start(ctx); err != nil {
		return nil, err
	}
	return admin, nil
}

// AdminTokenCmd shows whether an admin token is set, or replaces it.
type AdminTokenCmd struct {
	Rotate bool `help:"Replace the admin token with a new random one, print it and write it to DATA/admin-token."`
}

// Run rotates the token or reports on it.
func (c *AdminTokenCmd) Run(ctx context.Context, g *Globals) error {
	store, err := g.openStore(ctx, g.logger())
	if err != nil {
		return err
	}
	defer store.Close()
	if c.Rotate {
		token, err := web.RotateToken(ctx, store, g.Data)
		if err != nil {
			return err
		}
		fmt.Println(token)
		fmt.Fprintf(os.Stderr, "new admin token written to %s; the old token and its sessions no longer work\n",
			filepath.Join(g.Data, web.TokenFile))
		return nil
	}
	h, err := store.AdminToken(ctx)
	if errors.Is(err, certstore.ErrNotFound) {
		fmt.Println("no admin token yet: serve generates one on its first start (or run admin-token --rotate)")
		return nil
	}
	if err != nil {
		return err
	}
	where := "it was given through PORTICO_ADMIN_TOKEN (no file holds it)"
	if file := filepath.Join(g.Data, web.TokenFile); fileExists(file) {
		where = "it is in " + file
	}
	fmt.Printf("an admin token is set (since %s); %s; --rotate replaces it\n",
		h.CreatedAt.Format("2006-01-02 15:04 UTC"), where)
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
