package main

import (
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/bench/internal/proctree"
)

// tally is one worker's counts; workers never share one, so no lock.
type tally struct {
	ok        int
	latencies []time.Duration // of connections that ended in the window
	failed    map[string]int
	firstErrs []string
}

// result is what a load run measured.
type result struct {
	label             string
	window            time.Duration
	ok                int
	p50, p90, p99     time.Duration
	max               time.Duration
	failed            map[string]int
	firstErrors       string
	serverCPU         float64 // server CPU seconds in the window; <0 when not measured
	clientCPU         float64 // this process's CPU seconds in the window
	machineCPU        float64 // every CPU's busy seconds in the window
	timelineOK        []int64
	timelineErr       []int64
	timelineBucketLen time.Duration
}

// sample is the CPU counters read at one edge of the window.
type sample struct {
	at      time.Time
	server  float64
	client  float64
	machine float64
}

func takeSample(pid int) (sample, error) {
	s := sample{at: time.Now(), server: -1}
	if pid > 0 {
		cpu, err := proctree.CPUSeconds(pid)
		if err != nil {
			return s, fmt.Errorf("reading server CPU: %w", err)
		}
		s.server = cpu
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, fmt.Errorf("reading own CPU: %w", err)
	}
	s.client = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	m, err := proctree.ReadMachine()
	if err != nil {
		return s, err
	}
	s.machine = m.Busy
	return s, nil
}

// run loads the server for warmup plus the window and returns the figures.
func run(cfg config) (result, error) {
	// The client allocates per connection; a lazier GC leaves more of its
	// core for handshakes.
	debug.SetGCPercent(400)
	targets := newTargets(cfg.names)
	start := time.Now()
	winStart := start.Add(cfg.warmup)
	end := winStart.Add(cfg.duration)
	if cfg.duration <= 0 {
		end = start.Add(24 * time.Hour) // bounded by -n instead
	}

	var buckets int
	if cfg.timeline > 0 {
		buckets = int(end.Sub(start)/cfg.timeline) + 1
	}
	tlOK := make([]atomic.Int64, buckets)
	tlErr := make([]atomic.Int64, buckets)

	var attempts atomic.Int64
	tallies := make([]*tally, cfg.workers)
	var wg sync.WaitGroup
	for w := range tallies {
		tl := &tally{failed: map[string]int{}}
		tallies[w] = tl
		wg.Add(1)
		go func(rng *rand.Rand) {
			defer wg.Done()
			for time.Now().Before(end) {
				if cfg.limit > 0 && attempts.Add(1) > int64(cfg.limit) {
					return
				}
				t := &targets[rng.IntN(len(targets))]
				took, f := exchange(cfg.addr, t, cfg.checks)
				done := time.Now()
				bucket := -1
				if buckets > 0 {
					bucket = min(int(done.Sub(start)/cfg.timeline), buckets-1)
				}
				if f != nil {
					tl.failed[f.step]++
					if len(tl.firstErrs) < 3 {
						tl.firstErrs = append(tl.firstErrs, f.Error())
					}
					if bucket >= 0 {
						tlErr[bucket].Add(1)
					}
					if f.step == "dial" {
						time.Sleep(10 * time.Millisecond) // do not spin on a dead server
					}
					continue
				}
				if bucket >= 0 {
					tlOK[bucket].Add(1)
				}
				if !done.Before(winStart) && done.Before(end) {
					tl.ok++
					tl.latencies = append(tl.latencies, took)
				}
			}
		}(rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano()))))
	}

	edges, sampleErr := sampleWindow(cfg, winStart, end, &wg)
	wg.Wait()
	if sampleErr != nil {
		return result{}, sampleErr
	}
	res := merge(cfg, tallies, edges)
	if buckets > 0 {
		res.timelineBucketLen = cfg.timeline
		for i := range buckets {
			res.timelineOK = append(res.timelineOK, tlOK[i].Load())
			res.timelineErr = append(res.timelineErr, tlErr[i].Load())
		}
	}
	return res, nil
}

