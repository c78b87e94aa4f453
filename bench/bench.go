// Package bench measures Steward's API on the SPA's accounts page: it drives the real HTTP
// server (middleware, authentication, gqlgen, loaders, bun) with a load generator (vegeta, as a
// library) and, in the same run and on the same connection pool, a plain Go handler that serves
// the same data with hand-written pgx SQL. The hand-written handler is the yardstick: the ratio
// of the two throughputs says what the GraphQL stack costs. `steward bench` calls Run and
// docs/benchmarks.md records the figures.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/graph"
	"github.com/stewardhq/steward/server"
)

// Defaults of Options, which are the issue's benchmark: 100,000 accounts, 10 s per phase,
// 1,000 req/s for the latency phase.
const (
	DefaultAccounts = 100_000
	DefaultDuration = 10 * time.Second
	DefaultWarmup   = 2 * time.Second
	DefaultRate     = 1_000
	// DefaultWorkers is the concurrency of the saturation phase: enough in-flight requests to
	// keep two cores and the database busy while the loaders wait, few enough that requests do
	// not queue for the connection pool (server.DefaultDBMaxConns).
	DefaultWorkers = 16
	// DefaultMaxWorkers caps the workers vegeta may add to hold the fixed rate when responses
	// slow down; past it the rate is not held and the report says so.
	DefaultMaxWorkers = 1_000
	// DefaultRequestTimeout bounds one request; a timed-out request counts as a failure.
	DefaultRequestTimeout = 10 * time.Second
)

// Goals of the issue, against which the report is judged.
const (
	// GoalRatio is the lowest acceptable GraphQL/hand-written throughput ratio at saturation.
	GoalRatio = 0.6
	// GoalP99 is the highest acceptable GraphQL p99 latency at the fixed rate.
	GoalP99 = 50 * time.Millisecond
	// GoalRate is the fixed rate GoalP99 is measured at.
	GoalRate = 1_000
)

// The page the benchmark reads: what the SPA's accounts page asks for.
const (
	// PageSize is the accounts per page.
	PageSize = 50
	// ContactsPerAccount is the contacts shown per account.
	ContactsPerAccount = 5
	// AccountsPageQuery is the SPA's accounts page query.
	AccountsPageQuery = `query AccountsPage { accounts(first: 50) { edges { node { owner { name } team { user { name } } contacts(first: 5) { edges { node { email } } } } } } }`
)

// Options says what Run measures and against which database.
type Options struct {
	// Bun and Pool are the database, as db.Open returns them. The in-process server runs on
	// them as `steward serve` does; the hand-written handler runs on a second pool with Pool's
	// configuration (the same number of connections). Bun must be used by nothing else during
	// the run: its statement counter is what statements per request are measured with.
	// Required.
	Bun  *bun.DB
	Pool *pgxpool.Pool
	// Server configures the in-process server as `steward serve` is configured. Run listens on
	// 127.0.0.1 with a free port and turns Dev off (production settings: no introspection);
	// zero limits take the server's defaults.
	Server server.Config
	// Keys sign the benchmark user's access token and verify it in both handlers. Required.
	Keys *auth.Keyset
	// Accounts is the size of the benchmark workspace; 0 means DefaultAccounts. The workspace
	// is seeded once and found again by its name on later runs (see WorkspaceName).
	Accounts int
	// Warmup runs each target at saturation before measuring it; 0 means DefaultWarmup and a
	// negative value skips it.
	Warmup time.Duration
	// Duration is the length of each measured phase; 0 means DefaultDuration.
	Duration time.Duration
	// Rate is the request rate of the fixed-rate phase, per second; 0 means DefaultRate.
	Rate int
	// Workers is the number of concurrent requests of the saturation phase; 0 means
	// DefaultWorkers.
	Workers int
	// MaxWorkers caps the concurrent requests of the fixed-rate phase; 0 means
	// DefaultMaxWorkers.
	MaxWorkers int
	// StatementSamples is how many sequential requests statements per request are averaged
	// over; 0 means 20.
	StatementSamples int
	// Progress, when set, receives the seed's progress bar and one line per phase.
	Progress io.Writer
	// Logger receives the server's logs and Run's own; nil discards them.
	Logger *slog.Logger
	// CPUProfile, when set, receives a CPU profile of this process (server and load generator)
	// taken during the GraphQL saturation phase.
	CPUProfile io.Writer
}

// withDefaults fills zero fields and rejects impossible values, naming the bad field.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Bun == nil || o.Pool == nil:
		return o, errors.New("bench options: Bun and Pool are required")
	case o.Keys == nil:
		return o, errors.New("bench options: Keys is required")
	case o.Accounts < 0:
		return o, fmt.Errorf("bench options: Accounts must not be negative, got %d", o.Accounts)
	case o.Duration < 0:
		return o, fmt.Errorf("bench options: Duration must not be negative, got %s", o.Duration)
	case o.Rate < 0:
		return o, fmt.Errorf("bench options: Rate must not be negative, got %d", o.Rate)
	case o.Workers < 0:
		return o, fmt.Errorf("bench options: Workers must not be negative, got %d", o.Workers)
	case o.MaxWorkers < 0:
		return o, fmt.Errorf("bench options: MaxWorkers must not be negative, got %d", o.MaxWorkers)
	case o.StatementSamples < 0:
		return o, fmt.Errorf("bench options: StatementSamples must not be negative, got %d", o.StatementSamples)
	}
	o.Accounts = orDefault(o.Accounts, DefaultAccounts)
	o.Duration = orDefault(o.Duration, DefaultDuration)
	o.Warmup = orDefault(o.Warmup, DefaultWarmup)
	o.Warmup = max(o.Warmup, 0)
	o.Rate = orDefault(o.Rate, DefaultRate)
	o.Workers = orDefault(o.Workers, DefaultWorkers)
	o.MaxWorkers = max(orDefault(o.MaxWorkers, DefaultMaxWorkers), o.Workers)
	o.StatementSamples = orDefault(o.StatementSamples, 20)
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Server = serverConfig(o.Server)
	return o, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// serverConfig is cfg as the benchmark runs it: production mode on a free loopback port, with
