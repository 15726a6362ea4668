package acme

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/tenants"
)

// Results of an attempt, as kept in acme_state.last_result.
const (
	ResultOK    = "ok"
	ResultError = "error"
)

// state is one ACME tenant's row of acme_state. A zero time means never
// (or, for NextAttempt, as soon as possible).
type state struct {
	Domain      string
	LastAttempt time.Time
	LastResult  string
	LastError   string
	Failures    int
	NextAttempt time.Time
	ARISelected time.Time // the CA's suggested renewal time (ARI)
	ARINext     time.Time // when ARI is worth asking for again
}

func fromUnixOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// loadState returns the state of domain; a domain never tried has a zero
// state.
func loadState(ctx context.Context, db *sql.DB, domain string) (state, error) {
	st := state{Domain: domain}
	var last, next, ariSel, ariNext int64
	err := db.QueryRowContext(ctx, `SELECT last_attempt, last_result, last_error, failures,
		next_attempt, ari_selected, ari_next FROM acme_state WHERE domain = ?`, domain).
		Scan(&last, &st.LastResult, &st.LastError, &st.Failures, &next, &ariSel, &ariNext)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading ACME state of %s: %w", domain, err)
	}
	st.LastAttempt, st.NextAttempt = fromUnixOrZero(last), fromUnixOrZero(next)
	st.ARISelected, st.ARINext = fromUnixOrZero(ariSel), fromUnixOrZero(ariNext)
	return st, nil
}

// saveState writes st as domain's whole row.
func saveState(ctx context.Context, db *sql.DB, st state, now time.Time) error {
	_, err := db.ExecContext(ctx, `INSERT INTO acme_state (domain, last_attempt, last_result,
		last_error, failures, next_attempt, ari_selected, ari_next, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (domain) DO UPDATE SET last_attempt = excluded.last_attempt,
		last_result = excluded.last_result, last_error = excluded.last_error,
		failures = excluded.failures, next_attempt = excluded.next_attempt,
		ari_selected = excluded.ari_selected, ari_next = excluded.ari_next,
		updated_at = excluded.updated_at`,
		st.Domain, unixOrZero(st.LastAttempt), st.LastResult, st.LastError, st.Failures,
		unixOrZero(st.NextAttempt), unixOrZero(st.ARISelected), unixOrZero(st.ARINext), now.Unix())
	if err != nil {
		return fmt.Errorf("writing ACME state of %s: %w", st.Domain, err)
	}
	return nil
}

// KeyPairName returns the name of the keypair that holds domain's ACME
// certificate: the reserved prefix and the domain.
func KeyPairName(domain string) string { return certstore.ACMENamePrefix + domain }

// Status is what `portico acme status` shows for one ACME tenant. Times are
// zero where there is nothing to show.
type Status struct {
	Domain  string
	KeyPair string // the ACME keypair's name, "" until one was issued
	Serving bool   // whether the tenant serves the ACME keypair
	Names   []string
	// NotAfter is the ACME certificate's expiry.
	NotAfter    time.Time
	LastAttempt time.Time
	LastResult  string // "", ResultOK or ResultError
	LastError   string // why the last attempt failed; never holds credentials
	Failures    int    // failed attempts since the last success
	// NextAttempt is when a running server next tries: the renewal time,
	// or the end of the back-off after a failure. Zero means as soon as
	// a server runs.
	NextAttempt time.Time
}

// ReadStatus returns the status of every ACME tenant, ordered by domain,
// read from the database alone: it works from any process while (or
// without) a server runs.
func ReadStatus(ctx context.Context, store *certstore.SQLite) ([]Status, error) {
	ts, err := store.Tenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, t := range ts {
		if !t.ACME {
			continue
		}
		s, err := readOne(ctx, store, t)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func readOne(ctx context.Context, store *certstore.SQLite, t tenants.Tenant) (Status, error) {
	st, err := loadState(ctx, store.ReadDB(), t.Domain)
	if err != nil {
		return Status{}, err
	}
	s := Status{Domain: t.Domain, LastAttempt: st.LastAttempt, LastResult: st.LastResult,
		LastError: st.LastError, Failures: st.Failures, NextAttempt: st.NextAttempt}
	kp, err := store.KeyPair(ctx, KeyPairName(t.Domain))
	switch {
	case errors.Is(err, certstore.ErrNotFound):
	case err != nil:
		return Status{}, err
	default:
		s.KeyPair, s.Names, s.NotAfter = kp.Name, kp.DNSNames, kp.NotAfter
		s.Serving = t.Certificate == kp.Name
	}
	return s, nil
}
