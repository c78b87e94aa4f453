// Package queue builds Steward's River clients and applies River's migrations. River is the job
// queue: a working client on pgx (riverpgxv5) runs workers and periodic jobs, and an insert-only
// client on database/sql (riverdatabasesql) inserts jobs inside bun transactions (InsertTx with
// the *sql.Tx of a bun.Tx), so a job commits or rolls back with the change that asked for it.
// Both clients use the same river_* tables.
package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Defaults of Config.
const (
	// DefaultWorkers is how many jobs of the default queue one process works at once; with the
	// API sharing the pool (20 connections by default) this leaves room for requests.
	DefaultWorkers = 8
	// DefaultFetchCooldown is the shortest pause between two fetches of jobs while there is
	// work. River's own default (100 ms) caps a process at one batch per 100 ms, about
	// 10 × workers jobs per second, which the plays benchmark hit exactly.
	DefaultFetchCooldown = 20 * time.Millisecond
	// DefaultSweepInterval is how often SCHEDULE plays are checked.
	DefaultSweepInterval = time.Minute
)

// migrateLockKey serializes River migrations across processes (rivermigrate takes no lock).
const migrateLockKey = 0x5737_7269_7672 // "Wriver"

// Config tunes the working client.
type Config struct {
	// Queues maps queue names to their concurrency; nil means {"default": DefaultWorkers}.
	Queues map[string]int
	// SweepInterval is how often SCHEDULE plays are swept; 0 means DefaultSweepInterval. The
	// play package reads it when it builds its periodic job.
	SweepInterval time.Duration
	// FetchPollInterval, when set, overrides River's job polling interval (tests use a short one).
	FetchPollInterval time.Duration
	// FetchCooldown is the shortest pause between fetches; 0 means DefaultFetchCooldown.
	FetchCooldown time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Queues == nil {
		c.Queues = map[string]int{river.QueueDefault: DefaultWorkers}
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.FetchCooldown == 0 {
		c.FetchCooldown = DefaultFetchCooldown
	}
	return c
}

func (c Config) validate() error {
	for name, n := range c.Queues {
		if n < 1 {
			return fmt.Errorf("queue config: Queues[%q] must be at least 1", name)
		}
	}
	if c.SweepInterval < 0 {
		return errors.New("queue config: SweepInterval must not be negative")
	}
	return nil
}

// Migrate applies River's migrations, holding a session advisory lock so processes that start
// together apply them once. The lock is held on a connection of its own, outside pool, so
// rivermigrate can use every pooled connection (a pool of one or two would deadlock otherwise).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("river migrate: connect for lock: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("river migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey) //nolint:errcheck // released with the session anyway

	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrate: %w", err)
	}
	return nil
}

// NewClient returns a working River client on pool with workers and periodic jobs; Start it,
// and Stop it on shutdown.
func NewClient(pool *pgxpool.Pool, workers *river.Workers, periodic []*river.PeriodicJob, cfg Config) (*river.Client[pgx.Tx], error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	queues := make(map[string]river.QueueConfig, len(cfg.Queues))
	for name, n := range cfg.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: n}
	}
	rc := &river.Config{
		Queues:        queues,
		Workers:       workers,
		PeriodicJobs:  periodic,
		FetchCooldown: cfg.FetchCooldown,
	}
	if cfg.FetchPollInterval > 0 {
		rc.FetchPollInterval = cfg.FetchPollInterval
		rc.FetchCooldown = min(cfg.FetchPollInterval, cfg.FetchCooldown)
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("new river client: %w", err)
	}
	return c, nil
}

// NewInserter returns an insert-only River client on sqlDB (the *sql.DB under bun): pass a
// bun.Tx's embedded *sql.Tx to InsertTx so the job is part of that transaction.
func NewInserter(sqlDB *sql.DB) (*river.Client[*sql.Tx], error) {
	c, err := river.NewClient(riverdatabasesql.New(sqlDB), &river.Config{})
	if err != nil {
		return nil, fmt.Errorf("new river inserter: %w", err)
	}
	return c, nil
}
