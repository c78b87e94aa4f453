package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
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
	// upgrades counts websocket handlers still running, for shutdown to wait on.
	upgrades *upgrades
	stops    []func(context.Context) error
}

// New builds the routes and middleware.
func New(cfg Config, deps Deps) *Server {
	m := newMetrics(deps.Pool)
	ws := &graph.WSConnections{}
	up := &upgrades{}
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
	api := up.handler(withBodyLimit(cfg.MaxBodyBytes, withViewer(deps.Auth, deps.Logger, gql)))
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
	return &Server{cfg: cfg, deps: deps, handler: h, ws: ws, upgrades: up}
}

// Websockets returns the open graphql-transport-ws connections: shutdown closes them with
// CloseAll (http.Server.Shutdown leaves hijacked connections open).
func (s *Server) Websockets() *graph.WSConnections { return s.ws }

// Handler returns the root handler (tests serve it with httptest).
func (s *Server) Handler() http.Handler { return s.handler }

// OnShutdown registers fn to stop a part of the process (the job queue, the feed listener)
// when Run shuts down. Every registered function runs alongside the HTTP drain with a context
// that ends at the shutdown bound, and must return by then. Call it before Run.
func (s *Server) OnShutdown(fn func(context.Context) error) { s.stops = append(s.stops, fn) }

// CloseWebsockets closes the server's graphql-transport-ws connections with 1001 (going away)
// and waits, until ctx ends, for their handlers to return. Run calls it when it shuts down;
// tests that serve Handler with httptest can call it to see what clients see.
func (s *Server) CloseWebsockets(ctx context.Context) error {
	return s.upgrades.shutdown(ctx, s.closeWebsockets)
}

// closeWebsockets sends every open graphql-transport-ws connection a close frame with 1001.
func (s *Server) closeWebsockets() { s.ws.CloseAll(closeGoingAway, closeGoingAwayReason) }

// Run serves on cfg.Addr until ctx ends, then shuts down within cfg.ShutdownTimeout: it stops
// accepting connections, lets in-flight requests finish, closes websockets with 1001 (going
// away: graphql-ws clients reconnect and resume by cursor) and runs the OnShutdown functions,
// all at once under one deadline. Whatever is still running at the deadline is dropped and
// Run returns. ready, when not nil, receives the bound address once listening.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(fmt.Errorf("listen on %s: %w", s.cfg.Addr, err), s.runStops(stopCtx))
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
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	start := time.Now()
	s.deps.Logger.Info("shutting down", slog.Duration("timeout", s.cfg.ShutdownTimeout),
		slog.Int("websockets", s.ws.Len()))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()

	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Add(3)
	go func() {
		defer wg.Done()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			errs[0] = fmt.Errorf("http requests still running at the shutdown bound: %w", err)
			_ = srv.Close()
		}
	}()
	go func() {
		defer wg.Done()
		if err := s.CloseWebsockets(shutdownCtx); err != nil {
			errs[1] = fmt.Errorf("websockets still open at the shutdown bound: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		errs[2] = s.runStops(shutdownCtx)
	}()
	wg.Wait()
	if serveErr == nil {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	}
	s.deps.Logger.Info("shut down", slog.Duration("took", time.Since(start)))
	return errors.Join(serveErr, errors.Join(errs...))
}

// runStops runs the OnShutdown functions at once and waits for all of them.
func (s *Server) runStops(ctx context.Context) error {
	errs := make([]error, len(s.stops))
	var wg sync.WaitGroup
	for i, stop := range s.stops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stop(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
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
