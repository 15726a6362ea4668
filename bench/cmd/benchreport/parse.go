package main

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
)

// record is one line of the raw log:
//
//	SCENARIO SERVER WORD... key=value...
//
// such as "hs portico 2 RESULT conns_per_s=3300 ..." or
// "mem nginx idle MEM pss_mib=55.0 rss_mib=70.1".
type record struct {
	scenario string
	server   string
	words    []string // the other fields without "="
	values   map[string]string
}

// num returns the value of key as a number, and whether it is one.
func (r record) num(key string) (float64, bool) {
	v, ok := r.values[key]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// failures returns the failure count of r. A count that is there but not a
// number (the load tool's output could not be read) counts as one failure,
// so that an unreadable run never passes for a clean one.
func (r record) failures() (float64, bool) {
	v, ok := r.values["errors"]
	if !ok {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f, true
	}
	return 1, true
}

// parse reads a raw log. Lines starting with # are the run's header and are
// returned as they are.
func parse(in io.Reader) ([]record, []string, error) {
	var recs []record
	var header []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			header = append(header, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		r := record{scenario: f[0], server: f[1], values: map[string]string{}}
		for _, w := range f[2:] {
			if k, v, ok := strings.Cut(w, "="); ok {
				r.values[k] = v
			} else {
				r.words = append(r.words, w)
			}
		}
		recs = append(recs, r)
	}
	return recs, header, sc.Err()
}

// series is the values of one figure over repeats.
type series []float64

func (s series) median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

func (s series) sum() float64 {
	t := 0.0
	for _, x := range s {
		t += x
	}
	return t
}

// collect returns, for each server in order of first appearance, the values
// of key over the records of scenario that carry it. Values are computed by
// fn when it is not nil.
func collect(recs []record, scenario string, fn func(record) (float64, bool)) ([]string, map[string]series) {
	var order []string
	out := map[string]series{}
	for _, r := range recs {
		if r.scenario != scenario {
			continue
		}
		v, ok := fn(r)
		if !ok {
			continue
		}
		if _, seen := out[r.server]; !seen {
			order = append(order, r.server)
		}
		out[r.server] = append(out[r.server], v)
	}
	return order, out
}

// key returns a value getter for fn-less collects.
func key(k string) func(record) (float64, bool) {
	return func(r record) (float64, bool) { return r.num(k) }
}
