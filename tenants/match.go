package tenants

import "strings"

// Index answers which tenant serves a name, following Portico's rule:
//
//  1. the tenant whose domain equals the name;
//  2. the tenants whose domain is a suffix of the name on a label boundary
//     (example.com covers a.b.example.com, never badexample.com), longest
//     first;
//  3. the default tenant.
//
// Only tenants that can serve (a usable keypair) are candidates, so the
// first candidate found wins. An empty name (a client that sent no SNI) goes
// straight to the default tenant.
//
// An Index is immutable once built and safe for concurrent use; Match does
// not allocate.
type Index struct {
	byDomain map[string]int
	def      int
}

// NewIndex builds an index over ts, keeping only the tenants for which
// usable returns true (all of them when usable is nil). Match returns
// positions in ts.
func NewIndex(ts []Tenant, usable func(i int) bool) *Index {
	ix := &Index{byDomain: make(map[string]int, len(ts)), def: -1}
	for i, t := range ts {
		if usable != nil && !usable(i) {
			continue
		}
		ix.byDomain[t.Domain] = i
		if t.Default {
			ix.def = i
		}
	}
	return ix
}

// Len returns how many tenants the index holds.
func (ix *Index) Len() int { return len(ix.byDomain) }

// Match returns the position of the tenant serving name, or -1 when none
// does and there is no usable default. The name must already be normalised
// with NormalizeName.
func (ix *Index) Match(name string) int {
	if name == "" {
		return ix.def
	}
	if i, ok := ix.byDomain[name]; ok {
		return i
	}
	// Drop one leading label at a time: the longest suffix is tried first.
	for rest := name; ; {
		dot := strings.IndexByte(rest, '.')
		if dot < 0 {
			break
		}
		rest = rest[dot+1:]
		if i, ok := ix.byDomain[rest]; ok {
			return i
		}
	}
	return ix.def
}
