package graph

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/uptrace/bun"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stewardhq/steward/graph/model"
)

// Defaults for the GraphQL handler's limits.
const (
	DefaultMaxDepth         = 12
	DefaultMaxComplexity    = 20_000
	DefaultParserTokenLimit = 15_000
	DefaultOperationTimeout = 10 * time.Second
	DefaultAPQCacheSize     = 1_000
	// listComplexity is what a plain (non-connection) list is assumed to hold.
	listComplexity = 10
)

// HandlerConfig tunes the GraphQL handler.
type HandlerConfig struct {
	// Dev enables introspection and field suggestions (both off in production).
	Dev bool
	// MaxDepth rejects operations nested deeper than this (fragments count as inlined).
	MaxDepth int
	// MaxComplexity rejects operations whose estimated cost exceeds this; a connection costs
	// its `first` times its selection.
	MaxComplexity int
	// ParserTokenLimit rejects documents with more tokens than this before parsing them.
	ParserTokenLimit int
	// OperationTimeout bounds each operation.
	OperationTimeout time.Duration
	// AllowedOrigins are the origins a browser may open the websocket from (the CORS list).
	AllowedOrigins []string
	// Logger receives internal errors.
	Logger *slog.Logger
	// Extensions are added after the built-in ones (e.g. metrics).
	Extensions []graphql.HandlerExtension
	// WSInitTimeout closes (4408) a websocket that sends no connection_init within it.
	WSInitTimeout time.Duration
	// WSMaxSubscriptions caps the running subscriptions of one websocket; a subscribe over
	// it is answered with a RATE_LIMITED error for its id.
	WSMaxSubscriptions int
	// WSPingInterval is how often the server pings graphql-transport-ws clients; one that
	// answers no pong within two intervals is disconnected.
	WSPingInterval time.Duration
	// WSConnections, when set, tracks open websockets (for closing them at shutdown).
	WSConnections *WSConnections
}

func (c *HandlerConfig) defaults() {
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.MaxComplexity == 0 {
		c.MaxComplexity = DefaultMaxComplexity
	}
	if c.ParserTokenLimit == 0 {
		c.ParserTokenLimit = DefaultParserTokenLimit
	}
	if c.OperationTimeout == 0 {
		c.OperationTimeout = DefaultOperationTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.WSInitTimeout == 0 {
		c.WSInitTimeout = DefaultWSInitTimeout
	}
	if c.WSMaxSubscriptions == 0 {
		c.WSMaxSubscriptions = DefaultWSMaxSubscriptions
	}
	if c.WSPingInterval == 0 {
		c.WSPingInterval = DefaultWSPingInterval
	}
	if c.WSConnections == nil {
		c.WSConnections = &WSConnections{}
	}
}

// NewHandler builds the GraphQL endpoint: transports (POST, GET, graphql-transport-ws), the
// limits, the error presenter and per-operation loaders.
func NewHandler(cfg HandlerConfig, r *Resolver, b *bun.DB) http.Handler {
	cfg.defaults()
	es := NewExecutableSchema(Config{Resolvers: r, Directives: DirectiveRoot{Auth: authDirective}, Complexity: complexity()})
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second, // graphql-ws (legacy) keep-alives
		PingPongInterval:      cfg.WSPingInterval,
		InitFunc:              wsInit(r.AuthService),
		Implementation: wsGuardImplementation{
			inner: transport.CoderWebsocketImplementation{
				AcceptOptions: websocket.AcceptOptions{OriginPatterns: originPatterns(cfg.AllowedOrigins)},
			},
			initTimeout:      cfg.WSInitTimeout,
			maxSubscriptions: cfg.WSMaxSubscriptions,
			conns:            cfg.WSConnections,
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](DefaultAPQCacheSize))
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](DefaultAPQCacheSize)})
	if cfg.Dev {
		srv.Use(extension.Introspection{})
	}
	srv.SetDisableSuggestion(!cfg.Dev)
	srv.SetParserTokenLimit(cfg.ParserTokenLimit)
	srv.Use(depthLimit{max: cfg.MaxDepth})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	for _, ext := range cfg.Extensions {
		srv.Use(ext)
	}
	srv.SetErrorPresenter(presentError(cfg.Logger))
	srv.SetRecoverFunc(recoverPanic(cfg.Logger))
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if graphql.GetOperationContext(ctx).Operation.Operation != ast.Subscription {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, cfg.OperationTimeout)
			// The response handler runs after this returns; cancel once it has produced.
			respond := next(withLoaders(ctx, b))
			return func(ctx context.Context) *graphql.Response {
				resp := respond(ctx)
				cancel()
				return resp
			}
		}
		return next(withFeedEnd(withLoaders(ctx, b)))
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
			return next(ctx)
		}
		// Each event of a subscription loads fresh: loader caches must not outlive it.
		resp := next(withLoaders(ctx, b))
		if resp == nil {
			// The feed ended: say why, if the hub ended it (the next call ends the stream).
			if err := feedEndFrom(ctx).take(); err != nil {
				return &graphql.Response{Errors: gqlerror.List{err}}
			}
		}
		return resp
	})
	return withWSGuardSlot(srv)
}

// originPatterns turns allowed origins ("http://localhost:5173") into the host patterns
// coder/websocket matches against the Origin header.
func originPatterns(origins []string) []string {
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		if i := len("https://"); len(o) > i && o[:i] == "https://" {
			o = o[i:]
		} else if i := len("http://"); len(o) > i && o[:i] == "http://" {
			o = o[i:]
		}
		out = append(out, o)
	}
	return out
}

// complexity makes connections cost `first` times their selection, so a deep nest of large
// pages is refused before it runs.
func complexity() ComplexityRoot {
	var c ComplexityRoot
	perPage := func(child int, first *int) int {
		n := defaultPageSize
		if first != nil && *first > 0 {
			n = *first
		}
		return 1 + n*child
	}
	c.Query.Accounts = func(child int, first *int, _ *string, _ *model.AccountFilter, _ *model.AccountOrder) int {
		return perPage(child, first)
	}
	c.Account.Contacts = func(child int, first *int, _ *string) int { return perPage(child, first) }
	c.Account.Timeline = func(child int, first *int, _ *string, _ []model.TimelineKind) int {
		return perPage(child, first)
	}
	c.Query.Tasks = func(child int, first *int, _ *string, _ *model.TaskFilter) int { return perPage(child, first) }
	list := func(child int) int { return 1 + listComplexity*child }
	c.Query.OverdueTaskCounts = func(child int, _ model.OverdueGrouping) int { return list(child) }
	c.Query.PlayRuns = func(child int, first *int, _ *string, _ *model.PlayRunFilter) int { return perPage(child, first) }
	c.Query.Mailbox = func(child int, _ *string, first *int) int { return perPage(child, first) }
	c.Query.InAppMessages = func(child int, _ string, _ []model.InAppMessageStatus) int { return list(child) }
	c.Query.Plays = func(child int, _ *model.PlayFilter) int { return list(child) }
	c.PlayRun.Steps = list
	c.Play.Versions = list
	c.Query.Users = list
	c.Query.TeamRoles = list
	c.Query.APIKeys = list
	c.Workspace.TeamRoles = list
	c.Account.Team = list
	return c
}
