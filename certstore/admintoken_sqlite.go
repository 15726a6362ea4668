package certstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

var _ TokenStore = (*SQLite)(nil)

// AdminToken returns the stored admin token hash.
func (s *SQLite) AdminToken(ctx context.Context) (TokenHash, error) {
	var h TokenHash
	var created int64
	err := s.rdb.QueryRowContext(ctx,
		`SELECT salt, hash, created_at FROM admin_token WHERE id = 1`).Scan(&h.Salt, &h.Hash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return TokenHash{}, fmt.Errorf("admin token: %w", ErrNotFound)
	}
	if err != nil {
		return TokenHash{}, fmt.Errorf("reading admin token: %w", err)
	}
	h.CreatedAt = fromUnix(created)
	return h, nil
}

// SetAdminToken stores the admin token hash; see TokenStore.
func (s *SQLite) SetAdminToken(ctx context.Context, h TokenHash, replace bool) error {
	q := `INSERT INTO admin_token (id, salt, hash, created_at) VALUES (1, ?, ?, ?)`
	if replace {
		q += ` ON CONFLICT (id) DO UPDATE SET salt = excluded.salt, hash = excluded.hash,
			created_at = excluded.created_at`
	} else {
		q += ` ON CONFLICT (id) DO NOTHING`
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, q, h.Salt, h.Hash, unix(h.CreatedAt))
		if err != nil {
			return fmt.Errorf("storing admin token: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("admin token: %w", ErrExists)
		}
		return nil
	})
}
