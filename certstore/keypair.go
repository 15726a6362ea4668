// Package certstore keeps Portico's keypairs (certificate chains and private
// keys) and tenants in one database, validates every keypair before it is
// written, and signals every committed change, including changes made by
// other processes on the same database.
package certstore

import (
	"errors"
	"log/slog"
	"time"

	"github.com/portico-proxy/portico/tenants"
)

// Source says where a keypair came from.
type Source string

// The sources a keypair can have.
const (
	SourceSelfSigned Source = "self-signed"
	SourceImported   Source = "imported"
	SourceDiscovered Source = "discovered"
	SourceACME       Source = "acme"
	SourceAPI        Source = "api"
)

// Valid reports whether s is one of the known sources.
func (s Source) Valid() bool {
	switch s {
	case SourceSelfSigned, SourceImported, SourceDiscovered, SourceACME, SourceAPI:
		return true
	}
	return false
}

// DefaultKeyPairName is the keypair Portico creates on its first start and
// serves when no tenant has a usable keypair.
const DefaultKeyPairName = "Portico Self-signed Certificate"

// ACMENamePrefix starts the name of every keypair issued through ACME. No
// other source may use it, so ACME names never collide with others.
const ACMENamePrefix = "acme:"

// Sentinel errors returned by stores.
var (
	ErrNotFound = errors.New("certstore: not found")
	ErrInUse    = errors.New("certstore: keypair in use")
	ErrConflict = errors.New("certstore: keypair managed by another source")
	ErrExists   = errors.New("certstore: already exists")
)

// KeyPair is a stored keypair's description. It never holds the private key:
// that is only read through Store.Material, for the serving snapshot.
type KeyPair struct {
	ID          int64
	Name        string
	Source      Source
	Origin      string   // where it came from: a path for discovered keypairs
	Status      string   // "" when fine; "missing" when discovery lost its files
	ChainPEM    []byte   // the leaf first, then its chain
	HasKey      bool     // whether a private key is stored with it
	Fingerprint string   // hex SHA-256 of the leaf certificate's DER
	Subject     string   // the leaf's subject, as a distinguished name
	Issuer      string   // the leaf's issuer, as a distinguished name
	DNSNames    []string // the leaf's DNS subject alternative names
	NotBefore   time.Time
	NotAfter    time.Time
	KeyType     string // "ecdsa-p256", "rsa-2048", "ed25519", ...
	Revision    string // hex SHA-256 over chain and key; changes with either
	CreatedAt   time.Time
	UpdatedAt   time.Time

	// OriginDigest is the Input.OriginDigest it was last written with.
	OriginDigest string
}

// ValidityProblem says why the keypair's certificate is not valid at now
// ("expired on 2021-01-01"), or returns "" when it is. Such keypairs are
// stored all the same, since a renewal may follow; callers warn.
func (k KeyPair) ValidityProblem(now time.Time) string {
	switch {
	case now.After(k.NotAfter):
		return "the certificate expired on " + k.NotAfter.Format(time.DateOnly)
	case now.Before(k.NotBefore):
		return "the certificate is not valid before " + k.NotBefore.Format(time.DateOnly)
	}
	return ""
}

// LogValue identifies the keypair in logs by name and fingerprint only.
func (k KeyPair) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", k.Name), slog.String("fingerprint", k.Fingerprint))
}

// Material is the certificate chain and private key of one keypair, in
// canonical PEM, as the serving snapshot needs them.
type Material struct {
	Name     string
	Revision string
	ChainPEM []byte
	KeyPEM   []byte // empty for a certificate-only keypair
}

// LogValue keeps key material out of logs: a Material logs as its name.
func (m Material) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", m.Name), slog.String("revision", m.Revision))
}

// Input is a keypair to create or update.
type Input struct {
	Name   string
	Source Source
	Origin string // optional: where the input came from
	// OriginDigest is optional: a digest the caller computes over its raw
	// input (such as the bytes of the files read), stored with the keypair
	// so that the caller can later tell its input did not change without
	// parsing it again. A different digest makes the write an update even
	// when the keypair itself is the same.
	OriginDigest string

	Cert     []byte // PEM holding the certificate chain (and maybe the key)
	CertFrom string // how to name Cert in errors, such as its file name
	Key      []byte // optional PEM holding the private key (and maybe certificates)
	KeyFrom  string // how to name Key in errors

	// OnlySource, when set, refuses to update a keypair whose source is
	// different (ErrConflict); discovery uses it so that it never
	// overwrites a keypair it does not manage.
	OnlySource Source

	// defaultKeyPair lets EnsureDefault write the reserved default name.
	defaultKeyPair bool
}

// Outcome says what a write did.
type Outcome string

// The outcomes of Store.PutKeyPair.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
)

// Changes is what changed in the store between two generations, as the
// serving snapshot needs it: the tenants and keypair summaries written after
// the earlier generation (their current state), and what was deleted.
type Changes struct {
	Generation uint64 // the generation this describes
	Since      uint64 // the generation it starts from; 0 means everything

	Tenants         []tenants.Tenant
	KeyPairs        []KeyPairSummary
	DeletedTenants  []int64  // tenant IDs
	DeletedKeyPairs []string // keypair names
}

// KeyPairSummary is the part of a keypair the snapshot needs to decide
// whether it must load and parse the keypair again.
type KeyPairSummary struct {
	Name     string
	Revision string
	HasKey   bool
	NotAfter time.Time
}
