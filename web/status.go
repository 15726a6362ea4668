package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/portico-proxy/portico/tenants"
)

// DiscoveryStatus reports on certificate discovery. The discovery package
// (or an adapter over it in cmd/portico) implements it; without one the
// admin listener shows discovery as not configured.
type DiscoveryStatus interface {
	// LastDiscovery returns the report of the last finished pass, and
	// false before the first. It is safe for concurrent use and does not
	// block on a pass in progress.
	LastDiscovery() (DiscoveryReport, bool)
}

// DiscoveryReport is what one discovery pass found.
type DiscoveryReport struct {
	Root     string    `json:"root"`     // the folder walked
	Started  time.Time `json:"started"`  // when the pass began
	Finished time.Time `json:"finished"` // when it ended
	// Error says why the folder could not be read at all; "" when the pass
	// completed, even with files skipped.
	Error    string              `json:"error,omitempty"`
	KeyPairs []DiscoveredKeyPair `json:"keypairs"`
	Skipped  []SkippedFile       `json:"skipped"`
}

// DiscoveredKeyPair is one keypair a pass wrote or found unchanged.
type DiscoveredKeyPair struct {
	Name    string `json:"name"`
	Path    string `json:"path"`    // the certificate file
	Outcome string `json:"outcome"` // created, updated, unchanged or missing
}

// SkippedFile is a file a pass could not use, and why.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ACMEStatus reports on ACME certificates. The acme package (or an adapter
// in cmd/portico) implements it; without one ACME shows as not configured.
type ACMEStatus interface {
	// ACMETenants returns the state of every tenant ACME manages. It is
	// safe for concurrent use and answers from memory or the store, never
	// from the CA.
	ACMETenants(ctx context.Context) ([]ACMETenant, error)
}

// ACMETenant is one ACME-managed tenant's certificate state.
type ACMETenant struct {
	Domain      string    `json:"domain"`
	KeyPair     string    `json:"keypair,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastResult  string    `json:"last_result,omitempty"` // success or failure
	LastError   string    `json:"last_error,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
}

// statusJSON is GET /api/v1/status.
type statusJSON struct {
	Version   string        `json:"version"`
	StartedAt time.Time     `json:"started_at"`
	Uptime    float64       `json:"uptime_seconds"`
	Snapshot  snapshotJSON  `json:"snapshot"`
	Discovery discoveryJSON `json:"discovery"`
	ACME      acmeJSON      `json:"acme"`
}

type snapshotJSON struct {
	Published  bool      `json:"published"`
	Generation uint64    `json:"generation"`
	BuiltAt    time.Time `json:"built_at,omitzero"`
	Tenants    int       `json:"tenants"`
}

type discoveryJSON struct {
	Configured bool             `json:"configured"`
	LastPass   *DiscoveryReport `json:"last_pass,omitempty"`
}

type acmeJSON struct {
	Configured bool         `json:"configured"`
	Tenants    []acmeTenant `json:"tenants"`
}

// acmeTenant is an ACME tenant in the status: its state, or "not
// configured" while no ACME subsystem reports.
type acmeTenant struct {
	ACMETenant
	State string `json:"state"` // ok, failing, pending or not configured
}

// status gathers the status document.
func (s *Server) status(ctx context.Context) (statusJSON, error) {
	now := s.now()
	st := statusJSON{
		Version:   s.cfg.Version,
		StartedAt: s.started.UTC(),
		Uptime:    now.Sub(s.started).Seconds(),
	}
	if s.deps.Snapshots != nil {
		ss := s.deps.Snapshots.SnapshotStatus()
		st.Snapshot = snapshotJSON{ss.Published, ss.Generation, ss.BuiltAt.UTC(), ss.Tenants}
	}
	if s.deps.Discovery != nil {
		st.Discovery.Configured = true
		if r, ok := s.deps.Discovery.LastDiscovery(); ok {
			st.Discovery.LastPass = &r
		}
	}
	acme, err := s.acmeState(ctx)
	st.ACME = acme
	return st, err
}

// acmeState lists every tenant with the ACME flag and what ACME reports
// about it.
func (s *Server) acmeState(ctx context.Context) (acmeJSON, error) {
	ts, err := s.deps.Store.Tenants(ctx)
	if err != nil {
		return acmeJSON{}, err
	}
	out := acmeJSON{Configured: s.deps.ACME != nil, Tenants: []acmeTenant{}}
	reported := map[string]ACMETenant{}
	if s.deps.ACME != nil {
		states, err := s.deps.ACME.ACMETenants(ctx)
		if err != nil {
			return acmeJSON{}, err
		}
		for _, a := range states {
			reported[a.Domain] = a
		}
	}
	for _, t := range ts {
		if !t.ACME {
			continue
		}
		out.Tenants = append(out.Tenants, acmeTenantState(t, reported, out.Configured))
	}
	return out, nil
}

func acmeTenantState(t tenants.Tenant, reported map[string]ACMETenant, configured bool) acmeTenant {
	a, ok := reported[t.Domain]
	if !ok {
		a = ACMETenant{Domain: t.Domain}
	}
	state := "pending"
	switch {
	case !configured:
		state = "not configured"
	case a.LastResult == "failure":
		state = "failing"
	case a.LastResult == "success":
		state = "ok"
	}
	return acmeTenant{a, state}
}

// apiStatus answers GET /api/v1/status.
func (s *Server) apiStatus(c echo.Context) error {
	st, err := s.status(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, st)
}
