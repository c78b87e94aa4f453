package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/bench"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server"
)

// benchCommand runs the benchmarks of docs/benchmarks.md against DATABASE_URL or the private
// cluster: the accounts page (--page), the journey analytics (--journeys), the plays executor
// (--plays) and live feeds (--feeds), all on by default; --only page,journeys,plays,feeds runs
// just those named. Each prints a table, then
// its report as JSON, on stdout; progress goes to stderr.
// The first run for a given --accounts or --plays-accounts seeds that workspace; later runs
// reuse it.
func benchCommand(ctx context.Context, cfg server.Config, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	accounts := fs.Int("accounts", bench.DefaultAccounts, "accounts in the benchmark workspace (seeded once, then cached)")
	duration := fs.Duration("duration", bench.DefaultDuration, "length of each measured phase")
	warmup := fs.Duration("warmup", bench.DefaultWarmup, "warm-up before each target (negative: none)")
	rate := fs.Int("rate", bench.DefaultRate, "requests per second of the fixed-rate phase")
	workers := fs.Int("workers", bench.DefaultWorkers, "concurrent requests of the saturation phase")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the GraphQL saturation phase to this file")
	page := fs.Bool("page", true, "run the accounts-page benchmark")
	plays := fs.Bool("plays", true, "run the plays benchmark (sweep, executor throughput, trigger latency)")
	playsAccounts := fs.Int("plays-accounts", bench.DefaultPlaysAccounts, "accounts in the plays workspace (seeded once, then cached); one in 10 matches the sweep")
	playsRuns := fs.Int("plays-runs", bench.DefaultPlaysRuns, "runs the executor phase launches")
	playsSteps := fs.Int("plays-steps", bench.DefaultStepsPerRun, "CREATE_TASK steps per run of the executor phase")
	playsWorkers := fs.Int("plays-workers", bench.DefaultPlaysWorkers, "River workers of the executor phases (the plays pool gets workers+8 connections)")
	playsPoll := fs.Duration("plays-fetch-poll", 0, "River fetch poll interval (0: River's default, as steward serve runs)")
	playsRate := fs.Int("plays-event-rate", bench.DefaultEventRate, "trigger events per second of the latency phase")
	playsEvents := fs.Duration("plays-event-duration", bench.DefaultEventDuration, "length of the latency phase")
	playsExecMode := fs.String("plays-query-exec-mode", "", "pgx default_query_exec_mode of the plays pool (e.g. exec, simple_protocol; empty: pgx's default)")
	playsProfile := fs.String("plays-cpuprofile", "", "write a CPU profile of the executor phase to this file")
	journeys := fs.Bool("journeys", true, "run the journey analytics benchmark (roadblock report over --journeys-enrollments)")
	journeysEnrollments := fs.Int("journeys-enrollments", bench.DefaultJourneyEnrollments, "enrolments of the analytics benchmark's journey (loaded once, then cached)")
	journeysRuns := fs.Int("journeys-runs", bench.DefaultJourneyRuns, "timed calls per analytics query")
	feeds := fs.Bool("feeds", true, "run the live-feeds benchmark (subscribers on a steward serve child process, latency, memory, change log overhead)")
	feedsSubscribers := fs.Int("feeds-subscribers", bench.DefaultFeedSubscribers, "websocket subscribers held by the server process")
	feedsRate := fs.Int("feeds-rate", bench.DefaultFeedRate, "task events per second of the latency phase")
	feedsDuration := fs.Duration("feeds-duration", bench.DefaultFeedDuration, "length of the latency phase and of each createTask throughput run")
	feedsRounds := fs.Int("feeds-rounds", bench.DefaultFeedRounds, "createTask throughput runs per change log mode")
	only := fs.String("only", "", "run only these benchmarks, comma-separated: page, journeys, plays, feeds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if *only != "" {
		*page, *journeys, *plays, *feeds = false, false, false, false
		for _, name := range strings.Split(*only, ",") {
			switch strings.TrimSpace(name) {
			case "page":
				*page = true
			case "journeys":
				*journeys = true
			case "plays":
				*plays = true
			case "feeds":
				*feeds = true
			default:
				return fmt.Errorf("bench: --only: unknown benchmark %q (want page, journeys, plays or feeds)", name)
			}
		}
	}
	keys, err := auth.LoadKeyset(cfg.JWTKeys, cfg.DataDir)
	if err != nil {
		return fmt.Errorf("load jwt keys: %w", err)
	}
	opts := bench.Options{
		Server:   cfg,
		Keys:     keys,
		Accounts: *accounts,
		Warmup:   *warmup,
		Duration: *duration,
		Rate:     *rate,
		Workers:  *workers,
		Progress: os.Stderr,
		Logger:   logger,
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		opts.CPUProfile = f
	}
	playsOpts := bench.PlaysOptions{
		Accounts:          *playsAccounts,
		Runs:              *playsRuns,
		StepsPerRun:       *playsSteps,
		Workers:           *playsWorkers,
		FetchPollInterval: *playsPoll,
		EventRate:         *playsRate,
		EventDuration:     *playsEvents,
		Progress:          os.Stderr,
		Logger:            logger,
	}
	if *playsProfile != "" {
		f, err := os.Create(*playsProfile)
		if err != nil {
			return fmt.Errorf("create plays cpu profile: %w", err)
		}
		defer f.Close()
		playsOpts.CPUProfile = f
	}
	return withDatabase(ctx, cfg, logger, func(b *bun.DB, pool *pgxpool.Pool) error {
		if _, err := db.Migrate(ctx, b); err != nil {
			return err
		}
		if *page {
			opts.Bun, opts.Pool = b, pool
			rep, err := bench.Run(ctx, opts)
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			if err := printReport(rep); err != nil {
				return err
			}
		}
		if *journeys {
			rep, err := bench.RunJourneys(ctx, bench.JourneysOptions{
				Bun: b, Pool: pool, Enrollments: *journeysEnrollments, Runs: *journeysRuns, Progress: os.Stderr,
			})
			if err != nil {
				return fmt.Errorf("bench journeys: %w", err)
			}
			if err := printReport(rep); err != nil {
				return err
			}
		}
		if *plays {
			if err := runPlaysBench(ctx, pool, playsOpts, *playsWorkers, *playsExecMode); err != nil {
				return err
			}
		}
		if !*feeds {
			return nil
		}
		binary, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench feeds: find the steward binary: %w", err)
		}
		dataDir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return err
		}
		rep, err := bench.RunFeeds(ctx, bench.FeedsOptions{
			Bun: b, Pool: pool, Binary: binary, DatabaseURL: pool.Config().ConnString(),
			// The server processes find the same JWT keys (STEWARD_JWT_KEYS is inherited).
			ServerEnv:   []string{"STEWARD_DATA_DIR=" + dataDir},
			Keys:        keys,
			Subscribers: *feedsSubscribers, Rate: *feedsRate, Duration: *feedsDuration, Rounds: *feedsRounds,
			Progress: os.Stderr, Logger: logger,
		})
		if err != nil {
			return fmt.Errorf("bench feeds: %w", err)
		}
		return printReport(rep)
	})
}

// runPlaysBench runs the plays benchmark on a pool of its own, sized for the workers'
// transactions plus River's connections.
func runPlaysBench(ctx context.Context, pool *pgxpool.Pool, playsOpts bench.PlaysOptions, workers int, execMode string) error {
	url := pool.Config().ConnString()
	if execMode != "" {
		url += sep(url) + "default_query_exec_mode=" + execMode
	}
	pb, ppool, err := db.Open(ctx, url, db.PoolConfig{MaxConns: int32(max(workers, 1) + 8)})
	if err != nil {
		return err
	}
	defer ppool.Close()
	defer pb.Close()
	playsOpts.Bun, playsOpts.Pool = pb, ppool
	rep, err := bench.RunPlays(ctx, playsOpts)
	if err != nil {
		return fmt.Errorf("bench plays: %w", err)
	}
	return printReport(rep)
}

// sep is what joins one more parameter to a connection URL.
func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}

// printReport writes a benchmark report as a table, then as JSON, on stdout.
func printReport(rep interface{ WriteTable(io.Writer) error }) error {
	if err := rep.WriteTable(os.Stdout); err != nil {
		return err
	}
	fmt.Println()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
