package certstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// busyTimeout is how long a statement waits for another connection's or
// process's write lock before it fails.
const busyTimeout = 10 * time.Second

// pollInterval is how often Changes looks for commits made by other
// processes: a PRAGMA on a connection of its own, cheap enough to be lost in
// the noise when idle (about 0.1% of one core here), and well inside the
// 2-second promise for serving a change.
const pollInterval = 500 * time.Millisecond

// SQLite is the Store kept in one SQLite file in WAL mode.
type SQLite struct {
	path string
	rdb  *sql.DB // readers: deferred transactions see one snapshot
	wdb  *sql.DB // one writer: immediate transactions, no lock upgrades
	log  *slog.Logger

	mu      sync.Mutex // guards waiters
	waiters []chan struct{}
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (and creates, with its folder) the database at path,
// brings its schema up to date and returns the store. A new file is made
// 0600 and a new folder 0700.
func OpenSQLite(ctx context.Context, path string, log *slog.Logger) (*SQLite, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating data folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	f.Close()
	warnIfShared(log, path)

	dsn := func(lock string) string {
		q := url.Values{}
		q.Set("_journal_mode", "WAL")
		q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
		q.Set("_foreign_keys", "1")
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", lock)
		return "file:" + path + "?" + q.Encode()
	}
	s := &SQLite{path: path, log: log}
	if s.wdb, err = sql.Open("sqlite3", dsn("immediate")); err != nil {
		return nil, err
	}
	s.wdb.SetMaxOpenConns(1)
	if s.rdb, err = sql.Open("sqlite3", dsn("deferred")); err != nil {
		s.wdb.Close()
		return nil, err
	}
	s.rdb.SetMaxOpenConns(4)

	if err := migrate(ctx, s.wdb); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	return s, nil
}

// warnIfShared warns when the database, which holds private keys, or its
// folder can be read by others: Portico makes both private when it creates
// them, but leaves existing ones as they are.
func warnIfShared(log *slog.Logger, path string) {
	for _, p := range []string{filepath.Dir(path), path} {
		if info, err := os.Stat(p); err == nil && info.Mode().Perm()&0o077 != 0 {
			log.Warn("database or its folder is open to other users; it holds private keys",
				"path", p, "mode", info.Mode().Perm().String())
		}
	}
}

// Path returns the database file's path.
func (s *SQLite) Path() string { return s.path }

// DB returns the writer connection pool, for packages that keep their own
// tables in the same database (such as ACME storage). Writes through it must
// be short transactions.
func (s *SQLite) DB() *sql.DB { return s.wdb }

// ReadDB returns the reader connection pool.
func (s *SQLite) ReadDB() *sql.DB { return s.rdb }

// Close closes both connection pools.
func (s *SQLite) Close() error {
	return errors.Join(s.rdb.Close(), s.wdb.Close())
}

// write runs fn in an immediate transaction and tells this process's
// watchers about the commit at once, without waiting for their next poll.
func (s *SQLite) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.nudge()
	return nil
}

func (s *SQLite) nudge() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.waiters {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// Generation returns the store's current generation.
func (s *SQLite) Generation(ctx context.Context) (uint64, error) {
	var n uint64
	err := s.rdb.QueryRowContext(ctx, "SELECT n FROM generation WHERE id = 1").Scan(&n)
	return n, err
}

// Changes reports new generations, polled every pollInterval and at once
// after a write made through this store.
func (s *SQLite) Changes(ctx context.Context) <-chan uint64 {
	out := make(chan uint64, 1)
	wake := make(chan struct{}, 1)
	s.mu.Lock()
	s.waiters = append(s.waiters, wake)
	s.mu.Unlock()

	// The starting point is read before returning, so that no commit made
	// after Changes returns can be missed.
	w, err := s.newWatcher(ctx)
	if err != nil {
		s.log.Warn("watching the store for changes", "err", err)
	}
	go func() {
		defer close(out)
		defer s.dropWaiter(wake)
		defer w.close()
		tick := time.NewTicker(pollInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-wake:
			}
			gen, changed, err := w.poll()
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("reading store generation", "err", err)
				}
				continue
			}
			if !changed {
				continue
			}
			// Keep only the newest generation if the reader is behind.
			select {
			case <-out:
			default:
			}
			out <- gen
		}
	}()
	return out
}

// watcher polls the store's generation on a connection of its own, so
// that an idle poll is one cheap prepared statement: PRAGMA data_version,
// which changes only when another connection (or process) has committed.
type watcher struct {
	conn    *sql.Conn
	version *sql.Stmt
	gen     *sql.Stmt
	lastVer int64
	lastGen uint64
}

func (s *SQLite) newWatcher(ctx context.Context) (*watcher, error) {
	// Statements run without cancellation: database/sql then needs no
	// goroutine per query, which is most of an idle poll's cost. They are
	// quick reads; the goroutine's own select handles ctx.
	bg := context.WithoutCancel(ctx)
	conn, err := s.rdb.Conn(bg)
	if err != nil {
		return &watcher{}, err
	}
	w := &watcher{conn: conn}
	if w.version, err = conn.PrepareContext(bg, "PRAGMA data_version"); err == nil {
		w.gen, err = conn.PrepareContext(bg, "SELECT n FROM generation WHERE id = 1")
	}
	if err == nil {
		_, _, err = w.poll()
	}
	return w, err
}

// poll returns the current generation and whether it differs from the
// last poll's.
func (w *watcher) poll() (uint64, bool, error) {
	if w.conn == nil {
		return 0, false, errors.New("no connection to poll")
	}
	bg := context.Background()
	var ver int64
	if err := w.version.QueryRowContext(bg).Scan(&ver); err != nil {
		return 0, false, err
	}
	if ver == w.lastVer && w.lastGen != 0 {
		return w.lastGen, false, nil
	}
	w.lastVer = ver
	var gen uint64
	if err := w.gen.QueryRowContext(bg).Scan(&gen); err != nil {
		return 0, false, err
	}
	changed := gen != w.lastGen && w.lastGen != 0
	w.lastGen = gen
	return gen, changed, nil
}

func (w *watcher) close() {
	if w.conn != nil {
		w.version.Close()
		w.gen.Close()
		w.conn.Close()
	}
}

func (s *SQLite) dropWaiter(w chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			return
		}
	}
}

// isUniqueViolation reports whether err is a UNIQUE constraint failure,
// optionally on the named column ("tenants.is_default").
func isUniqueViolation(err error, column string) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrConstraint {
		return false
	}
	return strings.Contains(se.Error(), "UNIQUE constraint failed: "+column)
}

// isForeignKeyViolation reports whether err is a FOREIGN KEY constraint
// failure. SQLite does not always set the extended code for these, so the
// message decides.
func isForeignKeyViolation(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint &&
		strings.Contains(se.Error(), "FOREIGN KEY constraint failed")
}

func unix(t time.Time) int64 { return t.Unix() }

func fromUnix(n int64) time.Time { return time.Unix(n, 0).UTC() }

func encodeNames(names []string) string {
	if names == nil {
		names = []string{}
	}
	b, _ := json.Marshal(names)
	return string(b)
}

func decodeNames(s string) []string {
	var names []string
	json.Unmarshal([]byte(s), &names)
	return names
}
