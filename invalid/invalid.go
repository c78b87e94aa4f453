// Package invalid describes bad input: an error that names the offending field, so the GraphQL
// error presenter can answer BAD_USER_INPUT with extensions.field and the client can point at it.
package invalid

import (
	"errors"
	"fmt"
)

// Error is bad input in one field. Field is a path in the input as the client sent it, e.g.
// "input.email" or "events[3].occurredAt".
type Error struct {
	Field   string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Message) }

// Field reports that field holds a bad value.
func Field(field, format string, args ...any) error {
	return &Error{Field: field, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Prefix returns err with its field nested under prefix ("events[3]" + "name" →
// "events[3].name"); other errors pass through unchanged. What else err wraps is kept, so a
// conflict stays errors.Is db.ErrConflict.
func Prefix(prefix string, err error) error {
	if e, ok := As(err); ok {
		return &renamed{err: &Error{Field: prefix + "." + e.Field, Message: e.Message}, cause: err}
	}
	return err
}

// Rename reports an error on field from as one on field to (the domain names a field
// differently from the argument the client sent); other errors pass through unchanged.
func Rename(from, to string, err error) error {
	if e, ok := As(err); ok && e.Field == from {
		return &renamed{err: &Error{Field: to, Message: e.Message}, cause: err}
	}
	return err
}

// renamed is an *Error with a new field that still wraps the original error: As finds the
// new *Error first, and errors.Is sees everything the original wrapped.
type renamed struct {
	err   *Error
	cause error
}

func (r *renamed) Error() string { return r.err.Error() }

func (r *renamed) As(target any) bool {
	if p, ok := target.(**Error); ok {
		*p = r.err
		return true
	}
	return false
}

func (r *renamed) Unwrap() error { return r.cause }
