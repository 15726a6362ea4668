package certstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

const tenantColumns = `id, domain, is_default, certificate, upstream, upstream_host, hsts_max_age,
	acme, created_at, updated_at`

func scanTenant(row interface{ Scan(...any) error }) (tenants.Tenant, error) {
	var t tenants.Tenant
	var cert sql.NullString
	var ca, ua, hsts int64
	if err := row.Scan(&t.ID, &t.Domain, &t.Default, &cert, &t.Upstream, &t.UpstreamHost,
		&hsts, &t.ACME, &ca, &ua); err != nil {
		return tenants.Tenant{}, err
	}
	t.Certificate = cert.String
	t.HSTSMaxAge = time.Duration(hsts) * time.Second
	t.CreatedAt, t.UpdatedAt = fromUnix(ca), fromUnix(ua)
	return t, nil
}

func tenantArgs(t tenants.Tenant) []any {
	var cert any
	if t.Certificate != "" {
		cert = t.Certificate
	}
	return []any{t.Domain, t.Default, cert, t.Upstream, t.UpstreamHost,
		int64(t.HSTSMaxAge / time.Second), t.ACME}
}

// tenantError turns constraint failures into the tenants package's errors.
func tenantError(ctx context.Context, tx *sql.Tx, err error, t tenants.Tenant) error {
	switch {
	case err == nil:
		return nil
	case isUniqueViolation(err, "tenants.is_default"):
		var current string
		tx.QueryRowContext(ctx, `SELECT domain FROM tenants WHERE is_default = 1`).Scan(&current)
		return fmt.Errorf("%w: %s (make it not the default first)", tenants.ErrSecondDefault, current)
	case isUniqueViolation(err, "tenants.domain"):
		return fmt.Errorf("%w: %s", tenants.ErrExists, t.Domain)
	case isForeignKeyViolation(err):
		return fmt.Errorf("%w: %q", tenants.ErrNoKeyPair, t.Certificate)
	}
	return err
}

// CreateTenant stores a new tenant.
func (s *SQLite) CreateTenant(ctx context.Context, t tenants.Tenant) (tenants.Tenant, error) {
	now := time.Now().UTC().Truncate(time.Second)
	t.CreatedAt, t.UpdatedAt = now, now
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO tenants (domain, is_default, certificate, upstream, upstream_host,
			 hsts_max_age, acme, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, append(tenantArgs(t), unix(now), unix(now))...)
		if err != nil {
			return tenantError(ctx, tx, err, t)
		}
		t.ID, err = res.LastInsertId()
		return err
	})
	return t, err
}

// UpdateTenant edits the tenant for domain in one transaction.
func (s *SQLite) UpdateTenant(ctx context.Context, domain string, change func(*tenants.Tenant) error) (tenants.Tenant, error) {
	var t tenants.Tenant
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRowContext(ctx,
			`SELECT `+tenantColumns+` FROM tenants WHERE domain = ?`, domain))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", tenants.ErrNotFound, domain)
		}
		if err != nil {
			return err
		}
		if err := change(&t); err != nil {
			return err
		}
		t.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		_, err = tx.ExecContext(ctx,
			`UPDATE tenants SET domain = ?, is_default = ?, certificate = ?, upstream = ?,
			 upstream_host = ?, hsts_max_age = ?, acme = ?, updated_at = ? WHERE id = ?`, append(tenantArgs(t), unix(t.UpdatedAt), t.ID)...)
		return tenantError(ctx, tx, err, t)
	})
	return t, err
}

// Tenant returns the tenant for domain.
func (s *SQLite) Tenant(ctx context.Context, domain string) (tenants.Tenant, error) {
	t, err := scanTenant(s.rdb.QueryRowContext(ctx,
		`SELECT `+tenantColumns+` FROM tenants WHERE domain = ?`, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("%w: %s", tenants.ErrNotFound, domain)
	}
	return t, err
}

// Tenants returns every tenant ordered by domain.
func (s *SQLite) Tenants(ctx context.Context) ([]tenants.Tenant, error) {
	return queryTenants(ctx, s.rdb, "")
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

// queryTenants reads the tenants that where (an SQL WHERE clause, or "")
// selects, ordered by domain.
func queryTenants(ctx context.Context, db querier, where string, args ...any) ([]tenants.Tenant, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+tenantColumns+` FROM tenants `+where+` ORDER BY domain`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tenants.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteTenant removes the tenant for domain.
func (s *SQLite) DeleteTenant(ctx context.Context, domain string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE domain = ?`, domain)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", tenants.ErrNotFound, domain)
		}
		return nil
	})
}

// ChangesSince reads, in one read transaction, the tenants and keypair
// summaries stamped after generation since and the deletions after it.
func (s *SQLite) ChangesSince(ctx context.Context, since uint64) (Changes, error) {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Changes{}, err
	}
	defer tx.Rollback()

	ch := Changes{Since: since}
	if err := tx.QueryRowContext(ctx, `SELECT n FROM generation WHERE id = 1`).Scan(&ch.Generation); err != nil {
		return Changes{}, err
	}
	if ch.Generation == since {
		return ch, nil
	}
	if ch.Tenants, err = queryTenants(ctx, tx, `WHERE seq > ?`, since); err != nil {
		return Changes{}, err
	}
	if ch.KeyPairs, err = querySummaries(ctx, tx, since); err != nil {
		return Changes{}, err
	}
	if since > 0 {
		if err := queryDeletions(ctx, tx, since, &ch); err != nil {
			return Changes{}, err
		}
	}
	return ch, nil
}

func querySummaries(ctx context.Context, tx *sql.Tx, since uint64) ([]KeyPairSummary, error) {
	rows, err := tx.QueryContext(ctx,
		`SELECT name, revision, key_pem IS NOT NULL, not_after FROM keypairs WHERE seq > ?`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeyPairSummary
	for rows.Next() {
		var k KeyPairSummary
		var na int64
		if err := rows.Scan(&k.Name, &k.Revision, &k.HasKey, &na); err != nil {
			return nil, err
		}
		k.NotAfter = fromUnix(na)
		out = append(out, k)
	}
	return out, rows.Err()
}

func queryDeletions(ctx context.Context, tx *sql.Tx, since uint64, ch *Changes) error {
	rows, err := tx.QueryContext(ctx, `SELECT kind, key FROM deletions WHERE seq > ? ORDER BY seq`, since)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, key string
		if err := rows.Scan(&kind, &key); err != nil {
			return err
		}
		switch kind {
		case "tenant":
			id, err := strconv.ParseInt(key, 10, 64)
			if err != nil {
				return fmt.Errorf("deletion of tenant %q: %w", key, err)
			}
			ch.DeletedTenants = append(ch.DeletedTenants, id)
		case "keypair":
			ch.DeletedKeyPairs = append(ch.DeletedKeyPairs, key)
		}
	}
	return rows.Err()
}