// the server's defaults for unset limits.
func serverConfig(cfg server.Config) server.Config {
	cfg.Addr = "127.0.0.1:0"
	cfg.Dev = false
	cfg.MaxBodyBytes = orDefault(cfg.MaxBodyBytes, server.DefaultMaxBodyBytes)
	cfg.OperationTimeout = orDefault(cfg.OperationTimeout, server.DefaultOperationTimeout)
	cfg.ShutdownTimeout = orDefault(cfg.ShutdownTimeout, 5*time.Second)
	cfg.AccessTokenTTL = orDefault(cfg.AccessTokenTTL, server.DefaultAccessTokenTTL)
	cfg.RefreshTokenTTL = orDefault(cfg.RefreshTokenTTL, server.DefaultRefreshTokenTTL)
	cfg.DBMaxConns = orDefault(cfg.DBMaxConns, server.DefaultDBMaxConns)
	return cfg
}

// Run prepares the dataset (seeding it on first use), starts the real server and the
// hand-written handler on loopback ports, checks that both answer the page with the same data,
// measures statements per request, then measures each target: warm-up, saturation (Workers
// concurrent requests for Duration) and a fixed rate (Rate req/s for Duration). A run that
// cannot be trusted (a target answers differently, or not at all) is an error; slow or failing
// requests during the phases are reported, not errors.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	rep := &Report{Query: AccountsPageQuery, Goals: Goals{Ratio: GoalRatio, P99Ms: ms(GoalP99), Rate: GoalRate}}
	if rep.Machine, err = describeMachine(ctx, opts.Pool); err != nil {
		return nil, err
	}
	rep.Machine.DBMaxConns = opts.Server.DBMaxConns

	ds, err := ensureDataset(ctx, opts.Pool, opts.Accounts, opts.Progress)
	if err != nil {
		return nil, err
	}
	rep.Dataset = ds.summary
	// The token must outlive the run, however long the phases: the TTL only sets its expiry.
	issuer := &auth.Issuer{Keys: opts.Keys, TTL: time.Hour + 2*(opts.Warmup+2*opts.Duration)}
	token, _, err := issuer.Issue(ds.viewer)
	if err != nil {
		return nil, fmt.Errorf("mint bench token: %w", err)
	}

	gqlURL, stopServer, err := startServer(ctx, opts, issuer)
	if err != nil {
		return nil, err
	}
	defer stopServer()
	// The hand-written handler gets a pool of its own, configured as the shared one: bun keeps
	// the connections it has used as idle database/sql connections (db.Open), so after the
	// GraphQL phases the shared pool may have none left to lend.
	basePool, err := pgxpool.NewWithConfig(ctx, opts.Pool.Config())
	if err != nil {
		return nil, fmt.Errorf("open baseline pool: %w", err)
	}
	defer basePool.Close()
	baseline := NewBaseline(basePool, issuer)
	baseURL, stopBaseline, err := serve(baseline)
	if err != nil {
		return nil, err
	}
	defer stopBaseline()

	body, err := json.Marshal(map[string]string{"query": AccountsPageQuery})
	if err != nil {
		return nil, err
	}
	wantEdges := min(PageSize, ds.summary.Accounts)
	targets := []*target{
		{name: TargetGraphQL, url: gqlURL + "/graphql", token: token, body: body, wantEdges: wantEdges,
			statements: func() int64 { return int64(opts.Bun.DBStats().Queries) }},
		{name: TargetBaseline, url: baseURL + BaselinePath, token: token, body: body, wantEdges: wantEdges,
			statements: baseline.Statements},
	}

	if err := compareTargets(ctx, targets, rep); err != nil {
		return nil, err
	}
	for _, t := range targets {
		res, err := measure(ctx, opts, cpuMeter{pool: basePool}, t)
		if err != nil {
			return nil, err
		}
		rep.Targets = append(rep.Targets, res)
	}
	rep.judge()
	return rep, nil
}

// startServer runs the real server as `steward serve` builds it and returns its base URL and
// a function that shuts it down.
func startServer(ctx context.Context, opts Options, issuer *auth.Issuer) (string, func(), error) {
	authService := &auth.Service{DB: opts.Bun, Tokens: issuer, RefreshTTL: opts.Server.RefreshTokenTTL}
	srv := server.New(opts.Server, server.Deps{
		Bun:      opts.Bun,
		Pool:     opts.Pool,
		Auth:     authService,
		Resolver: &graph.Resolver{AccountService: &account.Service{DB: opts.Bun, Now: time.Now}, AuthService: authService},
		Logger:   opts.Logger,
	})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		stop := func() {
			cancel()
			if err := <-done; err != nil {
				opts.Logger.Warn("bench server shutdown", slog.Any("error", err))
			}
		}
		return "http://" + a, stop, nil
	case err := <-done:
		cancel()
		return "", nil, fmt.Errorf("start server: %w", err)
	}
}

// serve runs h on a loopback port with the timeouts server.Run uses.
func serve(h http.Handler) (string, func(), error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	ln, err := listenLoopback()
	if err != nil {
		return "", nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return "http://" + ln.Addr().String(), stop, nil
}
