package certtree

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// KubeSecret is a Kubernetes secret mounted as a volume: each key is a link
// name -> ..data/name, ..data links to a hidden folder named after the time
// it was written, and an update swaps ..data atomically, as the kubelet's
// atomic writer does.
type KubeSecret struct {
	Dir string

	t       testing.TB
	current string // the hidden folder ..data points to
	n       int
}

// NewKubeSecret mounts a secret holding files (key -> content) at dir.
func NewKubeSecret(t testing.TB, dir string, files map[string][]byte) *KubeSecret {
	t.Helper()
	mkdir(t, dir, 0o755)
	s := &KubeSecret{Dir: dir, t: t}
	s.Update(files)
	return s
}

// Update writes a new version of the secret as the kubelet does: a new
// timestamped hidden folder with every file, a ..data_tmp link to it
// renamed over ..data in one step, links for keys that are new, removal of
// links for keys that are gone, and removal of the old folder.
func (s *KubeSecret) Update(files map[string][]byte) {
	s.t.Helper()
	s.n++
	ts := "..2026_01_01_00_00_00." + time.Now().Format("150405.000000000") + string(rune('a'+s.n%26))
	dir := filepath.Join(s.Dir, ts)
	mkdir(s.t, dir, 0o755)
	names := make([]string, 0, len(files))
	for name, data := range files {
		write(s.t, filepath.Join(dir, name), string(data), 0o644)
		names = append(names, name)
	}
	sort.Strings(names)

	tmp := filepath.Join(s.Dir, "..data_tmp")
	link(s.t, ts, tmp)
	if err := os.Rename(tmp, filepath.Join(s.Dir, "..data")); err != nil {
		s.t.Fatal(err)
	}
	for _, name := range names {
		p := filepath.Join(s.Dir, name)
		if _, err := os.Lstat(p); err != nil {
			link(s.t, filepath.Join("..data", name), p)
		}
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink != 0 && e.Name()[0] != '.' && files[e.Name()] == nil {
			os.Remove(filepath.Join(s.Dir, e.Name()))
		}
	}
	if s.current != "" {
		if err := os.RemoveAll(filepath.Join(s.Dir, s.current)); err != nil {
			s.t.Fatal(err)
		}
	}
	s.current = ts
}
