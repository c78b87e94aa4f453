package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/graph/model"
)

// authDirective implements @auth on root fields by asking auth.Authorize, the one place that
// decides who may do what.
func authDirective(ctx context.Context, _ any, next graphql.Resolver, role model.Role, scope *model.APIKeyScope) (any, error) {
	v, _ := auth.ViewerFrom(ctx)
	required := ""
	if scope != nil {
		required = apiScopes[*scope]
	}
	if err := auth.Authorize(v, string(role), required); err != nil {
		return nil, err
	}
	return next(ctx)
}

// viewer returns the authenticated caller; @auth has already ensured there is one.
func viewer(ctx context.Context) *auth.Viewer {
	v, _ := auth.ViewerFrom(ctx)
	return v
}
