package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/portico-proxy/portico/certstore"
)

// TokenFile is the file in the data folder that a generated admin token is
// written to, readable by its owner only.
const TokenFile = "admin-token"

// MinTokenLength is the shortest admin token accepted from
// PORTICO_ADMIN_TOKEN: the token is the admin listener's only password.
const MinTokenLength = 16

// EnsureToken makes sure the store holds an admin token when serve starts.
// A token given in fromEnv (PORTICO_ADMIN_TOKEN) is stored, replacing any
// other, and a token file left from an earlier generated token is removed.
// Without one, a stored token is kept; with none stored either, a new token
// is generated, its hash stored and the token written once to
// dataDir/admin-token (0600). The token itself is never logged.
func EnsureToken(ctx context.Context, ts certstore.TokenStore, dataDir, fromEnv string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(dataDir, TokenFile)
	if fromEnv != "" {
		return setTokenFromEnv(ctx, ts, path, fromEnv, log)
	}

	_, err := ts.AdminToken(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, certstore.ErrNotFound) {
		return err
	}
	token := newToken()
	err = writeTokenFile(path, token, func() error {
		return ts.SetAdminToken(ctx, certstore.HashToken(token, time.Now()), false)
	})
	if errors.Is(err, certstore.ErrExists) {
		return nil // another process made one first; its file is the one
	}
	if err != nil {
		return err
	}
	log.Info("generated the admin token", "path", path)
	return nil
}

func setTokenFromEnv(ctx context.Context, ts certstore.TokenStore, path, token string, log *slog.Logger) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("PORTICO_ADMIN_TOKEN is %d characters; at least %d are required", len(token), MinTokenLength)
	}
	if h, err := ts.AdminToken(ctx); err == nil && h.Matches(token) {
		return nil
	} else if err != nil && !errors.Is(err, certstore.ErrNotFound) {
		return err
	}
	if err := ts.SetAdminToken(ctx, certstore.HashToken(token, time.Now()), true); err != nil {
		return err
	}
	log.Info("admin token set from PORTICO_ADMIN_TOKEN")
	if err := os.Remove(path); err == nil {
		log.Info("removed the generated admin token file, which no longer works", "path", path)
	}
	return nil
}

// RotateToken replaces the stored admin token with a new random one,
// writes it to dataDir/admin-token (0600) and returns it. Sessions and
// clients using the old token are refused from then on, in every process on
// the store.
func RotateToken(ctx context.Context, ts certstore.TokenStore, dataDir string) (string, error) {
	token := newToken()
	err := writeTokenFile(filepath.Join(dataDir, TokenFile), token, func() error {
		return ts.SetAdminToken(ctx, certstore.HashToken(token, time.Now()), true)
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// newToken returns 32 random bytes, base64url-encoded.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// writeTokenFile writes token to a temporary file beside path, runs store,
// and only when that succeeds renames the file into place, so that the
// file never holds a token the store does not.
func writeTokenFile(path, token string, store func() error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data folder: %w", err)
	}
	f, err := os.CreateTemp(dir, ".admin-token-*")
	if err != nil {
		return fmt.Errorf("writing admin token file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing admin token file: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("writing admin token file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing admin token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing admin token file: %w", err)
	}
	if err := store(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing admin token file: %w", err)
	}
	return nil
}
