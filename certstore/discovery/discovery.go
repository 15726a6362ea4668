// Package discovery keeps the certificate store in step with a folder tree
// of certificates: a certbot configuration folder, Kubernetes TLS secret
// mounts, or plain PEM files. It names keypairs from the layout, writes new
// and changed ones through the store's validation, marks the ones whose
// files are gone as missing, and never deletes a keypair or overwrites one
// it does not manage.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/metrics"
)

// Store is what discovery needs from the certificate store.
type Store interface {
	PutKeyPairs(ctx context.Context, ins []certstore.Input) []certstore.PutResult
	KeyPairs(ctx context.Context) ([]certstore.KeyPair, error)
	SetKeyPairStatus(ctx context.Context, name, status string) error
}

// StatusMissing is the keypair status discovery sets when a keypair's files
// are gone.
const StatusMissing = "missing"

// Config holds discovery's settings; the zero value of a field means its
// default.
type Config struct {
	// Root is the folder to discover keypairs in.
	Root string
	// Interval is how often the whole tree is read again, as a safety net
	// behind file-system events. Default 5 minutes.
	Interval time.Duration
	// Quiet is how long the tree must be still after a file-system event
	// before it is read, so that a renewal written in several steps is read
	// once it is whole. Default 1 second.
	Quiet time.Duration
	// MaxDelay bounds how long a stream of events can put a pass off.
	// Default 5 seconds.
	MaxDelay time.Duration
	// Metrics, when set, counts passes and skipped files for /metrics.
	Metrics *metrics.Discovery
	// Now is the clock that tells expired certificates, and how long ago a
	// file last changed (see settle). Default time.Now.
	Now func() time.Time
}

