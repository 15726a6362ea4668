package acme

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
)

func newTestStorage(t *testing.T, path string) *Storage {
	t.Helper()
	s := openStore(t, path)
	return NewStorage(s.DB(), s.ReadDB(), 0, nil)
}

// fill stores each key with its own name as the value.
func fill(t *testing.T, s *Storage, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := s.Store(context.Background(), k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
}

var testKeys = []string{
	"acme/ca/users/a/a.json",
	"acme/ca/users/a/a.key",
	"acme/ca/users/b/b.json",
	"certificates/ca/x.test/x.test.crt",
	"top",
	// Neighbours that must never be taken for children of "n/b".
	"n/b",
	"n/b.x",
	"n/b0",
	"n/bc/d",
}

func TestStorageLoadStore(t *testing.T) {
	ctx := context.Background()
	s := newTestStorage(t, "")
	fill(t, s, testKeys...)

	for _, k := range testKeys {
		got, err := s.Load(ctx, k)
		if err != nil || string(got) != k {
			t.Errorf("Load(%q): got %q, %v; want %q", k, got, err, k)
		}
	}
	if err := s.Store(ctx, "top", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "top"); string(got) != "new" {
		t.Errorf("after overwrite: got %q, want new", got)
	}
	for _, k := range []string{"missing", "acme", "acme/ca/users/a"} {
		if _, err := s.Load(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q): got %v, want fs.ErrNotExist", k, err)
		}
	}
	for _, k := range []string{"", "/a", "a/", "a//b", "a/../b", "./a"} {
		if err := s.Store(ctx, k, []byte("x")); err == nil {
			t.Errorf("Store(%q) accepted a malformed key", k)
		}
	}
}

func TestStorageExistsAndStat(t *testing.T) {
	ctx := context.Background()
	s := newTestStorage(t, "")
	fill(t, s, testKeys...)

	tests := []struct {
		key      string
		exists   bool
		terminal bool
	}{
		{"top", true, true},
		{"acme", true, false},
		{"acme/ca/users/a", true, false},
		{"acme/ca/users/a/a.key", true, true},
		{"acme/ca/use", false, false}, // a prefix, not a whole component
		{"acm", false, false},
		{"n/b", true, true},
		{"n/bc", true, false},
		{"missing", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := s.Exists(ctx, tt.key); got != tt.exists {
				t.Errorf("Exists: got %v, want %v", got, tt.exists)
			}
			info, err := s.Stat(ctx, tt.key)
			if !tt.exists {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Stat: got %v, want fs.ErrNotExist", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Key != tt.key || info.IsTerminal != tt.terminal || info.Modified.IsZero() {
				t.Errorf("Stat: got %+v, want key %q, terminal %v and a time", info, tt.key, tt.terminal)
			}
			if tt.terminal && info.Size != int64(len(tt.key)) {
				t.Errorf("Stat size: got %d, want %d", info.Size, len(tt.key))
			}
		})
	}
}

func TestStorageList(t *testing.T) {
	ctx := context.Background()
	s := newTestStorage(t, "")
	fill(t, s, testKeys...)

	tests := []struct {
		dir       string
		recursive bool
		want      []string // nil: fs.ErrNotExist
	}{
		{"", false, []string{"acme", "certificates", "n", "top"}},
		{"acme/ca/users", false, []string{"acme/ca/users/a", "acme/ca/users/b"}},
		{"acme/ca/users", true, []string{"acme/ca/users/a", "acme/ca/users/a/a.json",
			"acme/ca/users/a/a.key", "acme/ca/users/b", "acme/ca/users/b/b.json"}},
		{"acme", true, []string{"acme/ca", "acme/ca/users", "acme/ca/users/a", "acme/ca/users/a/a.json",
			"acme/ca/users/a/a.key", "acme/ca/users/b", "acme/ca/users/b/b.json"}},
		{"acme/ca/users/a", false, []string{"acme/ca/users/a/a.json", "acme/ca/users/a/a.key"}},
		{"n", false, []string{"n/b", "n/b.x", "n/b0", "n/bc"}},
		{"n/b", true, []string{}}, // a value, not a directory
		{"acme/ca/use", false, nil},
		{"missing", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := s.List(ctx, tt.dir, tt.recursive)
			if tt.want == nil {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("got %v, %v; want fs.ErrNotExist", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStorageDelete(t *testing.T) {
	tests := []struct {
		key  string
		gone []string
		kept []string
	}{
		{"top", []string{"top"}, []string{"acme/ca/users/a/a.json"}},
		{"acme/ca/users/a", []string{"acme/ca/users/a/a.json", "acme/ca/users/a/a.key"},
			[]string{"acme/ca/users/b/b.json"}},
		{"acme", []string{"acme/ca/users/a/a.json", "acme/ca/users/b/b.json"}, []string{"top", "certificates/ca/x.test/x.test.crt"}},
		{"n/b", []string{"n/b"}, []string{"n/b.x", "n/b0", "n/bc/d"}},
		{"missing", nil, testKeys},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			ctx := context.Background()
			s := newTestStorage(t, "")
			fill(t, s, testKeys...)
			if err := s.Delete(ctx, tt.key); err != nil {
				t.Fatal(err)
			}
			for _, k := range tt.gone {
				if s.Exists(ctx, k) {
					t.Errorf("%s exists after Delete(%q)", k, tt.key)
				}
			}
			for _, k := range tt.kept {
				if !s.Exists(ctx, k) {
					t.Errorf("%s went with Delete(%q)", k, tt.key)
				}
			}
			if err := s.Delete(ctx, tt.key); err != nil {
				t.Errorf("deleting again: %v", err)
			}
		})
	}
}

func TestStorageSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portico.db")
	ctx := context.Background()
	fill(t, newTestStorage(t, path), "acme/ca/users/a/a.json")
	got, err := newTestStorage(t, path).Load(ctx, "acme/ca/users/a/a.json")
	if err != nil || string(got) != "acme/ca/users/a/a.json" {
		t.Errorf("after reopening: got %q, %v", got, err)
	}
}
