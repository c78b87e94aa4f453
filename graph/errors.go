package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vikstrous/dataloadgen"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Error codes carried in extensions.code; clients switch on these, never on messages.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeRateLimited     = "RATE_LIMITED"
	CodeInternal        = "INTERNAL"
)

// presentError is the one place that maps errors to client-facing GraphQL errors: known
// domain errors get a code and a safe message; anything else is logged and answered INTERNAL,
// so no SQL, stack or internal text reaches a client.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		cause := gqlErr.Err
		if cause == nil {
			// Parse, validation and limit errors made by gqlgen itself are already safe.
			return gqlErr
		}
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		code, msg := classify(cause)
		if field, ok := argumentPath(ctx, gqlErr.Path); ok && code == CodeInternal {
			// A scalar (Date, JSON, Time) refused a value while gqlgen decoded the arguments;
			// its message is written for clients.
			code, msg = CodeBadUserInput, fmt.Sprintf("%s: %s", field, cause.Error())
			gqlErr.Extensions["field"] = field
		}
		if code == CodeBadUserInput || code == CodeConflict {
			if in, ok := invalid.As(cause); ok {
				field := in.Field
				if field == "" {
					field = inputPath(gqlErr.Path)
				}
				gqlErr.Extensions["field"] = field
				if field != "" {
					msg = fmt.Sprintf("%s: %s", field, in.Message)
				} else {
					msg = in.Message
				}
			}
		}
		if code == CodeInternal {
			logger.ErrorContext(ctx, "internal error", slog.String("path", gqlErr.Path.String()), slog.Any("error", cause))
		}
		gqlErr.Message = msg
		gqlErr.Extensions["code"] = code
		return gqlErr
	}
}

func classify(err error) (code, msg string) {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return CodeUnauthenticated, unauthenticatedMessage(err)
	case errors.Is(err, auth.ErrForbidden):
		return CodeForbidden, "you are not allowed to do this"
	case errors.Is(err, db.ErrConflict):
		return CodeConflict, "this conflicts with existing data"
	case errors.Is(err, db.ErrNotFound), errors.Is(err, dataloadgen.ErrNotFound):
		return CodeNotFound, "not found"
	case errors.Is(err, auth.ErrRateLimited):
		return CodeRateLimited, "too many requests; try again later"
	case errors.Is(err, db.ErrInvalidValue), errors.Is(err, db.ErrInvalidReference):
		return CodeBadUserInput, "a value in the input is not valid"
	case err.Error() == "introspection disabled": // gqlgen's own error, not a sentinel
		return CodeForbidden, "introspection is disabled on this server"
	case errors.Is(err, context.DeadlineExceeded):
		return CodeInternal, "the operation took too long"
	}
	if _, ok := invalid.As(err); ok {
		return CodeBadUserInput, "invalid input"
	}
	return CodeInternal, "internal error"
}

// unauthenticatedMessage keeps the login failure message (it is written for users) and hides
// the cause of other failures (which token check failed helps attackers, not users).
func unauthenticatedMessage(err error) string {
	if errors.Is(err, auth.ErrInvalidCredentials) {
		return "invalid email or password"
	}
	return "authentication required"
}

// inputPath names an argument error by its path inside the input, e.g. "input.renewalDate".
func inputPath(p ast.Path) string {
	var parts []string
	for _, el := range p {
		parts = append(parts, fmt.Sprint(el))
	}
	return strings.Join(parts, ".")
}

// argumentPath returns where in the arguments an error arose ("input.renewalDate"), when its
// path reaches below the field being resolved: gqlgen puts errors from decoding a field's
// arguments there, and resolver errors at the field itself.
func argumentPath(ctx context.Context, p ast.Path) (string, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return "", false
	}
	field := fc.Path()
	if len(p) <= len(field) {
		return "", false
	}
	for i := range field {
		if p[i] != field[i] {
			return "", false
		}
	}
	return p[len(field):].String(), true
}

// recoverPanic turns a resolver panic into an INTERNAL error and logs it with its stack.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "resolver panic", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		return errors.New("internal error")
	}
}
