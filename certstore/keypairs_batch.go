package certstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// PutResult is what Store.PutKeyPairs did with one input.
type PutResult struct {
	KeyPair KeyPair
	Outcome Outcome
	Err     error // as PutKeyPair's; the other fields are zero when it is set
}

// PutKeyPairs validates ins in parallel and writes the accepted ones in one
// transaction, so a batch costs one commit and signals one change.
func (s *SQLite) PutKeyPairs(ctx context.Context, ins []Input) []PutResult {
	res := make([]PutResult, len(ins))
	parsed := validateAll(ins, res)
	if !slices.ContainsFunc(parsed, func(p *Parsed) bool { return p != nil }) {
		return res // every input was rejected: nothing to write
	}

	now := time.Now()
	err := s.write(ctx, func(tx *sql.Tx) error {
		q, err := preparePut(ctx, tx)
		if err != nil {
			return err
		}
		for i, in := range ins {
			if parsed[i] == nil {
				continue
			}
			kp, outcome, err := putKeyPair(ctx, q, in, parsed[i], now)
			switch {
			case errors.Is(err, ErrConflict):
				res[i].Err = fmt.Errorf("storing keypair %q: %w", in.Name, err)
			case err != nil:
				return fmt.Errorf("storing keypair %q: %w", in.Name, err)
			default:
				res[i] = PutResult{KeyPair: kp, Outcome: outcome}
			}
		}
		return nil
	})

	for i, in := range ins {
		switch {
		case parsed[i] == nil:
		case err != nil:
			// The transaction rolled back: nothing in it was written.
			res[i] = PutResult{Err: err}
		case res[i].Outcome == Unchanged:
			kp, err := s.KeyPair(ctx, in.Name)
			res[i] = PutResult{KeyPair: kp, Outcome: Unchanged, Err: err}
		}
	}
	return res
}

// validateAll validates every input, on as many goroutines as there are
// processors, and returns the parsed ones; a rejected input gets its error
// in res and nil in the result.
func validateAll(ins []Input, res []PutResult) []*Parsed {
	parsed := make([]*Parsed, len(ins))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ins)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(ins); i = int(next.Add(1) - 1) {
				p, err := validateInput(ins[i])
				if err != nil {
					res[i].Err = err
					continue
				}
				parsed[i] = p
			}
		}()
	}
	wg.Wait()
	return parsed
}
