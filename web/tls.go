package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/portico-proxy/portico/certstore"
)

// certSource keeps the admin listener's certificate: the keypair named
// name, loaded again whenever its revision changes in the store, so that a
// renewed default keypair is served without a restart. A keypair that goes
// away or breaks leaves the last good certificate serving.
type certSource struct {
	store certstore.Store
	name  string
	log   *slog.Logger
	cur   atomic.Pointer[loadedCert]
}

type loadedCert struct {
	revision string
	cert     *tls.Certificate
}

func newCertSource(store certstore.Store, name string, log *slog.Logger) *certSource {
	return &certSource{store: store, name: name, log: log}
}

// load reads the keypair again when its revision differs from the one
// serving.
func (c *certSource) load(ctx context.Context) error {
	kp, err := c.store.KeyPair(ctx, c.name)
	if err != nil {
		return fmt.Errorf("keypair %q: %w", c.name, err)
	}
	if !kp.HasKey {
		return fmt.Errorf("keypair %q has no private key", c.name)
	}
	if cur := c.cur.Load(); cur != nil && cur.revision == kp.Revision {
		return nil
	}
	mats, err := c.store.Material(ctx, []string{c.name})
	if err != nil || len(mats) == 0 {
		return fmt.Errorf("reading keypair %q: %w", c.name, errors.Join(err, certstore.ErrNotFound))
	}
	cert, err := tls.X509KeyPair(mats[0].ChainPEM, mats[0].KeyPEM)
	if err != nil {
		return fmt.Errorf("keypair %q cannot be served: %w", c.name, err)
	}
	c.cur.Store(&loadedCert{revision: mats[0].Revision, cert: &cert})
	return nil
}

// follow reloads the certificate on every store change until ctx ends.
func (c *certSource) follow(ctx context.Context) {
	for range c.store.Changes(ctx) {
		if err := c.load(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("admin certificate not reloaded; serving the last good one", "keypair", c.name, "err", err)
		}
	}
}

// get returns the certificate for every admin handshake.
func (c *certSource) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cur := c.cur.Load(); cur != nil {
		return cur.cert, nil
	}
	return nil, errors.New("web: no admin certificate loaded")
}
