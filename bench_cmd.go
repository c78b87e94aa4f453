package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/bench"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server"
)

// benchCommand runs the accounts-page benchmark of docs/benchmarks.md against DATABASE_URL or
// the private cluster: it prints a table, then the report as JSON, on stdout; progress goes to
// stderr. The first run for a given --accounts seeds that workspace; later runs reuse it.
func benchCommand(ctx context.Context, cfg server.Config, logger *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	accounts := fs.Int("accounts", bench.DefaultAccounts, "accounts in the benchmark workspace (seeded once, then cached)")
	duration := fs.Duration("duration", bench.DefaultDuration, "length of each measured phase")
	warmup := fs.Duration("warmup", bench.DefaultWarmup, "warm-up before each target (negative: none)")
	rate := fs.Int("rate", bench.DefaultRate, "requests per second of the fixed-rate phase")
	workers := fs.Int("workers", bench.DefaultWorkers, "concurrent requests of the saturation phase")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the GraphQL saturation phase to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
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
	return withDatabase(ctx, cfg, logger, func(b *bun.DB, pool *pgxpool.Pool) error {
		if _, err := db.Migrate(ctx, b); err != nil {
			return err
		}
		opts.Bun, opts.Pool = b, pool
		rep, err := bench.Run(ctx, opts)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := rep.WriteTable(os.Stdout); err != nil {
			return err
		}
		fmt.Println()
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	})
}
