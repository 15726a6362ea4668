package discovery

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// maxDepth bounds how deep the walk goes, as a guard against trees made
// huge by links that point sideways rather than back (which loop detection
// catches).
const maxDepth = 32

// file is a file whose PEM blocks may give part of a keypair.
type file struct {
	path string // as reached from the root, links not resolved
	dir  string // the folder holding it, as reached from the root
	name string // the keypair it gives to
	sum  [sha256.Size]byte
	// data is the content, or nil when the last pass's knowledge of the
	// file stands for it (load reads it when a write needs it).
	data []byte
	content
}

// load reads f's content if the walk did not, and updates its digest.
func (f *file) load() error {
	if f.data != nil {
		return nil
	}
	data, err := readLimited(f.path)
	if err != nil {
		return err
	}
	f.data, f.sum = data, sha256.Sum256(data)
	return nil
}

// walked is what a walk found.
type walked struct {
	files      []file
	skipped    []Skip   // files and folders reported in the pass report
	quiet      []Skip   // files and folders skipped by rule, logged at debug
	unreadable []string // folders that could not be read, so nothing under them is missing
	read       int      // files read (the others were known from the last pass)
	keepQuiet  bool     // whether to collect quiet: only when debug logs are on
}

func (w *walked) merge(o *walked) {
	w.files = append(w.files, o.files...)
	w.skipped = append(w.skipped, o.skipped...)
	w.quiet = append(w.quiet, o.quiet...)
	w.unreadable = append(w.unreadable, o.unreadable...)
	w.read += o.read
}

// walker walks one discovery tree, following symbolic links. Folders are
// read on up to GOMAXPROCS goroutines besides the caller's: a large tree
// is mostly system calls, which then overlap. Each folder's entries are
// handled in name order by one goroutine, and the result is put in order
// afterwards, so a pass's outcome never depends on the scheduling.
type walker struct {
	ctx context.Context
	// cache is what the last pass learnt of each file; the walk only
	// reads it. Each pass puts what it learns in next.
	cache map[string]known
	now   func() time.Time // the clock that tells how old a change is
	// watch, when set, is called with the real path of every folder read
	// (before it is read) and of every folder a file link points into. It
	// is called with mu held.
	watch func(dir string)
	// debug collects the entries skipped quietly, for debug logs.
	debug bool

	sem chan struct{} // a slot per extra goroutine
	wg  sync.WaitGroup

	mu   sync.Mutex // guards out, next, err and calls to watch
	out  walked
	next map[string]known
	err  error // the first error that stops the walk (the context's)
}

// newWalker returns a walker that trusts cache (which may be nil) for
// files that did not change and calls watch (which may be nil) for every
// folder to watch.
func newWalker(ctx context.Context, now func() time.Time, cache map[string]known, watch func(string)) *walker {
	// The last pass's size is the best guess at this one's.
	w := &walker{ctx: ctx, now: now, cache: cache, watch: watch, next: make(map[string]known, len(cache)),
		sem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	w.out.files = make([]file, 0, len(cache))
	return w
}

// walk reads the tree at root. It fails only when root itself cannot be
// read or the context ends; everything else is reported in w.out.
func (w *walker) walk(root string) error {
	real := root
	if w.watch != nil {
		if r, err := filepath.EvalSymlinks(root); err == nil {
			real = r
		}
		w.watchDir(real)
	}
	entries, err := readDir(root)
	if err != nil {
		return fmt.Errorf("reading discovery folder %s: %s", root, describeErr(err))
	}
	w.dir(dirAt{path: root, real: real, ancestors: []string{root}}, entries)
	w.wg.Wait()
	return w.err
}

// dirAt is a folder being walked.
type dirAt struct {
	path      string   // as reached from the root
	real      string   // with links resolved, for watching
	ancestors []string // the folders above it and itself, for loop detection
}

// dir handles the entries of folder d: files are read and kept, folders
// walked (here or on another goroutine), everything else skipped.
func (w *walker) dir(d dirAt, entries []os.DirEntry) {
	if err := w.ctx.Err(); err != nil {
		w.fail(err)
		return
	}
	out := walked{keepQuiet: w.debug}
	defer func() {
		w.mu.Lock()
		w.out.merge(&out)
		w.mu.Unlock()
	}()
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	rules := rulesFor(names)
	folder := filepath.Base(d.path)

	for _, e := range entries {
		p := filepath.Join(d.path, e.Name())
		// Rules by name come first: they save following the link.
		if why := rules.skipByName(e.Name()); why != "" {
			out.skipQuiet(p, why)
			continue
		}
		mode := e.Type()
		var target fs.FileInfo
		if mode&fs.ModeSymlink != 0 {
			info, err := os.Stat(p)
			if err != nil {
				out.skip(p, linkError(p, err), warnLevel, "")
				w.watchDanglingTarget(d, p)
				continue
			}
			target = info
			mode = info.Mode().Type()
		}
		switch {
		case mode.IsDir():
			if why := rules.skipFolder(e.Name()); why != "" {
				out.skipQuiet(p, why)
				continue
			}
			w.spawn(func(out *walked) { w.subdir(d, e, p, target, out) }, &out)
		case mode.IsRegular():
			w.file(&out, d, e, p, keyPairName(folder, e.Name()), target)
		default:
			out.skipQuiet(p, "not a regular file")
		}
	}
}

// spawn runs fn on another goroutine when a slot is free, with a result of
// its own merged when it is done, or else here with out.
func (w *walker) spawn(fn func(out *walked), out *walked) {
	select {
	case w.sem <- struct{}{}:
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() { <-w.sem }()
			own := walked{keepQuiet: w.debug}
			fn(&own)
			w.mu.Lock()
			w.out.merge(&own)
			w.mu.Unlock()
		}()
	default:
		fn(out)
	}
}

