package acme

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// heldLock is a lock this Storage holds, with the goroutine that keeps its
// row alive.
type heldLock struct {
	token string
	stop  chan struct{} // closed by Unlock
	done  chan struct{} // closed when the keeper has returned
}

// ErrLockLost says a lock's row expired or was taken over while its holder
// thought it held it, which happens only when the holder could not reach
// the database for a whole lock TTL.
var ErrLockLost = errors.New("acme storage: lock lost")

// Lock takes the lock called name, waiting while another holder (in this
// process or another) has it and its row has not expired. Once held, the
// lock's expiry is pushed forward every third of the lock TTL until Unlock.
// It returns ctx's error when ctx ends first.
func (s *Storage) Lock(ctx context.Context, name string) error {
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for lock %s: %w", name, ctx.Err())
		case <-time.After(s.poll):
		}
	}
}

// TryLock takes the lock called name if no live holder has it, and reports
// whether it did. It does not wait.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	token, err := newToken()
	if err != nil {
		return false, err
	}
	now := time.Now()
	// One statement: take a free name, or take over an expired row.
	res, err := s.wdb.ExecContext(ctx, `INSERT INTO acme_locks (name, token, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
		WHERE acme_locks.expires_at <= ?`,
		name, token, now.Add(s.lockTTL).UnixMilli(), now.UnixMilli())
	if err != nil {
		return false, fmt.Errorf("taking lock %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}

	h := &heldLock{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.held[name] = h
	s.mu.Unlock()
	go s.keep(name, h)
	return true, nil
}

// keep extends the lock's expiry every third of the TTL until Unlock.
func (s *Storage) keep(name string, h *heldLock) {
	defer close(h.done)
	tick := time.NewTicker(s.lockTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		if err := s.extend(context.Background(), name, h.token); err != nil {
			s.log.Error("keeping acme lock", "lock", name, "err", err)
			if errors.Is(err, ErrLockLost) {
				return
			}
		}
	}
}

func (s *Storage) extend(ctx context.Context, name, token string) error {
	res, err := s.wdb.ExecContext(ctx, `UPDATE acme_locks SET expires_at = ? WHERE name = ? AND token = ?`,
		time.Now().Add(s.lockTTL).UnixMilli(), name, token)
	if err != nil {
		return fmt.Errorf("extending lock %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("extending lock %s: %w", name, ErrLockLost)
	}
	return nil
}

// Unlock releases the lock called name, which this Storage must hold. It
// returns ErrLockLost when the row had already expired and been taken.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("unlocking %s: not held by this process", name)
	}
	close(h.stop)
	<-h.done

	res, err := s.wdb.ExecContext(context.WithoutCancel(ctx),
		`DELETE FROM acme_locks WHERE name = ? AND token = ?`, name, h.token)
	if err != nil {
		return fmt.Errorf("unlocking %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("unlocking %s: %w", name, ErrLockLost)
	}
	return nil
}

// RenewLockLease confirms that this Storage still holds the lock and
// extends it by the usual TTL. The requested lease is not used: the lock is
// kept alive for as long as its holder runs, and a longer lease would only
// make a crashed holder's lock last longer.
func (s *Storage) RenewLockLease(ctx context.Context, name string, _ time.Duration) error {
	s.mu.Lock()
	h := s.held[name]
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("renewing lock %s: not held by this process", name)
	}
	return s.extend(ctx, name, h.token)
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making lock token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
