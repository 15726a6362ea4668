package discovery

import (
	"context"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Start runs a first pass, then keeps the store in step with the tree in
// the background until ctx ends or Stop is called: a pass after file-system
// events (once the tree has been still for Config.Quiet), every
// Config.Interval, and on Rescan. It never fails: a tree that cannot be
// watched is still read on every rescan, and a tree that cannot be read is
// logged and tried again. Start may be called once.
func (d *Discoverer) Start(ctx context.Context) {
	d.mu.Lock()
	if d.cancel != nil {
		d.mu.Unlock()
		panic("discovery: Start called twice")
	}
	ctx, d.cancel = context.WithCancel(ctx)
	d.mu.Unlock()

	d.passMu.Lock()
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.log.Warn("cannot watch the discovery folder; relying on the periodic rescan",
			"interval", d.cfg.Interval, "err", err)
	} else {
		d.watcher = w
	}
	d.passMu.Unlock()

	d.runPass(ctx, "start")
	go d.loop(ctx, w)
}

// Rescan asks for a full pass as soon as the current one (if any) is done.
// It never blocks; requests made while one is pending are merged. It does
// nothing on a nil Discoverer, so callers need not check whether discovery
// is on.
func (d *Discoverer) Rescan() {
	if d == nil {
		return
	}
	select {
	case d.rescan <- struct{}{}:
	default:
	}
}

// RescanNow runs a full pass at once, after the one in progress if any,
// and returns when it is done: the store then holds what the tree holds. It
// is for a SIGHUP, before the server reloads. It returns the error of a pass
// that could not read the folder, and does nothing on a nil Discoverer.
func (d *Discoverer) RescanNow(ctx context.Context) error {
	if d == nil {
		return nil
	}
	return d.runPass(ctx, "requested")
}

// Stop ends the background work Start began and waits until a pass in
// progress is over. It does nothing on a nil Discoverer or one not started.
func (d *Discoverer) Stop() {
	if d == nil {
		return
	}
	d.mu.Lock()
	cancel := d.cancel
	d.mu.Unlock()
	if cancel != nil {
		cancel()
		<-d.done
	}
}

// loop waits for events, the rescan interval and Rescan requests, and runs
// a pass for each; w is nil when the tree is not watched.
func (d *Discoverer) loop(ctx context.Context, w *fsnotify.Watcher) {
	defer close(d.done)
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
	}
	tick := time.NewTicker(d.cfg.Interval)
	defer tick.Stop()

	// settle fires once the tree has been still for Quiet after an event,
	// or MaxDelay after the first event of a burst, whichever is sooner.
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	var burst time.Time
	changed := func() {
		now := time.Now()
		if burst.IsZero() {
			burst = now
		}
		settle.Reset(min(d.cfg.Quiet, burst.Add(d.cfg.MaxDelay).Sub(now)))
	}

	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			d.log.Debug("discovery folder changed", "path", ev.Name, "op", ev.Op.String())
			changed()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Most often an overflowed event queue: events were lost, so
			// read the whole tree.
			d.log.Warn("watching the discovery folder", "err", err)
			changed()
		case <-settle.C:
			burst = time.Time{}
			d.runPass(ctx, "change")
		case <-tick.C:
			d.runPass(ctx, "rescan")
		case <-d.rescan:
			d.runPass(ctx, "requested")
		}
	}
}

// runPass runs one pass and logs its outcome: at info level when it changed
// the store, at debug level when it did not, so an idle tree is quiet. It
// returns the error of a pass that failed.
func (d *Discoverer) runPass(ctx context.Context, why string) error {
	rep, err := d.Pass(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		d.passMu.Lock()
		first := d.logged["root"] != err.Error()
		d.logged["root"] = err.Error()
		d.passMu.Unlock()
		if first {
			d.log.Warn("discovery pass failed; trying again on the next change or rescan", "reason", why, "err", err)
		}
		return err
	}
	if rep.Changed() {
		d.log.Info(rep.Summary(), "reason", why)
	} else {
		d.log.Debug(rep.Summary(), "reason", why)
	}
	return nil
}

// watch adds a watch on dir, a real path, unless it has one; seen collects
// the folders this pass watches. It is called with passMu held.
func (d *Discoverer) watch(dir string, seen map[string]bool) {
	if seen[dir] {
		return
	}
	seen[dir] = true
	if d.watched[dir] {
		return
	}
	if err := d.watcher.Add(dir); err != nil {
		// Counted, not logged one by one: running out of inotify watches
		// would otherwise log every folder on every pass.
		if d.unwatchable == 0 {
			d.unwatchableErr = err
		}
		d.unwatchable++
		return
	}
	d.watched[dir] = true
}

// logUnwatchable warns, once per change of the count, about folders the
// last pass could not watch. It is called with passMu held.
func (d *Discoverer) logUnwatchable() {
	n, err := d.unwatchable, d.unwatchableErr
	if n == d.lastUnwatchable {
		return
	}
	d.lastUnwatchable = n
	if n > 0 {
		d.log.Warn("cannot watch some folders; their changes are seen on the next rescan",
			"folders", n, "interval", d.cfg.Interval, "err", err)
	}
}

// unwatchExcept removes the watches on folders this pass did not reach. It
// is called with passMu held.
func (d *Discoverer) unwatchExcept(seen map[string]bool) {
	for dir := range d.watched {
		if !seen[dir] {
			d.watcher.Remove(dir) // fails harmlessly when the folder is gone
			delete(d.watched, dir)
		}
	}
}