func (w *walker) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

// subdir walks into the folder entry e at p; target is its link target's
// information when e is a symbolic link.
func (w *walker) subdir(d dirAt, e os.DirEntry, p string, target fs.FileInfo, out *walked) {
	if target != nil {
		if dir := d.loop(target); dir != "" {
			out.skip(p, "symbolic link loop: leads back to "+dir, warnLevel, "")
			return
		}
	}
	if len(d.ancestors) > maxDepth {
		out.skip(p, fmt.Sprintf("nested more than %d folders deep; not read", maxDepth), warnLevel, "")
		return
	}

	real := filepath.Join(d.real, e.Name())
	if w.watch != nil {
		if target != nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				real = r
			}
		}
		w.watchDir(real)
	}
	entries, err := readDir(p)
	if err != nil {
		out.skip(p, "cannot read folder: "+describeErr(err), warnLevel, "")
		out.unreadable = append(out.unreadable, p)
		return
	}
	ancestors := append(d.ancestors[:len(d.ancestors):len(d.ancestors)], p)
	w.dir(dirAt{path: p, real: real, ancestors: ancestors}, entries)
}

// loop returns the folder above d (or d itself) that the folder target is,
// or "". Only folders reached through a link are checked, so the folders
// above are looked at only then.
func (d dirAt) loop(target fs.FileInfo) string {
	for _, a := range d.ancestors {
		if info, err := os.Stat(a); err == nil && os.SameFile(info, target) {
			return a
		}
	}
	return ""
}

func (w *walker) watchDir(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watch(dir)
}

// watchDanglingTarget watches the nearest existing folder on the way to a
// dangling link's target, so that the target (or a folder on its way)
// appearing later is noticed at once rather than at the next rescan.
func (w *walker) watchDanglingTarget(d dirAt, p string) {
	if w.watch == nil {
		return
	}
	dir := linkTargetDir(d, p)
	for dir != "" {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			w.watchDir(dir)
			return
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return
		}
		dir = parent
	}
}

// linkTargetDir returns the real folder that the file link at p, in folder
// d, points into, or "" when the link cannot be read.
func linkTargetDir(d dirAt, p string) string {
	target, err := os.Readlink(p)
	if err != nil {
		return ""
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(d.real, target)
	}
	return filepath.Dir(target)
}

// file takes in the regular file entry e at p, found in folder d, that
// gives to keypair name; target is its information when e is a link. A
// file whose stamp is the one the last pass read is not read again.
func (w *walker) file(out *walked, d dirAt, e os.DirEntry, p, name string, target fs.FileInfo) {
	info := target
	if info == nil {
		info, _ = e.Info() // without it, the file is just read
	}
	var st stamp
	var stamped bool
	if info != nil {
		st, stamped = stampOf(info)
	}
	k, hit := w.cache[p]
	hit = hit && stamped && k.stamp == st

	// A link's target folder is watched too, so that a target rewritten in
	// place is noticed. The same stamp means the same target file, so its
	// folder is known without reading the link again.
	if target != nil && w.watch != nil {
		if !hit || k.linkDir == "" {
			k.linkDir = linkTargetDir(d, p)
		}
		if k.linkDir != "" {
			w.watchDir(k.linkDir)
		}
	}
	if hit {
		out.files = append(out.files, file{path: p, dir: d.path, name: name, sum: k.sum, content: k.content})
		w.remember(p, k)
		return
	}

	readAt := w.now()
	f, ok := out.readFile(p, d.path, name)
	if !ok || !stamped {
		return
	}
	if k := (known{stamp: st, sum: f.sum, content: f.content, linkDir: k.linkDir}); k.trusted(readAt) {
		w.remember(p, k)
	}
}

func (w *walker) remember(p string, k known) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next[p] = k
}

// readFile reads the file at p, found in folder dir, that gives to keypair
// name, and keeps it when it holds a certificate or a private key.
func (w *walked) readFile(p, dir, name string) (file, bool) {
	w.read++
	data, err := readLimited(p)
	if err != nil {
		w.skip(p, "cannot read file: "+describeErr(err), warnLevel, "")
		return file{}, false
	}
	if len(data) == 0 {
		w.skip(p, "empty file", warnLevel, "")
		return file{}, false
	}
	c := scanContent(data)
	sum := sha256.Sum256(data)
	switch {
	case !c.blocks:
		// Binary files, DER, notes: common in such folders, so reported
		// but not warned about.
		w.skip(p, "no PEM block (not PEM text; DER files must be converted to PEM)", debugLevel, shortSum(sum))
		return file{}, false
	case !c.certs && !c.keys:
		w.skip(p, "holds no certificate or private key, only "+strings.Join(c.other, ", "), warnLevel, shortSum(sum))
		return file{}, false
	}
	f := file{path: p, dir: dir, name: name, sum: sum, data: data, content: c}
	w.files = append(w.files, f)
	return f, true
}

// linkError describes why the symbolic link at p could not be followed.
func linkError(p string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		target, _ := os.Readlink(p)
		return "dangling symbolic link to " + target
	}
	return "cannot follow symbolic link: " + describeErr(err)
}

// skip reports a skipped file or folder; stamp, when set, is a digest of
// its content, so that it is logged again when the content changes.
func (w *walked) skip(p, reason string, level skipLevel, stamp string) {
	w.skipped = append(w.skipped, Skip{Path: p, Reason: reason, level: level, stamp: stamp})
}

func (w *walked) skipQuiet(p, reason string) {
	if !w.keepQuiet {
		return
	}
	w.quiet = append(w.quiet, Skip{Path: p, Reason: reason, level: debugLevel})
}
