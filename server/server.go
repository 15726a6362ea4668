// Package server runs Portico's listeners: HTTPS with a certificate chosen
// per handshake from an immutable snapshot of the store, and plain HTTP that
// redirects to HTTPS. Each HTTPS request is proxied to the upstream of the
// tenant its Host names, chosen from the same snapshot. The snapshot is
// rebuilt whenever the store changes and swapped whole; the server never
// writes to the store.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// Server serves HTTPS for every tenant in a store and proxies each
// request to its tenant's upstream.
type Server struct {
	cfg     Config
	cfgErr  error // why cfg cannot be used; Start and Reload return it
	store   certstore.Store
	log     *slog.Logger
	up      *upstreams
	trusted []netip.Prefix
	metrics *metrics

	snap      atomic.Pointer[snapshot]
	reloadMu  sync.Mutex // serialises snapshot builds
	recorders recorderPool

	https, http *http.Server
	httpsLn     net.Listener
	httpLn      net.Listener
	wg          sync.WaitGroup
	serveErr    chan error

	// base is the context of every connection; it ends after Shutdown has
	// let requests finish, which also closes upgraded (WebSocket)
	// connections, that Shutdown does not wait for.
	base       context.Context
	cancelBase context.CancelFunc
}

// New returns a server for store; nothing listens until Start. A config
// that Validate refuses makes Start fail with the reasons.
func New(cfg Config, store certstore.Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg.withDefaults(), store: store, log: log, serveErr: make(chan error, 2),
		metrics: newMetrics(cfg.Metrics, log)}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	if s.cfgErr = s.cfg.Validate(); s.cfgErr == nil {
		if s.up, s.cfgErr = newUpstreams(s.cfg, log); s.cfgErr == nil {
			s.trusted = s.up.fwd.trusted
		}
	}
	return s
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
// snapshot and counts it. It never blocks, never touches the store and does
// not allocate.
func (s *Server) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	cert := s.snap.Load().certificateFor(tenants.NormalizeName(hello.ServerName))
	if cert == nil {
		return nil, errNoCertificate
	}
	return cert, nil
}

// Reload applies the store's changes since the published snapshot and
// publishes the result; it publishes nothing when nothing changed. On
// failure the last good snapshot keeps serving.
func (s *Server) Reload(ctx context.Context) error {
	return s.reload(ctx, false)
}

// ForceReload rebuilds the snapshot from everything in the store rather
// than from the changes since the last one, and publishes it even when
// nothing changed; certificates whose revision is already parsed are
// reused. SIGHUP calls it, for when an operator doubts what is served. On
// failure the last good snapshot keeps serving.
func (s *Server) ForceReload(ctx context.Context) error {
	return s.reload(ctx, true)
}

func (s *Server) reload(ctx context.Context, full bool) error {
	if s.cfgErr != nil {
		return fmt.Errorf("server settings: %w", s.cfgErr)
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()

	start := time.Now()
	prev := s.snap.Load()
	base := prev
	if full && prev != nil {
		base = &snapshot{parsed: prev.parsed} // read everything, parse only what is new
	}
	next, err := buildSnapshot(ctx, s.store, base, s.log)
	if err != nil {
		s.metrics.reloaded(nil, 0, err)
		return fmt.Errorf("building snapshot: %w", err)
	}
	if next == prev {
		return nil // nothing changed
	}
	next.routing = s.up.routing(next.tenants)
	next.counters = s.metrics.resolve(next.tenants, next.routing)

	// Publish only a whole snapshot: a handshake never sees half a reload.
	s.snap.Store(next)
	s.metrics.reloaded(next, time.Since(start), nil)
	s.log.Info("snapshot published", "generation", next.generation,
		"tenants", next.index.Len(), "full", full || prev == nil, "took", time.Since(start))
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
	if s.httpsLn, err = s.listen(s.cfg.Listen); err != nil {
		return err
	}
	if s.cfg.HTTPListen != "" {
		if s.httpLn, err = s.listen(s.cfg.HTTPListen); err != nil {
			s.httpsLn.Close()
			return err
		}
	}

	s.https = s.httpServer(s.handler())
	s.https.TLSConfig = s.TLSConfig()
	s.serve(func() error { return s.https.ServeTLS(s.httpsLn, "", "") })
	if s.httpLn != nil {
		s.http = s.httpServer(redirectHandler(s.httpsLn.Addr()))
		s.serve(func() error { return s.http.Serve(s.httpLn) })
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.follow(ctx)
	}()
	s.log.Info("serving", "https", s.httpsLn.Addr().String(), "http", addrString(s.httpLn),
		"default_upstream", s.cfg.DefaultUpstream, "proxy_protocol", s.cfg.ProxyProtocol,
		"access_log", !s.cfg.DisableAccessLog)
	return nil
}

// httpServer returns an http.Server with Portico's timeouts. No read or
// write timeout bounds a whole request: uploads, downloads and streams take
// as long as they need, while idle and header-less clients are cut off.
func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.base },
	}
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
