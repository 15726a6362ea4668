package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Shutdown stops accepting connections and lets requests in flight finish,
// for up to the configured ShutdownTimeout or until ctx ends. Then it
// closes what is left, upgraded (WebSocket) connections included. It
// returns an error only when requests had to be cut short.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
	defer cancel()
	defer s.cancelBase()

	var errs []error
	for _, srv := range []*http.Server{s.https, s.http} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err, srv.Close())
		}
	}
	if s.up != nil {
		s.up.closeIdle()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("requests still in flight were cut short: %w", err)
	}
	return nil
}

// closeIdle closes the idle keep-alive connections to every upstream.
func (u *upstreams) closeIdle() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, tr := range u.transports {
		tr.CloseIdleConnections()
	}
}
