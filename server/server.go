// Package server runs Portico's listeners: HTTPS with a certificate chosen
// per handshake from an immutable snapshot of the store, and plain HTTP that
// redirects to HTTPS. The snapshot is rebuilt whenever the store changes and
// swapped whole; the server never writes to the store.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// Config holds the server's settings. The zero value of a field means its
// default, as Defaults says.
type Config struct {
	// Listen is the HTTPS address, such as ":8443".
	Listen string
	// HTTPListen is the plain HTTP address that redirects to HTTPS; empty
	// turns it off.
	HTTPListen string
	// ShutdownTimeout bounds how long Shutdown waits for requests in flight.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout and IdleTimeout bound slow or idle clients.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
}

// Defaults returns the configuration used for unset fields.
func Defaults() Config {
	return Config{
		Listen:            ":8443",
		HTTPListen:        ":8080",
		ShutdownTimeout:   30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	return c
}

// Server serves HTTPS for every tenant in a store.
type Server struct {
	cfg   Config
	store certstore.Store
	log   *slog.Logger

	snap     atomic.Pointer[snapshot]
	reloadMu sync.Mutex // serialises snapshot builds

	https, http *http.Server
	httpsLn     net.Listener
	httpLn      net.Listener
	wg          sync.WaitGroup
	serveErr    chan error
}

// New returns a server for store; nothing listens until Start.
func New(cfg Config, store certstore.Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg.withDefaults(), store: store, log: log, serveErr: make(chan error, 2)}
}

// TLSConfig returns the configuration every HTTPS connection uses: TLS 1.2
// and 1.3, HTTP/2 and HTTP/1.1, and a certificate chosen per handshake.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: s.getCertificate,
	}
}

// getCertificate picks the certificate for a handshake from the current
// snapshot. It never blocks, never touches the store and does not allocate.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	_, cert := s.snap.Load().match(tenants.NormalizeName(hello.ServerName))
	if cert == nil {
		return nil, errNoCertificate
	}
	return cert, nil
}

// Reload rebuilds the snapshot from the store and publishes it. On failure
// the last good snapshot keeps serving.
func (s *Server) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()

	start := time.Now()
	prev := s.snap.Load()
	next, err := buildSnapshot(ctx, s.store, prev, s.log)
	if err != nil {
		return fmt.Errorf("building snapshot: %w", err)
	}
	if next == prev {
		return nil // nothing changed
	}

	// Publish only a whole snapshot: a handshake never sees half a reload.
	s.snap.Store(next)
	s.log.Info("snapshot published", "generation", next.generation,
		"tenants", next.index.Len(), "took", time.Since(start))
	return nil
}

// Start loads the first snapshot, binds the listeners and serves in the
// background until Shutdown. It also follows the store's changes until ctx
// ends.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Reload(ctx); err != nil {
		return err
	}

	var err error
	if s.httpsLn, err = net.Listen("tcp", s.cfg.Listen); err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.HTTPListen != "" {
		if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPListen); err != nil {
			s.httpsLn.Close()
			return fmt.Errorf("listening on %s: %w", s.cfg.HTTPListen, err)
		}
	}

	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)
	s.https = &http.Server{
		Handler:           s.handler(),
		TLSConfig:         s.TLSConfig(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          errLog,
	}
	s.serve(func() error { return s.https.ServeTLS(s.httpsLn, "", "") })
	if s.httpLn != nil {
		s.http = &http.Server{
			Handler:           redirectHandler(s.httpsLn.Addr()),
			ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
			IdleTimeout:       s.cfg.IdleTimeout,
			ErrorLog:          errLog,
		}
		s.serve(func() error { return s.http.Serve(s.httpLn) })
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.follow(ctx)
	}()
	s.log.Info("serving", "https", s.httpsLn.Addr().String(), "http", addrString(s.httpLn))
	return nil
}

func (s *Server) serve(fn func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr <- err
		}
	}()
}

// follow rebuilds the snapshot on every change the store signals.
func (s *Server) follow(ctx context.Context) {
	for range s.store.Changes(ctx) {
		if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("reload failed; serving the last good snapshot", "err", err)
		}
	}
}

// Errors receives an error when a listener stops by itself.
func (s *Server) Errors() <-chan error { return s.serveErr }

// HTTPSAddr returns the address the HTTPS listener is bound to.
func (s *Server) HTTPSAddr() net.Addr { return s.httpsLn.Addr() }

// HTTPAddr returns the address of the redirecting HTTP listener, or nil.
func (s *Server) HTTPAddr() net.Addr {
	if s.httpLn == nil {
		return nil
	}
	return s.httpLn.Addr()
}

// Shutdown stops accepting connections and waits, up to the configured
// timeout or ctx, for requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	for _, srv := range []*http.Server{s.https, s.http} {
		if srv != nil {
			errs = append(errs, srv.Shutdown(ctx))
		}
	}
	return errors.Join(errs...)
}

// Generation returns the store generation of the published snapshot.
func (s *Server) Generation() uint64 {
	if sn := s.snap.Load(); sn != nil {
		return sn.generation
	}
	return 0
}

func addrString(a net.Listener) string {
	if a == nil {
		return ""
	}
	return a.Addr().String()
}
