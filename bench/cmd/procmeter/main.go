// Command procmeter reports what a process tree costs, for run.sh:
//
//	procmeter cpu -after 1s -for 10s PID...   CPU used by each PID's tree in a window
//	procmeter mem PID                         PSS and RSS of PID's tree now
//
// cpu prints "CPU window_s=... machine_cpu=... cpu_<PID>=..." where each
// value is in cores (CPU seconds per second of the window); mem prints
// "MEM pss_mib=... rss_mib=...". A tree is the process and all its
// descendants, read from /proc.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/portico-proxy/portico/bench/internal/proctree"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: procmeter cpu|mem ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "cpu":
		err = cpu(os.Args[2:])
	case "mem":
		err = mem(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "procmeter:", err)
		os.Exit(1)
	}
}

func pids(args []string) ([]int, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("no PID given")
	}
	out := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil {
			return nil, fmt.Errorf("PID %q: %w", a, err)
		}
		out[i] = n
	}
	return out, nil
}

func cpu(args []string) error {
	fs := flag.NewFlagSet("cpu", flag.ContinueOnError)
	after := fs.Duration("after", 0, "wait this long before the window opens")
	window := fs.Duration("for", 10*time.Second, "length of the window")
	if err := fs.Parse(args); err != nil {
		return err
	}
	roots, err := pids(fs.Args())
	if err != nil {
		return err
	}

	time.Sleep(*after)
	t0, m0, c0, err := readAll(roots)
	if err != nil {
		return err
	}
	time.Sleep(*window)
	t1, m1, c1, err := readAll(roots)
	if err != nil {
		return err
	}

	secs := t1.Sub(t0).Seconds()
	var b strings.Builder
	fmt.Fprintf(&b, "CPU window_s=%.3f machine_cpu=%.3f", secs, (m1.Busy-m0.Busy)/secs)
	for i, pid := range roots {
		fmt.Fprintf(&b, " cpu_%d=%.3f", pid, (c1[i]-c0[i])/secs)
	}
	fmt.Println(b.String())
	return nil
}

func readAll(roots []int) (time.Time, proctree.Machine, []float64, error) {
	now := time.Now()
	m, err := proctree.ReadMachine()
	if err != nil {
		return now, m, nil, err
	}
	cpus := make([]float64, len(roots))
	for i, pid := range roots {
		if cpus[i], err = proctree.CPUSeconds(pid); err != nil {
			return now, m, nil, err
		}
	}
	return now, m, cpus, nil
}

func mem(args []string) error {
	roots, err := pids(args)
	if err != nil {
		return err
	}
	if len(roots) != 1 {
		return fmt.Errorf("mem takes one PID")
	}
	m, err := proctree.TreeMemory(roots[0])
	if err != nil {
		return err
	}
	pss, rss := m.MiB()
	fmt.Printf("MEM pss_mib=%.1f rss_mib=%.1f\n", pss, rss)
	return nil
}
