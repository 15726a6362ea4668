package main

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// reloadHooks are the steps a SIGHUP runs, in the order they were added;
// serve adds the server's snapshot rebuild last, so that it sees what the
// earlier steps (such as a discovery rescan) wrote to the store. Other parts
// of serve register with Add before the server starts. Safe for concurrent
// use.
type reloadHooks struct {
	mu    sync.Mutex // guards hooks
	hooks []reloadHook
}

type reloadHook struct {
	name string
	fn   func(context.Context) error
}

// Add appends a step called name that a SIGHUP runs.
func (h *reloadHooks) Add(name string, fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hooks = append(h.hooks, reloadHook{name, fn})
}

// Run runs every step in order, one at a time. A failing step is logged and
// the next ones still run: a bad rescan must not stop the store reload.
// It reports whether every step succeeded.
func (h *reloadHooks) Run(ctx context.Context, log *slog.Logger) bool {
	h.mu.Lock()
	hooks := append([]reloadHook(nil), h.hooks...)
	h.mu.Unlock()

	ok := true
	for _, hook := range hooks {
		start := time.Now()
		if err := hook.fn(ctx); err != nil {
			log.Error("reload step failed", "step", hook.name, "err", err)
			ok = false
			continue
		}
		log.Info("reload step done", "step", hook.name, "took", time.Since(start))
	}
	return ok
}
