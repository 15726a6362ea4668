package discovery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/internal/certtree"
	"github.com/portico-proxy/portico/internal/testpki"
)

// cpuTime returns the CPU time this process has used, user and system.
// Reported beside wall time because this machine is shared: under load the
// wall time of a pass grows while the work it does stays the same.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureCPU reports the CPU time per op of the benchmark's timed part.
type measureCPU struct {
	b     *testing.B
	total time.Duration
	start time.Duration
	read  int // files read by the passes
}

func (m *measureCPU) begin() { m.start = cpuTime(m.b) }
func (m *measureCPU) end()   { m.total += cpuTime(m.b) - m.start }
func (m *measureCPU) report() {
	m.b.ReportMetric(float64(m.total.Milliseconds())/float64(m.b.N), "cpu-ms/op")
	m.b.ReportMetric(float64(m.read)/float64(m.b.N), "files-read/op")
}

// countingStore counts the calls that may write to the store.
type countingStore struct {
	Store
	writes atomic.Int64
}

func (c *countingStore) PutKeyPairs(ctx context.Context, ins []certstore.Input) []certstore.PutResult {
	c.writes.Add(int64(len(ins)))
	return c.Store.PutKeyPairs(ctx, ins)
}

func (c *countingStore) SetKeyPairStatus(ctx context.Context, name, status string) error {
	c.writes.Add(1)
	return c.Store.SetKeyPairStatus(ctx, name, status)
}

// benchTree returns a certbot configuration folder of n lineages. Building
// it takes a minute; with PORTICO_BENCH_TREE set to a folder, the tree is
// kept there and reused by the next run.
func benchTree(b *testing.B, n int) string {
	keep := os.Getenv("PORTICO_BENCH_TREE")
	root := filepath.Join(b.TempDir(), "letsencrypt")
	if keep != "" {
		root = filepath.Join(keep, fmt.Sprintf("letsencrypt-%d", n))
		if _, err := os.Stat(root + ".done"); err == nil {
			return root
		}
		if err := os.RemoveAll(root); err != nil {
			b.Fatal(err)
		}
	}
	ca := testpki.NewCA(b)
	cb := certtree.NewCertbot(b, root)
	for i := range n {
		name := fmt.Sprintf("site%05d.example.test", i)
		cb.Issue(name, ca.Issue(b, []string{name}))
	}
	if keep != "" {
		if err := os.WriteFile(root+".done", nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// BenchmarkPass10k runs one pass over a certbot configuration folder of
// 10,000 lineages: cold (every keypair new, into an empty store), warm
// (nothing changed since the last pass of the same discoverer, with and
// without file-system watches in place), and after a restart (nothing
// changed, but a new discoverer that has to parse every keypair once). It
// fails if a pass over an unchanged tree writes to the store. See
// docs/benchmarks.md.
func BenchmarkPass10k(b *testing.B) {
	const lineages = 10_000
	root := benchTree(b, lineages)

	b.Run("cold", func(b *testing.B) {
		cpu := measureCPU{b: b}
		defer cpu.report()
		for range b.N {
			b.StopTimer()
			store := openStore(b)
			d := newDiscoverer(b, root, store)
			b.StartTimer()
			cpu.begin()
			rep := pass(b, d)
			cpu.end()
			cpu.read += rep.read
			b.StopTimer()
			if n := rep.Count(Created); n != lineages {
				b.Fatalf("created %d keypairs, want %d", n, lineages)
			}
			store.Close()
			b.StartTimer()
		}
	})

	// The stores below start from one cold pass.
	populated := func(b *testing.B) (*certstore.SQLite, *countingStore) {
		store := openStore(b)
		pass(b, newDiscoverer(b, root, store))
		return store, &countingStore{Store: store}
	}
	unchanged := func(b *testing.B, store *certstore.SQLite, counted *countingStore, d *Discoverer, cpu *measureCPU) {
		b.StopTimer()
		gen := generation(b, store)
		b.StartTimer()
		cpu.begin()
		rep := pass(b, d)
		cpu.end()
		b.StopTimer()
		defer b.StartTimer()
		if n := rep.Count(Unchanged); n != lineages || rep.Changed() {
			b.Fatalf("%d unchanged of %d, changed %v", n, lineages, rep.Changed())
		}
		cpu.read += rep.read
		if g := generation(b, store); g != gen || counted.writes.Load() != 0 {
			b.Fatalf("a pass over an unchanged tree wrote: generation %d -> %d, %d write calls", gen, g, counted.writes.Load())
		}
	}

	b.Run("warm", func(b *testing.B) {
		store, counted := populated(b)
		d := newDiscoverer(b, root, counted)
		pass(b, d)
		counted.writes.Store(0)
		cpu := measureCPU{b: b}
		defer cpu.report()
		b.ResetTimer()
		for range b.N {
			unchanged(b, store, counted, d, &cpu)
		}
		b.ReportMetric(float64(counted.writes.Load())/float64(b.N), "writes/op")
	})

	b.Run("warm-watched", func(b *testing.B) {
		store, counted := populated(b)
		d := newDiscoverer(b, root, counted)
		w, err := fsnotify.NewWatcher()
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		d.watcher = w
		pass(b, d)
		b.ReportMetric(float64(len(d.watched)), "watches")
		counted.writes.Store(0)
		cpu := measureCPU{b: b}
		defer cpu.report()
		b.ResetTimer()
		for range b.N {
			unchanged(b, store, counted, d, &cpu)
		}
		b.ReportMetric(float64(counted.writes.Load())/float64(b.N), "writes/op")
	})

	b.Run("restart", func(b *testing.B) {
		store, counted := populated(b)
		cpu := measureCPU{b: b}
		defer cpu.report()
		b.ResetTimer()
		for range b.N {
			unchanged(b, store, counted, newDiscoverer(b, root, counted), &cpu)
		}
		b.ReportMetric(float64(counted.writes.Load())/float64(b.N), "writes/op")
	})
}
