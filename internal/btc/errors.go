package btc

import "fmt"

// FieldError reports invalid input to a btc function. Field names the
// offending input (for example "Height", "bits", "prevhash"), Reason says
// what is wrong with it, and Err, when non-nil, is the underlying error.
type FieldError struct {
	Field  string
	Reason string
	Err    error
}

func (e *FieldError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("btc: %s: %s: %v", e.Field, e.Reason, e.Err)
	}
	return fmt.Sprintf("btc: %s: %s", e.Field, e.Reason)
}

// Unwrap returns the underlying error, if any.
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
