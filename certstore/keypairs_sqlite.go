package certstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// maxNameLen bounds keypair names, which appear in URLs and logs.
const maxNameLen = 200

// CheckName reports why name cannot name a keypair of the given source, or
// nil when it can.
func CheckName(name string, source Source) error {
	switch {
	case name == "":
		return errors.New("keypair name is empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("keypair name is longer than %d bytes", maxNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("keypair name %q starts or ends with a space", name)
	case strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("keypair name %q contains a slash", name)
	case name == DefaultKeyPairName:
		return fmt.Errorf("keypair name %q is Portico's own default keypair", name)
	case strings.HasPrefix(name, ACMENamePrefix) != (source == SourceACME):
		return fmt.Errorf("keypair name %q: the prefix %q is for ACME keypairs only", name, ACMENamePrefix)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("keypair name %q contains a control character", name)
		}
	}
	return nil
}

// PutKeyPair validates in and creates or updates the keypair in.Name.
func (s *SQLite) PutKeyPair(ctx context.Context, in Input) (KeyPair, Outcome, error) {
	p, err := validateInput(in)
	if err != nil {
		return KeyPair{}, "", err
	}
	var kp KeyPair
	var outcome Outcome
	now := time.Now()
	err = s.write(ctx, func(tx *sql.Tx) error {
		q, err := preparePut(ctx, tx)
		if err != nil {
			return err
		}
		kp, outcome, err = putKeyPair(ctx, q, in, p, now)
		return err
	})
	if err != nil {
		return KeyPair{}, "", fmt.Errorf("storing keypair %q: %w", in.Name, err)
	}
	if outcome == Unchanged {
		stored, err := s.KeyPair(ctx, in.Name)
		return stored, Unchanged, err
	}
	return kp, outcome, nil
}

// validateInput checks in's source and name and parses its PEM.
func validateInput(in Input) (*Parsed, error) {
	if !in.Source.Valid() {
		return nil, fmt.Errorf("unknown keypair source %q", in.Source)
	}
	if err := CheckName(in.Name, in.Source); err != nil && !in.defaultKeyPair {
		return nil, &InputError{"name", err.Error()}
	}
	return ParseKeyPair(in.Cert, in.CertFrom, in.Key, in.KeyFrom)
}