// Defaults for Config.
const (
	DefaultInterval = 5 * time.Minute
	DefaultQuiet    = time.Second
	DefaultMaxDelay = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Quiet <= 0 {
		c.Quiet = DefaultQuiet
	}
	if c.MaxDelay <= 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Discoverer keeps a store in step with one folder tree. Its methods are
// safe for concurrent use; passes run one at a time.
type Discoverer struct {
	cfg   Config
	root  string // absolute
	store Store
	log   *slog.Logger

	passMu  sync.Mutex        // serialises passes; guards the fields below
	files   map[string]known  // what the last pass learnt of each file, by path
	logged  map[string]string // what each logged problem was about, to log it once per change
	watcher *fsnotify.Watcher
	watched map[string]bool

	// unwatchable counts the folders the current pass could not watch,
	// with the first error; lastUnwatchable is the last pass's count.
	unwatchable, lastUnwatchable int
	unwatchableErr               error

	lastMu sync.Mutex // guards last
	last   *LastPass  // the last finished pass; nil before the first

	rescan chan struct{}
	mu     sync.Mutex         // guards cancel
	cancel context.CancelFunc // set by Start
	done   chan struct{}      // closed when Start's background work ends
}

// New returns a Discoverer for cfg.Root writing to store. Nothing happens
// until Pass or Start.
func New(cfg Config, store Store, log *slog.Logger) (*Discoverer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Root == "" {
		return nil, errors.New("discovery folder is not set")
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("resolving discovery folder %s: %w", cfg.Root, err)
	}
	return &Discoverer{
		cfg:     cfg.withDefaults(),
		root:    root,
		store:   store,
		log:     log.With("certs", root),
		logged:  map[string]string{},
		watched: map[string]bool{},
		rescan:  make(chan struct{}, 1),
		done:    make(chan struct{}),
	}, nil
}

// Root returns the absolute path of the folder discovered.
func (d *Discoverer) Root() string { return d.root }

// Pass reads the whole tree once and brings the store in step with it. It
// fails only when the root folder cannot be read at all or the store cannot
// be listed; every problem with a file or a keypair is a line of the report
// instead, and never stops the pass.
func (d *Discoverer) Pass(ctx context.Context) (*Report, error) {
	d.passMu.Lock()
	defer d.passMu.Unlock()
	start := time.Now()
	rep, err := d.pass(ctx, start)
	if ctx.Err() == nil {
		d.record(LastPass{Report: rep, Started: start, Finished: time.Now(), Err: err})
	}
	return rep, err
}

// LastPass is a finished pass, as the admin listener shows it.
type LastPass struct {
	Report            *Report // nil when Err is set
	Started, Finished time.Time
	Err               error // why the folder could not be read at all
}

// LastPass returns the last finished pass, and false before the first. It
// does not wait for a pass in progress.
func (d *Discoverer) LastPass() (LastPass, bool) {
	d.lastMu.Lock()
	defer d.lastMu.Unlock()
	if d.last == nil {
		return LastPass{}, false
	}
	return *d.last, true
}

func (d *Discoverer) record(last LastPass) {
	d.lastMu.Lock()
	d.last = &last
	d.lastMu.Unlock()
	d.cfg.Metrics.Pass(last.Err)
	if last.Report != nil {
		d.cfg.Metrics.Skipped(last.Report.SkipCounts())
	}
}

// pass is Pass, with passMu held.
func (d *Discoverer) pass(ctx context.Context, start time.Time) (*Report, error) {

	seen := map[string]bool{}
	d.unwatchable, d.unwatchableErr = 0, nil
	var watch func(string)
	if d.watcher != nil {
		watch = func(dir string) { d.watch(dir, seen) }
	}
	w := newWalker(ctx, d.cfg.Now, d.files, watch)
	w.debug = d.log.Enabled(ctx, slog.LevelDebug)
	if err := w.walk(d.root); err != nil {
		return nil, err
	}
	d.files = w.next
	if d.watcher != nil {
		d.unwatchExcept(seen)
		d.logUnwatchable()
	}

	stored, err := d.store.KeyPairs(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing stored keypairs: %w", err)
	}
	byName := make(map[string]certstore.KeyPair, len(stored))
	for _, kp := range stored {
		byName[kp.Name] = kp
	}

	rep := &Report{Root: d.root, Skipped: w.out.skipped, read: w.out.read}
	sources := groupSources(w.out.files)
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	var b batch
	for _, name := range names {
		cur, ok := byName[name]
		d.apply(rep, sources[name], cur, ok, &b)
		if len(b.ins) >= batchSize {
			d.flush(ctx, rep, &b)
		}
	}
	d.flush(ctx, rep, &b)
	d.markMissing(ctx, rep, stored, sources, w.out.unreadable)

	sort.SliceStable(rep.KeyPairs, func(i, j int) bool {
		a, b := rep.KeyPairs[i], rep.KeyPairs[j]
		return a.Name < b.Name || a.Name == b.Name && a.Path < b.Path
	})
	sort.SliceStable(rep.Skipped, func(i, j int) bool { return rep.Skipped[i].Path < rep.Skipped[j].Path })
	rep.Took = time.Since(start)
	d.logReport(rep, w.out.quiet)
	return rep, nil
}

// batchSize bounds how many keypairs one transaction writes, so that a
// cold pass over a large tree holds the write lock for short spells.
const batchSize = 1000

// batch is the writes a pass has decided on and not made yet.
type batch struct {
	ins    []certstore.Input
	srcs   []*source
	stored []bool // whether a keypair of that name was stored before
}

// apply decides what to do about the keypair named by srcs: it reports
// conflicts, problems and unchanged keypairs at once and adds a write of
// the first source to b when the store does not already hold it. cur is the
// stored keypair of that name when exists is true.
func (d *Discoverer) apply(rep *Report, srcs []*source, cur certstore.KeyPair, exists bool, b *batch) {
	s := srcs[0]
	for _, lost := range srcs[1:] {
		rep.add(KeyPairLine{Name: s.name, Action: Conflict, Path: lost.origin(),
			Reason: fmt.Sprintf("the name is also given by %s, which is used", s.origin())})
	}
	for _, f := range s.extra {
		rep.add(KeyPairLine{Name: s.name, Action: Conflict, Path: f.path,
			Reason: fmt.Sprintf("another file in the folder gives the same keypair (%s)", s.origin()), stamp: shortSum(f.sum)})
	}

	if exists && cur.Source != certstore.SourceDiscovered {
		rep.add(KeyPairLine{Name: s.name, Action: Conflict, Path: s.origin(),
			Reason: fmt.Sprintf("keypair %q exists with source %s; discovery never overwrites it", s.name, cur.Source)})
		return
	}
	if s.problem != "" {
		rep.add(KeyPairLine{Name: s.name, Action: Rejected, Path: s.problemPath, Reason: s.problem + keptNote(exists)})
		return
	}

	// The digest covers the files' paths and content: when it is the one
	// stored, the keypair is what they make, with no need to read or parse
	// them.
	if exists && cur.Origin == s.origin() && cur.OriginDigest == s.digest() && cur.Status == "" {
		rep.add(d.keyPairLine(s, cur, Unchanged))
		return
	}
	if err := s.load(); err != nil {
		rep.add(KeyPairLine{Name: s.name, Action: Rejected, Path: s.origin(), Reason: err.Error() + keptNote(exists)})
		return
	}
	in := s.input()
	in.OriginDigest = s.digest()
	b.ins = append(b.ins, in)
	b.srcs = append(b.srcs, s)
	b.stored = append(b.stored, exists)
}

// flush writes b through the store and reports each outcome.
func (d *Discoverer) flush(ctx context.Context, rep *Report, b *batch) {
	if len(b.ins) == 0 {
		return
	}
	for i, res := range d.store.PutKeyPairs(ctx, b.ins) {
		s := b.srcs[i]
		var inErr *certstore.InputError
		switch {
		case errors.As(res.Err, &inErr):
			// The error names the file at fault, or a field (the name).
			path, reason := inErr.Input, inErr.Reason
			if !s.holds(path) {
				path, reason = s.origin(), inErr.Error()
			}
			rep.add(KeyPairLine{Name: s.name, Action: Rejected, Path: path,
				Reason: reason + keptNote(b.stored[i]), stamp: b.ins[i].OriginDigest})
		case errors.Is(res.Err, certstore.ErrConflict):
			rep.add(KeyPairLine{Name: s.name, Action: Conflict, Path: s.origin(),
				Reason: fmt.Sprintf("keypair %q is managed by another source; discovery never overwrites it", s.name)})
		case res.Err != nil:
			rep.add(KeyPairLine{Name: s.name, Action: Failed, Path: s.origin(), Reason: res.Err.Error()})
		default:
			rep.add(d.keyPairLine(s, res.KeyPair, Action(res.Outcome)))
		}
	}
	*b = batch{}
}

func keptNote(stored bool) string {
	if stored {
		return "; the stored keypair is kept"
	}
	return ""
}

// keyPairLine is the line for keypair kp stored from s, with a note when
// its certificate has expired.
func (d *Discoverer) keyPairLine(s *source, kp certstore.KeyPair, a Action) KeyPairLine {
	l := KeyPairLine{Name: s.name, Action: a, Path: s.origin(), stamp: kp.Revision}
	if now := d.cfg.Now(); !kp.NotAfter.IsZero() && now.After(kp.NotAfter) {
		l.Reason = "certificate expired on " + kp.NotAfter.Format(time.DateOnly)
	}
	return l
}

// markMissing marks missing every keypair discovered from under the root
// that no file gives to any more. Keypairs below a folder that could not be
// read are left as they are: their files may well be there.
func (d *Discoverer) markMissing(ctx context.Context, rep *Report, stored []certstore.KeyPair, sources map[string][]*source, unreadable []string) {
	for _, kp := range stored {
		if kp.Source != certstore.SourceDiscovered || sources[kp.Name] != nil || !under(kp.Origin, d.root) {
			continue
		}
		if dir := underAny(kp.Origin, unreadable); dir != "" {
			rep.add(KeyPairLine{Name: kp.Name, Action: Unchanged, Path: kp.Origin,
				Reason: "its folder " + dir + " could not be read; left as it was"})
			continue
		}
		line := KeyPairLine{Name: kp.Name, Action: Missing, Path: kp.Origin,
			Reason: "no file gives this keypair any more; it stays in the store, marked missing"}
		if kp.Status != StatusMissing {
			if err := d.store.SetKeyPairStatus(ctx, kp.Name, StatusMissing); err != nil {
				rep.add(KeyPairLine{Name: kp.Name, Action: Failed, Path: kp.Origin,
					Reason: "marking missing: " + err.Error()})
				continue
			}
			line.marked = true
		}
		rep.add(line)
	}
}

func (r *Report) add(l KeyPairLine) { r.KeyPairs = append(r.KeyPairs, l) }

// under reports whether path is dir or inside it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

// underAny returns the first of dirs that path is inside, or "".
func underAny(path string, dirs []string) string {
	for _, d := range dirs {
		if under(path, d) {
			return d
		}
	}
	return ""
}
