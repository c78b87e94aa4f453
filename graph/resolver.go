// Package graph is Steward's GraphQL adapter: generated execution code (exec.go, model/), thin
// resolvers that decode input, call one domain method and convert the result, converters,
// loaders, the @auth directive, the error presenter and the handler's limits. It holds no SQL
// and opens no transactions.
package graph

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/feed"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/task"
)

//go:generate go tool gqlgen generate

// NewResolver builds the domain services the resolvers call, on one database and clock.
func NewResolver(b *bun.DB, authService *auth.Service, now func() time.Time) *Resolver {
	return &Resolver{
		AccountService: &account.Service{DB: b, Now: now},
		AuthService:    authService,
		TaskService:    &task.Service{DB: b, Now: now},
		PlayService:    &play.Definitions{DB: b, Now: now},
	}
}

// Resolver is the one place that holds the resolvers' dependencies.
type Resolver struct {
	AccountService *account.Service
	AuthService    *auth.Service
	TaskService    *task.Service
	PlayService    *play.Definitions
	// PlayEngine runs plays; set by server.StartQueue once the job queue is up.
	PlayEngine *play.Engine
	// Delivery reads the dev mailbox; set by server.StartQueue.
	Delivery *delivery.Service
	// Feed serves the live feeds (subscriptions); set by server.StartFeed.
	Feed *feed.Hub
}
