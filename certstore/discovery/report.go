package discovery

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Action is what a pass did about one keypair name.
type Action string

// The actions of a pass.
const (
	Created   Action = "created"
	Updated   Action = "updated"
	Unchanged Action = "unchanged"
	// Missing: no file in the tree gives to a keypair discovery made from
	// it; the keypair is kept in the store and marked missing.
	Missing Action = "missing"
	// Conflict: a file lost the name to another source (another file for
	// the same name, or a keypair discovery does not manage); it is not
	// used.
	Conflict Action = "conflict"
	// Rejected: files for the name were found but do not make a usable
	// keypair (yet); a stored keypair of that name is kept as it was.
	Rejected Action = "rejected"
	// Failed: the store refused the write for a reason other than the
	// input; the next pass tries again.
	Failed Action = "failed"
)

// KeyPairLine is one line of a pass report about a keypair name.
type KeyPairLine struct {
	Name   string
	Action Action
	Path   string // the file the line is about: the certificate's, or the file at fault
	Reason string // why, for every action but created/updated/unchanged; a note (such as expiry) otherwise
	stamp  string // what the line is about, so it is logged once per change
	marked bool   // for Missing: this pass marked it (a write)
}

// skipLevel is how loudly a skipped file is logged.
type skipLevel int

const (
	debugLevel skipLevel = iota
	warnLevel
)

// Skip is a file or folder a pass did not use, and why.
type Skip struct {
	Path   string
	Reason string
	level  skipLevel
	stamp  string
}

// Report is what one discovery pass found and did.
type Report struct {
	Root     string        // the discovery folder, absolute
	KeyPairs []KeyPairLine // ordered by name, then path
	Skipped  []Skip        // ordered by path
	Took     time.Duration
	read     int // files read; the others were known unchanged from the last pass
}

// Count returns how many keypair lines have action a.
func (r *Report) Count(a Action) int {
	n := 0
	for _, l := range r.KeyPairs {
		if l.Action == a {
			n++
		}
	}
	return n
}

// Line returns the report line for keypair name with action a, or nil.
func (r *Report) Line(name string, a Action) *KeyPairLine {
	for i, l := range r.KeyPairs {
		if l.Name == name && l.Action == a {
			return &r.KeyPairs[i]
		}
	}
	return nil
}

// Skip returns the skip line for path, or nil.
func (r *Report) Skip(path string) *Skip {
	for i, s := range r.Skipped {
		if s.Path == path {
			return &r.Skipped[i]
		}
	}
	return nil
}

// Changed reports whether the pass wrote anything to the store.
func (r *Report) Changed() bool {
	return r.Count(Created)+r.Count(Updated) > 0 || r.markedMissing()
}

func (r *Report) markedMissing() bool {
	for _, l := range r.KeyPairs {
		if l.Action == Missing && l.marked {
			return true
		}
	}
	return false
}

// SkipCounts counts the files the pass could not use, by a short fixed
// reason (for metrics): the skipped lines, and the conflicting, rejected
// and failed keypair lines.
func (r *Report) SkipCounts() map[string]int {
	counts := map[string]int{}
	for _, s := range r.Skipped {
		counts[skipKind(s.Reason)]++
	}
	for _, l := range r.KeyPairs {
		switch l.Action {
		case Conflict:
			counts["conflict"]++
		case Failed:
			counts["store_error"]++
		case Rejected:
			counts[rejectKind(l.Reason)]++
		}
	}
	return counts
}

func skipKind(reason string) string {
	switch {
	case strings.HasPrefix(reason, "dangling symbolic link"):
		return "dangling_link"
	case strings.Contains(reason, "symbolic link loop"):
		return "link_loop"
	case strings.HasPrefix(reason, "nested more than"):
		return "too_deep"
	case strings.HasPrefix(reason, "cannot "):
		return "unreadable"
	case reason == "empty file":
		return "empty"
	case strings.HasPrefix(reason, "no PEM block"):
		return "not_pem"
	case strings.HasPrefix(reason, "holds no certificate"):
		return "no_cert_or_key"
	}
	return "other"
}

func rejectKind(reason string) string {
	switch {
	case strings.Contains(reason, "does not match"):
		return "mismatched_key"
	case strings.Contains(reason, "encrypted"):
		return "encrypted_key"
	case strings.HasPrefix(reason, "certificate without a private key"):
		return "no_key"
	case strings.HasPrefix(reason, "private key without a certificate"):
		return "no_certificate"
	case strings.Contains(reason, "cannot read"):
		return "unreadable"
	}
	return "invalid"
}

// Summary is the report's totals on one line.
func (r *Report) Summary() string {
	var parts []string
	for _, a := range []Action{Created, Updated, Unchanged, Missing, Conflict, Rejected, Failed} {
		if n := r.Count(a); n > 0 || a == Created || a == Updated || a == Unchanged {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	parts = append(parts, fmt.Sprintf("%d skipped", len(r.Skipped)))
	return fmt.Sprintf("discovery pass over %s: %s in %s", r.Root, strings.Join(parts, ", "),
		r.Took.Round(time.Millisecond))
}

// WriteTo writes the report as text: one line per keypair, one per skipped
// file, then the summary.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	for _, l := range r.KeyPairs {
		fmt.Fprintf(&b, "%-9s keypair %q", l.Action, l.Name)
		switch {
		case l.Reason != "" && l.Path != "":
			fmt.Fprintf(&b, ": %s: %s", l.Path, l.Reason)
		case l.Reason != "":
			fmt.Fprintf(&b, ": %s", l.Reason)
		default:
			fmt.Fprintf(&b, " from %s", l.Path)
		}
		b.WriteByte('\n')
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "%-9s %s: %s\n", "skipped", s.Path, s.Reason)
	}
	b.WriteString(r.Summary())
	b.WriteByte('\n')
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
