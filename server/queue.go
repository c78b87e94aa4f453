package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/graph"
	"github.com/stewardhq/steward/journey"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/queue"
)

// queueCancelShare is the part of the time left at shutdown kept for cancelling jobs that a
// soft stop did not see finish: running jobs get the rest to complete on their own.
const queueCancelShare = 4

// queueConfig is what QueueOptions set.
type queueConfig struct {
	delivery delivery.Config
	workers  int
}

// QueueOption configures StartQueue.
type QueueOption func(*queueConfig)

// WithDelivery sets how emails and webhooks are sent (SMTP or the dev mailbox, webhook target
// rules); the zero value uses the dev mailbox and refuses private webhook targets.
func WithDelivery(c delivery.Config) QueueOption {
	return func(q *queueConfig) { q.delivery = c }
}

// WithWorkers sets how many jobs of the default queue this process works at once (default
// queue.DefaultWorkers). Zero starts no River client: the process still enqueues jobs in its
// transactions, and other processes work them (an API-only process).
func WithWorkers(n int) QueueOption {
	return func(q *queueConfig) { q.workers = n }
}

// StartQueue applies River's migrations, builds the play executor, the journey engine and the
// delivery service, wires their hooks into the account and task services (so events,
// mutations and task changes start runs, enrol accounts and advance journeys in their own
// transactions), gives the resolvers the engines, and starts the River client. The
// returned function stops it by its context's deadline: a soft stop (no new jobs, running ones
// finish) for three quarters of the time left, then cancelling what still runs. A job
// cancelled or cut off by the process exiting is retried by River elsewhere (its steps are
// idempotent). Without a deadline, the function waits for running jobs.
func StartQueue(ctx context.Context, b *bun.DB, pool *pgxpool.Pool, resolver *graph.Resolver, logger *slog.Logger, sweep time.Duration, opts ...QueueOption) (func(context.Context) error, error) {
	qc := queueConfig{workers: queue.DefaultWorkers}
	for _, o := range opts {
		o(&qc)
	}
	if err := queue.Migrate(ctx, pool); err != nil {
		return nil, err
	}
	deliveries, err := delivery.New(b, qc.delivery)
	if err != nil {
		return nil, err
	}
	inserter, err := queue.NewInserter(b.DB)
	if err != nil {
		return nil, err
	}
	engine := &play.Engine{
		DB:          b,
		Definitions: resolver.PlayService,
		Tasks:       resolver.TaskService,
		Delivery:    deliveries,
		Accounts:    resolver.AccountService,
		Inserter:    inserter,
		Config:      play.EngineConfig{SweepInterval: sweep},
		Log:         logger,
	}
	journeys := &journey.Engine{
		DB:          b,
		Definitions: resolver.JourneyService,
		Plays:       engine,
		Tasks:       resolver.TaskService,
		Accounts:    resolver.AccountService,
		Inserter:    inserter,
		Config:      journey.EngineConfig{StatusInterval: sweep},
		Log:         logger,
		Observe:     engine.OnJourneyEvent,
	}
	engine.Journeys = journeys
	resolver.AccountService.Hooks = engine.Hooks().And(journeys.AccountHooks())
	resolver.TaskService.Hooks = journeys.TaskHooks()
	resolver.PlayEngine = engine
	resolver.JourneyEngine = journeys
	resolver.Delivery = deliveries
	if qc.workers == 0 {
		logger.Info("job queue: this process works no jobs (STEWARD_QUEUE_WORKERS=0)")
		return func(context.Context) error { return nil }, nil
	}
	workers := river.NewWorkers()
	engine.Workers(workers)
	journeys.Workers(workers)
	river.AddWorker(workers, &delivery.EmailWorker{Service: deliveries})
	river.AddWorker(workers, &delivery.WebhookWorker{Service: deliveries})
	client, err := queue.NewClient(pool, workers, []*river.PeriodicJob{engine.PeriodicSweep(), journeys.PeriodicStatus()}, queue.Config{
		SweepInterval: sweep,
		Queues:        map[string]int{river.QueueDefault: qc.workers},
	})
	if err != nil {
		return nil, err
	}
	// Not ctx: cancelling the start context hard-stops River; the returned function stops it
	// softly.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start river: %w", err)
	}
	logger.Info("job queue running", slog.Duration("sweep_interval", sweep))
	return func(ctx context.Context) error {
		softCtx := ctx
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			softCtx, cancel = context.WithDeadline(ctx, deadline.Add(-time.Until(deadline)/queueCancelShare))
			defer cancel()
		}
		if err := client.Stop(softCtx); err == nil {
			return nil
		}
		logger.Warn("jobs still running at the soft stop bound; cancelling them")
		if err := client.StopAndCancel(ctx); err != nil {
			return fmt.Errorf("stop river: %w", err)
		}
		return nil
	}, nil
}
