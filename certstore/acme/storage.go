package acme

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// Storage is certmagic's Storage kept in Portico's SQLite database: every
// value is a row of acme_storage and every lock a row of acme_locks, so
// ACME accounts and locks survive restarts and are shared by every process
// on the database. It is safe for concurrent use.
type Storage struct {
	rdb, wdb *sql.DB
	log      *slog.Logger
	lockTTL  time.Duration
	poll     time.Duration

	mu   sync.Mutex // guards held
	held map[string]*heldLock
}

var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)

// DefaultLockTTL is how long a lock outlives its holder's last sign of
// life. A holder extends its locks every third of this, so a live holder's
// lock never expires and a crashed holder's lock expires within it.
const DefaultLockTTL = time.Minute

// NewStorage returns the storage on the database's writer and reader pools
// (certstore.SQLite's DB and ReadDB). A lockTTL of zero means
// DefaultLockTTL.
func NewStorage(wdb, rdb *sql.DB, lockTTL time.Duration, log *slog.Logger) *Storage {
	if lockTTL <= 0 {
		lockTTL = DefaultLockTTL
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Storage{
		rdb: rdb, wdb: wdb, log: log, lockTTL: lockTTL,
		poll: min(lockTTL/4, time.Second),
		held: map[string]*heldLock{},
	}
}

// checkKey rejects keys certmagic never makes: empty, with a leading or
// trailing slash, or with empty, "." or ".." components.
func checkKey(key string) error {
	if key == "" {
		return errors.New("acme storage: empty key")
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("acme storage: malformed key %q", key)
		}
	}
	return nil
}

// Store puts value at key, replacing any value there.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	_, err := s.wdb.ExecContext(ctx, `INSERT INTO acme_storage (key, value, modified) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, modified = excluded.modified`,
		key, value, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("storing %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key, or an error wrapping fs.ErrNotExist.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	err := s.rdb.QueryRowContext(ctx, `SELECT value FROM acme_storage WHERE key = ?`, key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("loading %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", key, err)
	}
	return value, nil
}

// Delete removes key and, when key is a directory, every key under it. A
// key that does not exist is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	lo, hi := childRange(key)
	_, err := s.wdb.ExecContext(ctx,
		`DELETE FROM acme_storage WHERE key = ? OR (key > ? AND key < ?)`, key, lo, hi)
	if err != nil {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a value or a directory of values.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under dir ("" for the top): when recursive, every
// value and directory at any depth; otherwise only those directly in dir.
// It returns an error wrapping fs.ErrNotExist when dir holds nothing.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	keys, err := s.keysUnder(ctx, dir)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if dir != "" && s.isValue(ctx, dir) {
			return []string{}, nil
		}
		return nil, fmt.Errorf("listing %s: %w", dir, fs.ErrNotExist)
	}

	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	seen := map[string]bool{}
	for _, key := range keys {
		rest := strings.TrimPrefix(key, prefix)
		parts := strings.Split(rest, "/")
		if !recursive {
			parts = parts[:1]
		}
		// Every directory on the way down is listed too, as a file
		// system walk would list it.
		for i := range parts {
			seen[prefix+strings.Join(parts[:i+1], "/")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// Stat describes key: a value (IsTerminal, with its size and time) or a
// directory of values. It returns an error wrapping fs.ErrNotExist when key
// is neither.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	var size, modified int64
	err := s.rdb.QueryRowContext(ctx,
		`SELECT length(value), modified FROM acme_storage WHERE key = ?`, key).Scan(&size, &modified)
	switch {
	case err == nil:
		return certmagic.KeyInfo{Key: key, Size: size, Modified: time.UnixMilli(modified), IsTerminal: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}

	lo, hi := childRange(key)
	var latest sql.NullInt64
	err = s.rdb.QueryRowContext(ctx,
		`SELECT max(modified) FROM acme_storage WHERE key > ? AND key < ?`, lo, hi).Scan(&latest)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	if !latest.Valid {
		return certmagic.KeyInfo{}, fmt.Errorf("stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, Modified: time.UnixMilli(latest.Int64)}, nil
}

// keysUnder returns every stored key under dir ("" for all).
func (s *Storage) keysUnder(ctx context.Context, dir string) ([]string, error) {
	q, args := `SELECT key FROM acme_storage ORDER BY key`, []any(nil)
	if dir != "" {
		lo, hi := childRange(dir)
		q, args = `SELECT key FROM acme_storage WHERE key > ? AND key < ? ORDER BY key`, []any{lo, hi}
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

func (s *Storage) isValue(ctx context.Context, key string) bool {
	var one int
	return s.rdb.QueryRowContext(ctx, `SELECT 1 FROM acme_storage WHERE key = ?`, key).Scan(&one) == nil
}

// childRange returns the bounds, both exclusive, of the keys under dir:
// every key starting with "dir/" sorts after "dir/" and before "dir0" ('0'
// follows '/'). A range instead of LIKE needs no escaping and uses the
// primary key's index.
func childRange(dir string) (lo, hi string) {
	return dir + "/", dir + "0"
}

// String names the storage in certmagic's logs.
func (s *Storage) String() string { return "portico sqlite storage" }
