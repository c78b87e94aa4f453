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

// queueStopTimeout bounds how long shutdown waits for running jobs before cancelling them.
const queueStopTimeout = 10 * time.Second

// queueConfig is what QueueOptions set.
type queueConfig struct {
	delivery delivery.Config
}

// QueueOption configures StartQueue.
type QueueOption func(*queueConfig)

// WithDelivery sets how emails and webhooks are sent (SMTP or the dev mailbox, webhook target
// rules); the zero value uses the dev mailbox and refuses private webhook targets.
func WithDelivery(c delivery.Config) QueueOption {
	return func(q *queueConfig) { q.delivery = c }
}

// StartQueue applies River's migrations, builds the play executor, the journey engine and the
// delivery service, wires their hooks into the account and task services (so events,
// mutations and task changes start runs, enrol accounts and advance journeys in their own
// transactions), gives the resolvers the engines, and starts the River client. The
// returned function stops it: a soft stop within queueStopTimeout, then cancelling what still
// runs.
func StartQueue(ctx context.Context, b *bun.DB, pool *pgxpool.Pool, resolver *graph.Resolver, logger *slog.Logger, sweep time.Duration, opts ...QueueOption) (func() error, error) {
	var qc queueConfig
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
	workers := river.NewWorkers()
	engine.Workers(workers)
	journeys.Workers(workers)
	river.AddWorker(workers, &delivery.EmailWorker{Service: deliveries})
	river.AddWorker(workers, &delivery.WebhookWorker{Service: deliveries})
	client, err := queue.NewClient(pool, workers, []*river.PeriodicJob{engine.PeriodicSweep(), journeys.PeriodicStatus()}, queue.Config{SweepInterval: sweep})
	if err != nil {
		return nil, err
	}
	// Not ctx: cancelling the start context hard-stops River; the returned function stops it
	// softly.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start river: %w", err)
	}
	logger.Info("job queue running", slog.Duration("sweep_interval", sweep))
	return func() error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), queueStopTimeout)
		defer cancel()
		if err := client.Stop(stopCtx); err == nil {
			return nil
		}
		cancelCtx, cancel2 := context.WithTimeout(context.WithoutCancel(ctx), queueStopTimeout)
		defer cancel2()
		if err := client.StopAndCancel(cancelCtx); err != nil {
			return fmt.Errorf("stop river: %w", err)
		}
		return nil
	}, nil
}
