package certstore

import (
	"context"

	"github.com/portico-proxy/portico/tenants"
)

// Store is the database behind Portico: keypairs, tenants and a generation
// number that grows with every committed change to either. SQLite is the
// implementation here; a PostgreSQL one can be added behind the same
// interface. Implementations are safe for concurrent use, make every write
// one transaction, and never return a private key except from Material.
type Store interface {
	tenants.Store

	// PutKeyPair validates in and creates or updates the keypair in.Name.
	// When the stored keypair already equals the input it writes nothing
	// and returns Unchanged. A rejected input (an *InputError, ErrConflict)
	// leaves the store as it was.
	PutKeyPair(ctx context.Context, in Input) (KeyPair, Outcome, error)
	// PutKeyPairs is PutKeyPair for many inputs: each is validated and
	// decided on its own (results[i] is for ins[i], and a rejected input
	// does not stop the others), but the accepted ones are written in one
	// transaction and signalled as one change. A failed transaction is the
	// error of every input it held.
	PutKeyPairs(ctx context.Context, ins []Input) []PutResult
	// KeyPair returns the keypair called name, or ErrNotFound.
	KeyPair(ctx context.Context, name string) (KeyPair, error)
	// KeyPairs returns every keypair ordered by name, without chain PEM.
	KeyPairs(ctx context.Context) ([]KeyPair, error)
	// DeleteKeyPair removes the keypair called name. It returns ErrInUse
	// while a tenant serves it, and ErrNotFound when there is none.
	DeleteKeyPair(ctx context.Context, name string) error
	// SetKeyPairStatus records a keypair's status ("" or "missing"); it
	// writes nothing when the status is already that.
	SetKeyPairStatus(ctx context.Context, name, status string) error

	// ChangesSince returns what changed after generation since, read in one
	// transaction: with since 0, every tenant and keypair summary.
	ChangesSince(ctx context.Context, since uint64) (Changes, error)
	// Material returns the chain and key of the named keypairs; names that
	// do not exist are left out.
	Material(ctx context.Context, names []string) ([]Material, error)
	// Generation returns the store's current generation. It grows with
	// every committed change to keypairs or tenants, whichever process
	// made it.
	Generation(ctx context.Context) (uint64, error)
	// Changes returns a channel that receives the new generation, within
	// about a second, after every committed change. It is closed when ctx
	// ends. Several quick changes may be reported once.
	Changes(ctx context.Context) <-chan uint64

	// Close releases the database.
	Close() error
}
