// Package proctree reads the CPU time and memory of a process and all its
// descendants from /proc, so that a benchmark charges a server for every
// process it runs (nginx's master and worker, HAProxy's master and worker)
// and nothing else. It is Linux-only.
package proctree

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat. Linux fixes it
// at 100 for user space on every architecture Go supports.
const userHZ = 100

// stat is the part of /proc/<pid>/stat a tree needs.
type stat struct {
	ppid  int
	ticks int64 // utime + stime
}

// readStat parses /proc/<pid>/stat. The command name is in parentheses and
// may itself hold spaces or parentheses, so fields are counted from the last
// closing parenthesis.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return stat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	// After ") ": state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime ...
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 13 {
		return stat{}, fmt.Errorf("/proc/%d/stat: %d fields after the name", pid, len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return stat{}, fmt.Errorf("/proc/%d/stat: malformed numbers", pid)
	}
	return stat{ppid: ppid, ticks: utime + stime}, nil
}

// all reads the stat of every process on the machine. Processes that exit
// while it reads are skipped.
func all() (map[int]stat, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	out := make(map[int]stat, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out[pid] = st
		}
	}
	return out, nil
}

// PIDs returns root and every live descendant of root. It returns an error
// when root itself is not running.
func PIDs(root int) ([]int, error) {
	procs, err := all()
	if err != nil {
		return nil, err
	}
	if _, ok := procs[root]; !ok {
		return nil, fmt.Errorf("process %d is not running", root)
	}
	return descendants(root, procs), nil
}

// descendants walks procs from root down, root first.
func descendants(root int, procs map[int]stat) []int {
	children := make(map[int][]int)
	for pid, st := range procs {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	tree := []int{root}
	for i := 0; i < len(tree); i++ {
		tree = append(tree, children[tree[i]]...)
	}
	return tree
}

// CPUSeconds returns the user plus system CPU time, in seconds, used so far
// by root and its live descendants. Time used by descendants that already
// exited and were reaped counts only through the parent's cutime, which this
// leaves out: benchmarked servers keep their workers for the whole run.
func CPUSeconds(root int) (float64, error) {
	procs, err := all()
	if err != nil {
		return 0, err
	}
	if _, ok := procs[root]; !ok {
		return 0, fmt.Errorf("process %d is not running", root)
	}
	var ticks int64
	for _, pid := range descendants(root, procs) {
		ticks += procs[pid].ticks
	}
	return float64(ticks) / userHZ, nil
}

// Memory is the resident memory of a process tree, in KiB.
type Memory struct {
	// PSS is the proportional set size: a page shared by n processes
	// counts 1/n to each, so a master and its forked worker are not
	// counted twice. It is the figure to compare between servers.
	PSS int64
	// RSS counts every resident page of every process in full.
	RSS int64
}

// MiB returns m.PSS and m.RSS in MiB.
func (m Memory) MiB() (pss, rss float64) {
	return float64(m.PSS) / 1024, float64(m.RSS) / 1024
}

// TreeMemory sums /proc/<pid>/smaps_rollup over root and its descendants.
func TreeMemory(root int) (Memory, error) {
	pids, err := PIDs(root)
	if err != nil {
		return Memory{}, err
	}
	var sum Memory
	for _, pid := range pids {
		m, err := readRollup(pid)
		if err != nil {
			if pid == root {
				return Memory{}, err
			}
			continue // a worker that exited meanwhile
		}
		sum.PSS += m.PSS
		sum.RSS += m.RSS
	}
	return sum, nil
}

func readRollup(pid int) (Memory, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	var m Memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "Pss":
			dst = &m.PSS
		case "Rss":
			dst = &m.RSS
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("/proc/%d/smaps_rollup: %s: %w", pid, key, err)
		}
		*dst = n
	}
	return m, sc.Err()
}

// Machine is the CPU time the whole machine spent, in seconds summed over
// all CPUs, from the first line of /proc/stat.
type Machine struct {
	// Busy is user, nice, system, irq and softirq time; idle, iowait and
	// steal are left out.
	Busy float64
	// Steal is time the hypervisor gave to other guests.
	Steal float64
}

// ReadMachine reads the machine-wide CPU counters.
func ReadMachine() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return Machine{}, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// cpu user nice system idle iowait irq softirq steal ...
	var v [8]float64
	for i := range v {
		n, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			return Machine{}, fmt.Errorf("/proc/stat: field %d: %w", i+1, err)
		}
		v[i] = n / userHZ
	}
	return Machine{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Steal: v[7]}, nil
}
