package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph"
)

// Deps are the parts a Server routes to; main builds them.
type Deps struct {
	Bun      *bun.DB
	Pool     *pgxpool.Pool
	Auth     *auth.Service
	Resolver *graph.Resolver
	Logger   *slog.Logger
}

// Server is Steward's HTTP server.
type Server struct {
	cfg     Config
	deps    Deps
	handler http.Handler
	ws      *graph.WSConnections
}

// New builds the routes and middleware.
func New(cfg Config, deps Deps) *Server {
	m := newMetrics(deps.Pool)
	ws := &graph.WSConnections{}
	gql := graph.NewHandler(graph.HandlerConfig{
		Dev:              cfg.Dev,
		OperationTimeout: cfg.OperationTimeout,
		AllowedOrigins:   cfg.CORSOrigins,
		Logger:           deps.Logger,
		Extensions:       []graphql.HandlerExtension{operationMetrics{m}},

		WSInitTimeout:      cfg.WSInitTimeout,
		WSMaxSubscriptions: cfg.WSMaxSubscriptions,
		WSConnections:      ws,
	}, deps.Resolver, deps.Bun)

	mux := http.NewServeMux()
	api := withBodyLimit(cfg.MaxBodyBytes, withViewer(deps.Auth, deps.Logger, gql))
	mux.Handle("/graphql", api)
	if cfg.Dev {
		mux.Handle("GET /graphiql", playground.Handler("Steward GraphiQL", "/graphql"))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /readyz", readiness(deps))
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))

	c := cors.New(cors.Options{
		AllowedOrigins:   cfg.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodOptions},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "X-Request-Id"},
		ExposedHeaders:   []string{"X-Request-Id"},
		AllowCredentials: true,
		MaxAge:           600,
	})
	h := withRequestID(withAccessLog(deps.Logger, c.Handler(mux)))
	return &Server{cfg: cfg, deps: deps, handler: h, ws: ws}
}

// Websockets returns the open graphql-transport-ws connections: shutdown closes them with
// CloseAll (http.Server.Shutdown leaves hijacked connections open).
func (s *Server) Websockets() *graph.WSConnections { return s.ws }

// Handler returns the root handler (tests serve it with httptest).
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on cfg.Addr until ctx ends, then shuts down gracefully: it stops accepting,
// lets in-flight requests finish within ShutdownTimeout, and returns. ready, when not nil,
// receives the bound address once listening.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.deps.Logger.Info("shutting down", slog.Duration("timeout", s.cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// readinessTimeout bounds the readiness probe; a pool busy for that long is not ready.
const readinessTimeout = 5 * time.Second

// readiness answers 200 when the database is reachable and every migration this binary knows
// is applied. Once migrations were seen applied they stay applied (they are never rolled back
// under a running server), so later probes only ping the pool.
func readiness(deps Deps) http.Handler {
	var migrated atomic.Bool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readinessTimeout)
		defer cancel()
		if err := deps.Pool.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
			return
		}
		if !migrated.Load() {
			n, err := db.Pending(ctx, deps.Bun)
			if err != nil || n > 0 {
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "migrations pending", "pending": n})
				return
			}
			migrated.Store(true)
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
