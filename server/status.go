package server

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// SnapshotStatus describes the published serving snapshot.
type SnapshotStatus struct {
	Published  bool      // false until the first snapshot is published
	Generation uint64    // store generation it was built from
	BuiltAt    time.Time // when it was built
	Tenants    int       // tenants that can serve (with a usable keypair)
}

// SnapshotStatus returns what the published snapshot is. It is safe for
// concurrent use and does not block.
func (s *Server) SnapshotStatus() SnapshotStatus {
	sn := s.snap.Load()
	if sn == nil {
		return SnapshotStatus{}
	}
	return SnapshotStatus{Published: true, Generation: sn.generation, BuiltAt: sn.builtAt, Tenants: sn.index.Len()}
}

// readyTimeout bounds the store read behind a readiness check.
const readyTimeout = 2 * time.Second

// Ready reports why the server cannot serve yet, or nil: the store must be
// readable and a snapshot published.
func (s *Server) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if _, err := s.store.Generation(ctx); err != nil {
		return errStoreUnreadable
	}
	if s.snap.Load() == nil {
		return errNoSnapshot
	}
	return nil
}

// ready answers /-/ready: 200 when Ready is nil, 503 with the reason
// otherwise.
func (s *Server) ready(c echo.Context) error {
	if err := s.Ready(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
