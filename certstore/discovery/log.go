package discovery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// logReport logs what a pass did. Changes are logged every time; problems
// (skipped files, rejected or conflicting keypairs, missing files, expired
// certificates) once per change of what they are about, so an idle tree
// with a bad file in it does not warn on every pass.
func (d *Discoverer) logReport(rep *Report, quiet []Skip) {
	next := make(map[string]string, len(d.logged))
	once := func(key, stamp string, level slog.Level, msg string, args ...any) {
		next[key] = stamp
		if prev, ok := d.logged[key]; !ok || prev != stamp {
			d.log.Log(context.Background(), level, msg, args...)
		}
	}

	for _, s := range quiet {
		once("quiet|"+s.Path, s.Reason, slog.LevelDebug, "file skipped", "path", s.Path, "reason", s.Reason)
	}
	for _, s := range rep.Skipped {
		level := slog.LevelWarn
		if s.level == debugLevel {
			level = slog.LevelDebug
		}
		once("skip|"+s.Path, s.Reason+"|"+s.stamp, level, "file skipped", "path", s.Path, "reason", s.Reason)
	}
	for _, l := range rep.KeyPairs {
		args := []any{"keypair", l.Name, "path", l.Path, "reason", l.Reason}
		key := string(l.Action) + "|" + l.Name + "|" + l.Path
		stamp := l.Reason + "|" + l.stamp
		switch l.Action {
		case Created, Updated:
			d.log.Info("keypair "+string(l.Action)+" from discovery", "keypair", l.Name, "path", l.Path)
			fallthrough
		case Unchanged:
			if l.Reason != "" {
				once("note|"+l.Name, stamp, slog.LevelWarn, "discovered keypair: "+l.Reason, args...)
			}
		case Missing:
			once(key, "", slog.LevelWarn, "discovered keypair's files are gone; kept in the store, marked missing", args...)
		case Conflict:
			once(key, stamp, slog.LevelWarn, "discovery conflict", args...)
		case Rejected:
			once(key, stamp, slog.LevelWarn, "discovered files rejected", args...)
		case Failed:
			once(key, stamp, slog.LevelWarn, "discovered keypair not stored; retrying on the next pass", args...)
		}
	}
	d.logged = next
}

// shortSum is the start of a digest, to tell one version of a file from
// another in the bookkeeping of what was logged.
func shortSum(sum [sha256.Size]byte) string {
	return hex.EncodeToString(sum[:8])
}
