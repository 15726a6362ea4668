package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-proxy/portico/certstore"
	"github.com/portico-proxy/portico/web"
)

func openStore(t *testing.T, dir string) *certstore.SQLite {
	t.Helper()
	s, err := certstore.OpenSQLite(context.Background(), filepath.Join(dir, "portico.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, web.TokenFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %v, want 0600", web.TokenFile, mode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, dir)

	// First start: a token is generated, written 0600, stored hashed.
	if err := web.EnsureToken(ctx, store, dir, "", nil); err != nil {
		t.Fatal(err)
	}
	first := readToken(t, dir)
	if len(first) < 40 {
		t.Fatalf("generated token %d characters, want at least 40", len(first))
	}
	h, err := store.AdminToken(ctx)
	if err != nil || !h.Matches(first) || h.Matches(first+"x") || h.Matches("") {
		t.Fatalf("stored hash does not match the file's token (or matches others): %v", err)
	}
	if strings.Contains(string(h.Hash), first) || strings.Contains(string(h.Salt), first) {
		t.Fatal("the token is stored in clear")
	}

	// Later starts keep it and do not write the file again.
	os.Remove(filepath.Join(dir, web.TokenFile))
	if err := web.EnsureToken(ctx, store, dir, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, web.TokenFile)); !os.IsNotExist(err) {
		t.Error("a second start wrote the token file again")
	}
	if h2, _ := store.AdminToken(ctx); !h2.Matches(first) {
		t.Error("a second start replaced the token")
	}

	// Rotation: a new token in the file; the old one no longer matches.
	rotated, err := web.RotateToken(ctx, store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := readToken(t, dir); got != rotated || rotated == first {
		t.Errorf("rotated token %q, file %q, first %q", rotated, got, first)
	}
	if h3, _ := store.AdminToken(ctx); !h3.Matches(rotated) || h3.Matches(first) {
		t.Error("after rotation the store does not hold exactly the new token")
	}

	// PORTICO_ADMIN_TOKEN replaces it and removes the stale file.
	env := "an-operator-chosen-token"
	if err := web.EnsureToken(ctx, store, dir, env, nil); err != nil {
		t.Fatal(err)
	}
	if h4, _ := store.AdminToken(ctx); !h4.Matches(env) || h4.Matches(rotated) {
		t.Error("the environment's token was not stored")
	}
	if _, err := os.Stat(filepath.Join(dir, web.TokenFile)); !os.IsNotExist(err) {
		t.Error("the stale generated token file was left behind")
	}

	// A short token from the environment is refused with the reason.
	err = web.EnsureToken(ctx, store, dir, "short", nil)
	if err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("short token: got %v, want an error saying at least 16 characters", err)
	}
}

// TestTokenGeneratedOnceByTwoProcesses: two stores on one database (as two
// processes) starting together end with one token, the one in the file.
func TestTokenGeneratedOnceByTwoProcesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openStore(t, dir), openStore(t, dir)
	errs := make(chan error, 2)
	for _, s := range []*certstore.SQLite{a, b} {
		go func() { errs <- web.EnsureToken(ctx, s, dir, "", nil) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	h, err := a.AdminToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Matches(readToken(t, dir)) {
		t.Error("the token file does not hold the stored token")
	}
}