// The statements that write keypairs.
const (
	selectForPut = `SELECT id, source, origin, origin_digest, status, revision, created_at,
		key_pem IS NOT NULL FROM keypairs WHERE name = ?`
	insertSQL = `INSERT INTO keypairs
		(name, source, origin, origin_digest, status, chain_pem, key_pem, fingerprint, subject,
		 issuer, dns_names, not_before, not_after, key_type, revision, created_at, updated_at)
		VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	updateSQL = `UPDATE keypairs SET
		source = ?, origin = ?, origin_digest = ?, status = '', chain_pem = ?, key_pem = ?,
		fingerprint = ?, subject = ?, issuer = ?, dns_names = ?, not_before = ?, not_after = ?,
		key_type = ?, revision = ?, updated_at = ?
		WHERE id = ?`
)

// putStmts are the statements putKeyPair runs, prepared once per
// transaction so that a batch does not prepare them for every keypair.
type putStmts struct {
	sel, ins, upd *sql.Stmt
}

func preparePut(ctx context.Context, tx *sql.Tx) (*putStmts, error) {
	var q putStmts
	var err error
	if q.sel, err = tx.PrepareContext(ctx, selectForPut); err != nil {
		return nil, err
	}
	if q.ins, err = tx.PrepareContext(ctx, insertSQL); err != nil {
		return nil, err
	}
	if q.upd, err = tx.PrepareContext(ctx, updateSQL); err != nil {
		return nil, err
	}
	return &q, nil
}

// putKeyPair creates or updates the keypair in.Name, parsed as p, with the
// statements q of the current transaction. For Unchanged it returns the
// input's description, not the stored one.
func putKeyPair(ctx context.Context, q *putStmts, in Input, p *Parsed, now time.Time) (KeyPair, Outcome, error) {
	kp := fromParsed(in, p, now)
	var id int64
	var source, origin, digest, status, revision string
	var created int64
	var hasKey bool
	err := q.sel.QueryRowContext(ctx, in.Name).Scan(&id, &source, &origin, &digest, &status, &revision, &created, &hasKey)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return kp, Created, insertKeyPair(ctx, q.ins, &kp, p)
	case err != nil:
		return KeyPair{}, "", err
	}
	if in.OnlySource != "" && Source(source) != in.OnlySource {
		return KeyPair{}, "", fmt.Errorf("%w: %q is %s", ErrConflict, in.Name, source)
	}
	if hasKey && p.KeyPEM == nil {
		// A forgotten --private-key must not make a served keypair
		// unservable.
		return KeyPair{}, "", &InputError{in.CertFrom, fmt.Sprintf(
			"no private key given, and keypair %q has one; give its key (or delete the keypair first)", in.Name)}
	}
	kp.ID, kp.CreatedAt = id, fromUnix(created)
	if revision == kp.Revision && source == string(kp.Source) && origin == kp.Origin &&
		digest == kp.OriginDigest && status == "" {
		return kp, Unchanged, nil
	}
	return kp, Updated, updateKeyPair(ctx, q.upd, &kp, p)
}

func fromParsed(in Input, p *Parsed, now time.Time) KeyPair {
	leaf := p.Leaf()
	return KeyPair{
		Name:        in.Name,
		Source:      in.Source,
		Origin:      in.Origin,
		ChainPEM:    p.ChainPEM,
		HasKey:      p.KeyPEM != nil,
		Fingerprint: p.Fingerprint(),
		Subject:     leaf.Subject.String(),
		Issuer:      leaf.Issuer.String(),
		DNSNames:    leaf.DNSNames,
		NotBefore:   leaf.NotBefore.UTC(),
		NotAfter:    leaf.NotAfter.UTC(),
		KeyType:     p.KeyType,
		Revision:    p.Revision(),
		CreatedAt:   now.UTC().Truncate(time.Second),
		UpdatedAt:   now.UTC().Truncate(time.Second),

		OriginDigest: in.OriginDigest,
	}
}

func insertKeyPair(ctx context.Context, stmt *sql.Stmt, kp *KeyPair, p *Parsed) error {
	res, err := stmt.ExecContext(ctx,
		kp.Name, kp.Source, kp.Origin, kp.OriginDigest, kp.ChainPEM, nullBytes(p.KeyPEM), kp.Fingerprint,
		kp.Subject, kp.Issuer, encodeNames(kp.DNSNames), unix(kp.NotBefore), unix(kp.NotAfter),
		kp.KeyType, kp.Revision, unix(kp.CreatedAt), unix(kp.UpdatedAt))
	if err != nil {
		return err
	}
	kp.ID, err = res.LastInsertId()
	return err
}

func updateKeyPair(ctx context.Context, stmt *sql.Stmt, kp *KeyPair, p *Parsed) error {
	_, err := stmt.ExecContext(ctx,
		kp.Source, kp.Origin, kp.OriginDigest, kp.ChainPEM, nullBytes(p.KeyPEM), kp.Fingerprint,
		kp.Subject, kp.Issuer, encodeNames(kp.DNSNames), unix(kp.NotBefore), unix(kp.NotAfter),
		kp.KeyType, kp.Revision, unix(kp.UpdatedAt), kp.ID)
	return err
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

const keyPairColumns = `id, name, source, origin, origin_digest, status, key_pem IS NOT NULL,
	fingerprint, subject, issuer, dns_names, not_before, not_after, key_type, revision,
	created_at, updated_at`

func scanKeyPair(row interface{ Scan(...any) error }, extra ...any) (KeyPair, error) {
	var kp KeyPair
	var names string
	var nb, na, ca, ua int64
	dest := []any{&kp.ID, &kp.Name, &kp.Source, &kp.Origin, &kp.OriginDigest, &kp.Status, &kp.HasKey,
		&kp.Fingerprint, &kp.Subject, &kp.Issuer, &names, &nb, &na, &kp.KeyType, &kp.Revision,
		&ca, &ua}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return KeyPair{}, err
	}
	kp.DNSNames = decodeNames(names)
	kp.NotBefore, kp.NotAfter = fromUnix(nb), fromUnix(na)
	kp.CreatedAt, kp.UpdatedAt = fromUnix(ca), fromUnix(ua)
	return kp, nil
}

// KeyPair returns the keypair called name with its chain, or ErrNotFound.
func (s *SQLite) KeyPair(ctx context.Context, name string) (KeyPair, error) {
	row := s.rdb.QueryRowContext(ctx,
		`SELECT `+keyPairColumns+`, chain_pem FROM keypairs WHERE name = ?`, name)
	var chain []byte
	kp, err := scanKeyPair(row, &chain)
	if errors.Is(err, sql.ErrNoRows) {
		return KeyPair{}, fmt.Errorf("keypair %q: %w", name, ErrNotFound)
	}
	kp.ChainPEM = chain
	return kp, err
}

// KeyPairs returns every keypair ordered by name, without chain PEM.
func (s *SQLite) KeyPairs(ctx context.Context) ([]KeyPair, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+keyPairColumns+` FROM keypairs ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []KeyPair
	for rows.Next() {
		kp, err := scanKeyPair(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, kp)
	}
	return out, rows.Err()
}

// DeleteKeyPair removes the keypair called name unless a tenant uses it or
// it is the default keypair, which the server needs.
func (s *SQLite) DeleteKeyPair(ctx context.Context, name string) error {
	if name == DefaultKeyPairName {
		return fmt.Errorf("deleting keypair %q: %w: it is served when nothing else matches", name, ErrInUse)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM keypairs WHERE name = ?`, name)
		if isForeignKeyViolation(err) {
			return fmt.Errorf("deleting keypair %q: %w", name, ErrInUse)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("keypair %q: %w", name, ErrNotFound)
		}
		return nil
	})
}

// SetKeyPairStatus records a keypair's status, writing only on a change.
func (s *SQLite) SetKeyPairStatus(ctx context.Context, name, status string) error {
	var current string
	err := s.rdb.QueryRowContext(ctx, `SELECT status FROM keypairs WHERE name = ?`, name).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("keypair %q: %w", name, ErrNotFound)
	}
	if err != nil || current == status {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE keypairs SET status = ? WHERE name = ?`, status, name)
		return err
	})
}

// Material returns the chain and key of the named keypairs.
func (s *SQLite) Material(ctx context.Context, names []string) ([]Material, error) {
	out := make([]Material, 0, len(names))
	// Read in batches: SQLite limits the number of bound parameters.
	const batch = 500
	for len(names) > 0 {
		n := min(batch, len(names))
		part := names[:n]
		names = names[n:]
		args := make([]any, len(part))
		for i, name := range part {
			args[i] = name
		}
		q := `SELECT name, revision, chain_pem, key_pem FROM keypairs WHERE name IN (?` +
			strings.Repeat(",?", len(part)-1) + `)`
		rows, err := s.rdb.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var m Material
			if err := rows.Scan(&m.Name, &m.Revision, &m.ChainPEM, &m.KeyPEM); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
