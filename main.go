// Command steward runs Steward, the customer-success orchestration platform.
//
//	steward serve [--seed-demo]         run the API server (and the private PostgreSQL cluster)
//	steward migrate                     apply database migrations
//	steward seed --accounts N           generate N accounts of realistic data with COPY
//	steward pg run [--data DIR] [--fast] -- CMD...   run CMD with TEST_DATABASE_URL set
//	steward bench                       run the benchmarks of docs/benchmarks.md
//
// Configuration comes from environment variables; see server.Config and the README.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/pgcluster"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/graph"
	"github.com/stewardhq/steward/seed"
	"github.com/stewardhq/steward/server"
)

// databaseName is the database Steward uses inside its private cluster.
const databaseName = "steward"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "steward:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return 2, errors.New("usage: steward serve|migrate|seed|pg|bench (see the README)")
	}
	cfg, err := server.ConfigFromEnv()
	if err != nil {
		return 2, fmt.Errorf("config: %w", err)
	}
	logger := newLogger(cfg.LogLevel)
	slog.SetDefault(logger)
	switch args[0] {
	case "serve":
		return 0, serve(ctx, cfg, logger, args[1:])
	case "migrate":
		return 0, withDatabase(ctx, cfg, logger, func(b *bun.DB, _ *pgxpool.Pool) error {
			applied, err := db.Migrate(ctx, b)
			logger.Info("migrations applied", slog.Any("names", applied))
			return err
		})
	case "seed":
		return 0, seedCommand(ctx, cfg, logger, args[1:])
	case "pg":
		return pgCommand(ctx, logger, args[1:])
	case "bench":
		return 0, benchCommand(ctx, cfg, logger, args[1:])
	}
	return 2, fmt.Errorf("unknown command %q", args[0])
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(server.NewLogHandler(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
}

// withDatabase connects to DATABASE_URL, or starts the private cluster under the data dir,
// runs fn and releases everything, stopping the cluster if this process started it.
func withDatabase(ctx context.Context, cfg server.Config, logger *slog.Logger, fn func(*bun.DB, *pgxpool.Pool) error) (err error) {
	url := cfg.DatabaseURL
	if url == "" {
		cluster, err := pgcluster.Start(ctx, pgcluster.Config{DataDir: filepath.Join(cfg.DataDir, "postgres"), Logger: logger})
		if err != nil {
			return fmt.Errorf("start private postgres: %w", err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if serr := cluster.Stop(stopCtx); serr != nil {
				err = errors.Join(err, fmt.Errorf("stop private postgres: %w", serr))
			}
		}()
		if err := cluster.EnsureDatabase(ctx, databaseName); err != nil {
			return err
		}
		url = cluster.URL(databaseName)
		logger.Info("private postgres running", slog.Int("port", cluster.Port()), slog.String("data_dir", cluster.DataDir()))
	}
	b, pool, err := db.Open(ctx, url, db.PoolConfig{MaxConns: int32(cfg.DBMaxConns)})
	if err != nil {
		return err
	}
	defer pool.Close()
	defer b.Close()
	return fn(b, pool)
}

func serve(ctx context.Context, cfg server.Config, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	seedDemo := fs.Bool("seed-demo", false, "seed the demo workspace when the database is empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger.Info("starting steward", cfg.LogValue()...)
	return withDatabase(ctx, cfg, logger, func(b *bun.DB, pool *pgxpool.Pool) error {
		if _, err := db.Migrate(ctx, b); err != nil {
			return err
		}
		if *seedDemo {
			created, err := seed.Demo(ctx, b, time.Now())
			if err != nil {
				return fmt.Errorf("seed demo data: %w", err)
			}
			if created {
				logger.Info("demo workspace created")
			}
			// Journeys replay their history before the queue starts (see seed.DemoJourneys).
			if err := seed.DemoJourneys(ctx, b, pool, time.Now()); err != nil {
				return fmt.Errorf("seed demo journeys: %w", err)
			}
			logger.Info("demo login", slog.String("email", seed.DemoAdminEmail), slog.String("password", seed.DemoAdminPassword))
		}
		authService, err := newAuthService(cfg, b)
		if err != nil {
			return err
		}
		resolver := graph.NewResolver(b, authService, time.Now)
		stopQueue, err := server.StartQueue(ctx, b, pool, resolver, logger, cfg.PlaySweepInterval,
			server.WithDelivery(delivery.Config{SMTPURL: cfg.SMTPURL, From: cfg.MailFrom, AllowPrivateWebhookTargets: cfg.WebhookAllowPrivate}))
		if err != nil {
			return err
		}
		if *seedDemo {
			if err := seed.DemoPlays(ctx, resolver.PlayEngine, time.Now()); err != nil {
				return errors.Join(fmt.Errorf("seed demo plays: %w", err), stopQueue())
			}
		}
		srv := server.New(cfg, server.Deps{
			Bun:      b,
			Pool:     pool,
			Auth:     authService,
			Resolver: resolver,
			Logger:   logger,
		})
		err = srv.Run(ctx, func(addr string) {
			logger.Info("steward listening", slog.String("graphql", "http://"+displayAddr(addr)+"/graphql"),
				slog.String("graphiql", "http://"+displayAddr(addr)+"/graphiql"))
		})
		return errors.Join(err, stopQueue())
	})
}

func newAuthService(cfg server.Config, b *bun.DB) (*auth.Service, error) {
	keys, err := auth.LoadKeyset(cfg.JWTKeys, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("load jwt keys: %w", err)
	}
	return &auth.Service{
		DB:         b,
		Tokens:     &auth.Issuer{Keys: keys, TTL: cfg.AccessTokenTTL},
		RefreshTTL: cfg.RefreshTokenTTL,
	}, nil
}

func displayAddr(addr string) string {
	if len(addr) > 0 && addr[0] == '[' {
		return "localhost" + addr[len("[::]"):]
	}
	return addr
}

func seedCommand(ctx context.Context, cfg server.Config, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	accounts := fs.Int("accounts", 10_000, "how many accounts to generate")
	name := fs.String("workspace", "Scale Test", "name of the new workspace")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return withDatabase(ctx, cfg, logger, func(b *bun.DB, pool *pgxpool.Pool) error {
		if _, err := db.Migrate(ctx, b); err != nil {
			return err
		}
		res, err := seed.Bulk(ctx, pool, seed.BulkOptions{WorkspaceName: *name, Accounts: *accounts, Progress: os.Stderr})
		if err != nil {
			return err
		}
		logger.Info("seeded", slog.Any("result", res))
		return nil
	})
}

func pgCommand(ctx context.Context, logger *slog.Logger, args []string) (int, error) {
	if len(args) == 0 || args[0] != "run" {
		return 2, errors.New("usage: steward pg run [--data DIR] [--fast] -- CMD...")
	}
	fs := flag.NewFlagSet("pg run", flag.ContinueOnError)
	dataDir := fs.String("data", filepath.Join(server.DefaultDataDir, "postgres"), "cluster data directory")
	fast := fs.Bool("fast", false, "trade durability for speed (test clusters)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		return 2, errors.New("pg run: no command after --")
	}
	return pgcluster.Run(ctx, pgcluster.Config{DataDir: *dataDir, Fast: *fast, Logger: logger}, "TEST_DATABASE_URL", "postgres", fs.Args())
}
