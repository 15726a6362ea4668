// Package tenants holds tenant records and the rule that picks the tenant
// serving a TLS server name or an HTTP host.
package tenants

import (
	"context"
	"errors"
	"time"
)

// Tenant is one site Portico serves: a domain (and its subdomains), the
// keypair it serves, and where its requests go.
type Tenant struct {
	ID          int64
	Domain      string // normalised: lower-case ASCII, no trailing dot
	Default     bool   // serves names no other tenant covers; at most one tenant
	Certificate string // name of the keypair it serves; "" for none

	// Upstream is the URL requests are proxied to ("" for the server's
	// default upstream); see CheckUpstream.
	Upstream string
	// UpstreamHost sends the upstream's own host in the Host header instead
	// of the client's.
	UpstreamHost bool
	// HSTSMaxAge, when positive, adds a Strict-Transport-Security header
	// with this max-age to every response.
	HSTSMaxAge time.Duration
	// ACME has Portico obtain and renew the tenant's certificate (for the
	// domain and *.domain) through ACME DNS-01.
	ACME bool

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Sentinel errors returned by tenant stores.
var (
	ErrNotFound      = errors.New("tenants: no such tenant")
	ErrExists        = errors.New("tenants: a tenant with this domain exists")
	ErrSecondDefault = errors.New("tenants: another tenant is already the default")
	ErrNoKeyPair     = errors.New("tenants: no such keypair")
)

// Store keeps tenant records. Implementations are safe for concurrent use;
// every method is one transaction.
type Store interface {
	// CreateTenant stores a new tenant. Its domain must already be
	// normalised with NormalizeDomain.
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)
	// UpdateTenant reads the tenant for domain, lets change edit it and
	// writes the result, all in one transaction. An error from change
	// aborts the update.
	UpdateTenant(ctx context.Context, domain string, change func(*Tenant) error) (Tenant, error)
	// Tenant returns the tenant for domain, or ErrNotFound.
	Tenant(ctx context.Context, domain string) (Tenant, error)
	// Tenants returns every tenant ordered by domain.
	Tenants(ctx context.Context) ([]Tenant, error)
	// DeleteTenant removes the tenant for domain, or returns ErrNotFound.
	DeleteTenant(ctx context.Context, domain string) error
}
