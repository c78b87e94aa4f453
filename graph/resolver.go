// Package graph is Steward's GraphQL adapter: generated execution code (exec.go, model/), thin
// resolvers that decode input, call one domain method and convert the result, converters,
// loaders, the @auth directive, the error presenter and the handler's limits. It holds no SQL
// and opens no transactions.
package graph

import (
	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/auth"
)

//go:generate go tool gqlgen generate

// Resolver is the one place that holds the resolvers' dependencies.
type Resolver struct {
	AccountService *account.Service
	AuthService    *auth.Service
}