// sampleWindow reads the CPU counters at both edges of the window. When -n
// bounds the run instead, the window is the whole run, until wg is done.
func sampleWindow(cfg config, winStart, end time.Time, wg *sync.WaitGroup) ([2]sample, error) {
	var edges [2]sample
	var err error
	time.Sleep(time.Until(winStart))
	if edges[0], err = takeSample(cfg.serverPID); err != nil {
		return edges, err
	}
	if cfg.duration > 0 {
		time.Sleep(time.Until(end))
	} else {
		wg.Wait()
	}
	edges[1], err = takeSample(cfg.serverPID)
	return edges, err
}

func merge(cfg config, tallies []*tally, edges [2]sample) result {
	res := result{
		label:      cfg.label,
		window:     edges[1].at.Sub(edges[0].at),
		failed:     map[string]int{},
		serverCPU:  -1,
		clientCPU:  edges[1].client - edges[0].client,
		machineCPU: edges[1].machine - edges[0].machine,
	}
	if edges[0].server >= 0 {
		res.serverCPU = edges[1].server - edges[0].server
	}
	var all []time.Duration
	var errs []string
	for _, tl := range tallies {
		res.ok += tl.ok
		all = append(all, tl.latencies...)
		for k, v := range tl.failed {
			res.failed[k] += v
		}
		errs = append(errs, tl.firstErrs...)
	}
	if len(errs) > 5 {
		errs = errs[:5]
	}
	res.firstErrors = strings.Join(errs, " | ")
	slices.Sort(all)
	res.p50, res.p90, res.p99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)
	res.max = percentile(all, 100)
	return res
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

// errors returns the number of failed connections.
func (r result) errors() int {
	n := 0
	for _, v := range r.failed {
		n += v
	}
	return n
}

// line formats the result as "RESULT key=value ..." with no spaces inside
// values, so that a shell script can pick fields out of it.
func (r result) line() string {
	secs := r.window.Seconds()
	ms := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds()*1000, 'f', 3, 64) }
	f := func(x float64, prec int) string { return strconv.FormatFloat(x, 'f', prec, 64) }

	kv := [][2]string{
		{"label", orDash(r.label)},
		{"conns_per_s", f(float64(r.ok)/secs, 1)},
		{"ok", strconv.Itoa(r.ok)},
		{"errors", strconv.Itoa(r.errors())},
		{"p50_ms", ms(r.p50)}, {"p90_ms", ms(r.p90)}, {"p99_ms", ms(r.p99)}, {"max_ms", ms(r.max)},
		{"client_cpu", f(r.clientCPU/secs, 3)},
		{"machine_cpu", f(r.machineCPU/secs, 3)},
		{"window_s", f(secs, 3)},
	}
	if r.serverCPU >= 0 {
		perCPU := 0.0
		if r.serverCPU > 0 {
			perCPU = float64(r.ok) / r.serverCPU
		}
		kv = append(kv,
			[2]string{"server_cpu", f(r.serverCPU/secs, 3)},
			[2]string{"hs_per_cpu_s", f(perCPU, 1)},
			[2]string{"other_cpu", f((r.machineCPU-r.serverCPU-r.clientCPU)/secs, 3)})
	}
	for _, s := range steps {
		kv = append(kv, [2]string{"err_" + s, strconv.Itoa(r.failed[s])})
	}
	if r.timelineBucketLen > 0 {
		kv = append(kv,
			[2]string{"timeline_ms", strconv.FormatInt(r.timelineBucketLen.Milliseconds(), 10)},
			[2]string{"timeline_ok", joinInts(r.timelineOK)},
			[2]string{"timeline_err", joinInts(r.timelineErr)})
	}
	if r.firstErrors != "" {
		kv = append(kv, [2]string{"first_errors", strings.ReplaceAll(r.firstErrors, " ", "_")})
	}

	var b strings.Builder
	b.WriteString("RESULT")
	for _, p := range kv {
		b.WriteString(" " + p[0] + "=" + p[1])
	}
	return b.String()
}

func joinInts(v []int64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.ReplaceAll(s, " ", "_")
}
