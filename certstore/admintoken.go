package certstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"time"
)

// TokenHash is the stored form of the admin token: a random salt and the
// SHA-256 of the salt followed by the token. The token itself is never
// stored.
type TokenHash struct {
	Salt      []byte
	Hash      []byte
	CreatedAt time.Time
}

// HashToken returns the stored form of token with a new random salt.
func HashToken(token string, now time.Time) TokenHash {
	salt := make([]byte, 16)
	rand.Read(salt)
	return TokenHash{Salt: salt, Hash: saltedHash(salt, token), CreatedAt: now.UTC().Truncate(time.Second)}
}

// Matches reports, in time that does not depend on where they differ,
// whether token is the one h was made from.
func (h TokenHash) Matches(token string) bool {
	if len(h.Hash) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(saltedHash(h.Salt, token), h.Hash) == 1
}

func saltedHash(salt []byte, token string) []byte {
	s := sha256.New()
	s.Write(salt)
	s.Write([]byte(token))
	return s.Sum(nil)
}

// TokenStore keeps the admin token's hash. Implementations are safe for
// concurrent use.
type TokenStore interface {
	// AdminToken returns the stored token hash, or ErrNotFound when no
	// token was ever set.
	AdminToken(ctx context.Context) (TokenHash, error)
	// SetAdminToken stores h. With replace false it writes only when no
	// token is stored and returns ErrExists otherwise, so two processes
	// starting at once never both create one.
	SetAdminToken(ctx context.Context, h TokenHash, replace bool) error
}
