package tenants

import (
	"errors"
	"fmt"
)

// FieldError is a tenant setting that cannot be stored: Field names it as
// the API and the CLI's JSON do, Reason says why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Validate reports every reason t cannot be stored, as joined *FieldErrors,
// or nil. The domain must already be normalised; whether the keypair exists
// is the store's to check.
func (t Tenant) Validate() error {
	var errs []error
	if n, err := NormalizeDomain(t.Domain); err != nil {
		errs = append(errs, &FieldError{"domain", err.Error()})
	} else if n != t.Domain {
		errs = append(errs, &FieldError{"domain", fmt.Sprintf("%q is not normalised (want %q)", t.Domain, n)})
	}
	if err := CheckUpstream(t.Upstream); err != nil {
		errs = append(errs, &FieldError{"upstream", err.Error()})
	}
	if t.HSTSMaxAge < 0 {
		errs = append(errs, &FieldError{"hsts_max_age", "must not be negative"})
	}
	return errors.Join(errs...)
}
