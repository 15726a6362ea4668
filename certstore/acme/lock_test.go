package acme

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The lock tests run a second process: this test binary again, told by
// lockHelperEnv to hold a lock on a database until it reads "unlock".
const lockHelperEnv = "PORTICO_ACME_LOCK_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(lockHelperEnv); spec != "" {
		os.Exit(lockHelper(spec))
	}
	os.Exit(m.Run())
}

// lockHelper takes the lock named in spec ("DBPATH|NAME|TTL"), prints
// "locked", and on reading "unlock" releases it and prints "unlocked".
func lockHelper(spec string) int {
	parts := strings.Split(spec, "|")
	ttl, _ := time.ParseDuration(parts[2])
	ctx := context.Background()
	s, err := openStoreAt(ctx, parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st := NewStorage(s.DB(), s.ReadDB(), ttl, nil)
	if err := st.Lock(ctx, parts[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "unlock" {
			if err := st.Unlock(ctx, parts[1]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Println("unlocked")
			return 0
		}
	}
	return 0
}

// holder is a second process holding a lock.
type holder struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startHolder runs a process that takes the lock name on the database at
// path, and returns once it holds it.
func startHolder(t *testing.T, path, name string, ttl time.Duration) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%s", lockHelperEnv, path, name, ttl))
	cmd.Stderr = os.Stderr
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	h := &holder{cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	h.expect(t, "locked")
	return h
}

func (h *holder) expect(t *testing.T, line string) {
	t.Helper()
	got, err := h.out.ReadString('\n')
	if strings.TrimSpace(got) != line {
		t.Fatalf("lock holder said %q (%v), want %q", got, err, line)
	}
}

// tryFor reports whether s takes the lock within d.
func tryFor(s *Storage, name string, d time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := s.Lock(ctx, name)
	if errors.Is(err, context.DeadlineExceeded) {
		return false, nil
	}
	return err == nil, err
}

func TestLockAcrossProcesses(t *testing.T) {
	t.Parallel()
	const ttl = 2 * time.Second
	path := filepath.Join(t.TempDir(), "portico.db")
	s := openStore(t, path)
	mine := NewStorage(s.DB(), s.ReadDB(), ttl, nil)

	t.Run("a live holder keeps its lock past the TTL", func(t *testing.T) {
		h := startHolder(t, path, "live", ttl)
		if ok, err := tryFor(mine, "live", 3*ttl); ok || err != nil {
			t.Fatalf("took a lock held by a live process: %v, %v", ok, err)
		}
		fmt.Fprintln(h.in, "unlock")
		h.expect(t, "unlocked")
		if ok, err := mine.TryLock(context.Background(), "live"); !ok || err != nil {
			t.Fatalf("lock not free after the holder released it: %v, %v", ok, err)
		}
		if err := mine.Unlock(context.Background(), "live"); err != nil {
			t.Error(err)
		}
	})

	t.Run("a crashed holder's lock expires", func(t *testing.T) {
		h := startHolder(t, path, "crash", ttl)
		if ok, _ := mine.TryLock(context.Background(), "crash"); ok {
			t.Fatal("took the lock while its holder ran")
		}
		h.cmd.Process.Kill()
		h.cmd.Wait()
		if ok, err := tryFor(mine, "crash", 5*ttl); !ok || err != nil {
			t.Fatalf("lock of a killed process never expired: %v, %v", ok, err)
		}
		if err := mine.Unlock(context.Background(), "crash"); err != nil {
			t.Error(err)
		}
	})

	t.Run("waiting ends when the holder releases", func(t *testing.T) {
		h := startHolder(t, path, "wait", ttl)
		got := make(chan error, 1)
		go func() { got <- mine.Lock(context.Background(), "wait") }()
		select {
		case err := <-got:
			t.Fatalf("Lock returned while another process held the lock: %v", err)
		case <-time.After(ttl):
		}
		fmt.Fprintln(h.in, "unlock")
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if err := mine.Unlock(context.Background(), "wait"); err != nil {
			t.Error(err)
		}
	})
}

func TestLockWithinProcess(t *testing.T) {
	t.Parallel()
	s := openStore(t, "")
	a := NewStorage(s.DB(), s.ReadDB(), time.Second, nil)
	ctx := context.Background()

	if ok, err := a.TryLock(ctx, "x"); !ok || err != nil {
		t.Fatalf("first TryLock: %v, %v", ok, err)
	}
	if ok, _ := a.TryLock(ctx, "x"); ok {
		t.Fatal("took a held lock twice")
	}
	if ok, _ := a.TryLock(ctx, "y"); !ok {
		t.Fatal("locks of different names excluded each other")
	}
	if err := a.RenewLockLease(ctx, "x", time.Hour); err != nil {
		t.Errorf("RenewLockLease: %v", err)
	}
	if err := a.Unlock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, "x"); err == nil {
		t.Error("unlocking a lock not held succeeded")
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Lock(cctx, "y"); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context on a held lock: got %v, want context.Canceled", err)
	}
	if err := a.Unlock(ctx, "y"); err != nil {
		t.Error(err)
	}
}
