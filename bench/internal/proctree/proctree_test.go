package proctree

import (
	"os"
	"os/exec"
	"slices"
	"testing"
)

func TestTreeIncludesChild(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sleep: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	pids, err := PIDs(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if pids[0] != os.Getpid() {
		t.Errorf("got root %d first, want %d", pids[0], os.Getpid())
	}
	if !slices.Contains(pids, cmd.Process.Pid) {
		t.Errorf("got %v, want it to hold the child %d", pids, cmd.Process.Pid)
	}
}

func TestCPUSecondsGrows(t *testing.T) {
	before, err := CPUSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel's 10 ms tick has certainly been charged.
	x := 0
	for i := 0; ; i++ {
		x += i * i
		if i%1_000_000 == 0 {
			after, err := CPUSeconds(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			if after > before {
				return
			}
		}
		if i > 1e11 {
			t.Fatalf("CPU time stayed at %v (x=%d)", before, x)
		}
	}
}

func TestMemoryAndMachine(t *testing.T) {
	m, err := TreeMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.PSS <= 0 || m.RSS < m.PSS {
		t.Errorf("got PSS %d KiB and RSS %d KiB, want 0 < PSS <= RSS", m.PSS, m.RSS)
	}
	mc, err := ReadMachine()
	if err != nil {
		t.Fatal(err)
	}
	if mc.Busy <= 0 {
		t.Errorf("got machine busy %v s, want > 0", mc.Busy)
	}
}

func TestNotRunning(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := CPUSeconds(cmd.Process.Pid); err == nil {
		t.Error("got no error for an exited process, want one")
	}
}
