package main

import (
	"fmt"
	"time"
)

// probe retries one connection to the first name until it succeeds (with
// -leaf: until the server sends that leaf) or
// cfg.probeTimeout passes, and returns "PROBE ok=1 elapsed_ms=..." where
// elapsed counts from cfg.probeT0 (when the server was started).
func probe(cfg config) (string, error) {
	t := &newTargets(cfg.names[:1])[0]
	giveUp := time.Now().Add(cfg.probeTimeout)
	tries := 0
	var last *failure
	for time.Now().Before(giveUp) {
		tries++
		_, f := exchange(cfg.addr, t, cfg.checks)
		if f == nil {
			ms := float64(time.Since(cfg.probeT0).Microseconds()) / 1000
			return fmt.Sprintf("PROBE ok=1 elapsed_ms=%.1f tries=%d", ms, tries), nil
		}
		last = f
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Sprintf("PROBE ok=0 tries=%d", tries), fmt.Errorf("no good response in %v; last: %v", cfg.probeTimeout, last)
}
