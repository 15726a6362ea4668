// Package web serves Portico's admin listener: a JSON API under /api/v1,
// server-rendered pages for people, Prometheus metrics at /metrics and
// health checks. Every change goes through certstore and tenants, so the
// API and the pages obey the same rules as the CLI.
package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/server"
)

// Config holds the admin listener's settings. The zero value of a field
// means its default, as Defaults says.
type Config struct {
	// Listen is the admin HTTPS address.
	Listen string
	// Certificate names the keypair the admin listener serves; "" for the
	// default self-signed keypair.
	Certificate string
	// Version is reported by /api/v1/status and the portico_build_info
	// metric.
	Version string
	// SessionTTL is how long a page session lasts after login.
	SessionTTL time.Duration
	// ShutdownTimeout bounds how long Shutdown waits for requests.
	ShutdownTimeout time.Duration
	// AuthFailures is how many failed token attempts one client address
	// may make at once before it is refused (429) for a while; it then
	// regains one every 6 seconds.
	AuthFailures int
}

// Defaults returns the configuration used for unset fields.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8444",
		Version:         "dev",
		SessionTTL:      12 * time.Hour,
		ShutdownTimeout: 10 * time.Second,
		AuthFailures:    10,
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.Version == "" {
		c.Version = d.Version
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = d.SessionTTL
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	if c.AuthFailures <= 0 {
		c.AuthFailures = d.AuthFailures
	}
	return c
}

// Snapshots is what the admin listener needs from the public server;
// *server.Server implements it. Both methods are safe for concurrent use.
type Snapshots interface {
	// SnapshotStatus describes the published serving snapshot; it does
	// not block.
	SnapshotStatus() server.SnapshotStatus
	// Ready reports why the server cannot serve yet, or nil.
	Ready(ctx context.Context) error
}

// Deps are the parts the admin listener reads and changes.
type Deps struct {
	Store  certstore.Store      // required
	Tokens certstore.TokenStore // required: where the admin token's hash is
	// Snapshots is the public server; nil reports "no snapshot" and keeps
	// /-/ready failing.
	Snapshots Snapshots
	// Discovery and ACME report on those subsystems; nil shows them as not
	// configured.
	Discovery DiscoveryStatus
	ACME      ACMEStatus
	// Metrics is the registry /metrics serves; the admin listener adds its
	// own collectors to it. Nil makes a registry of its own.
	Metrics *prometheus.Registry
	Log     *slog.Logger
	// Now is the clock for days-to-expiry; nil means time.Now.
	Now func() time.Time
}

// Server is the admin listener.
type Server struct {
	cfg     Config
	deps    Deps
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	echo     *echo.Echo
	pages    *pages
	sessions *sessions
	limiter  *failLimiter
	cert     *certSource

	mu  sync.Mutex // guards srv and ln
	srv *http.Server
	ln  net.Listener
}

// New returns the admin listener for deps; nothing listens until Start.
// It fails when deps lack a store or when the metrics cannot be registered.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Store == nil || deps.Tokens == nil {
		return nil, errors.New("web: a store and a token store are required")
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Metrics == nil {
		deps.Metrics = prometheus.NewRegistry()
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		deps:     deps,
		log:      deps.Log,
		now:      deps.Now,
		started:  deps.Now(),
		sessions: newSessions(cfg.SessionTTL),
		limiter:  newFailLimiter(cfg.AuthFailures),
	}
	if err := registerMetrics(deps.Metrics, deps.Store, cfg.Version); err != nil {
		return nil, err
	}
	p, err := newPages()
	if err != nil {
		return nil, err
	}
	s.pages = p
	s.echo = s.routes()
	return s, nil
}

// Handler returns the admin listener's HTTP handler, for tests and for
// serving on a listener of one's own.
func (s *Server) Handler() http.Handler { return s.echo }

// Start loads the admin certificate, binds the listener and serves in the
// background until Shutdown. It follows the store to pick up a renewed
// certificate until ctx ends.
func (s *Server) Start(ctx context.Context) error {
	name := s.cfg.Certificate
	if name == "" {
		name = certstore.DefaultKeyPairName
	}
	s.cert = newCertSource(s.deps.Store, name, s.log)
	if err := s.cert.load(ctx); err != nil {
		return fmt.Errorf("admin certificate: %w", err)
	}
	go s.cert.follow(ctx)

	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	srv := &http.Server{
		Handler: s.echo,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			NextProtos:     []string{"h2", "http/1.1"},
			GetCertificate: s.cert.get,
		},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin listener stopped", "err", err)
		}
	}()
	s.log.Info("admin listener serving", "admin", ln.Addr().String(), "keypair", name)
	return nil
}

// Addr returns the address the admin listener is bound to, or nil before
// Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the admin listener, letting requests in flight finish up
// to the configured timeout.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}
