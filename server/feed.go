package server

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/feed"
	"github.com/stewardhq/steward/graph"
)

// StartFeed starts this process's live-feed hub: one LISTEN connection of its own (a direct
// connection made from the pool's settings, not a pooled one), reading the change log and
// fanning events out to the websocket subscriptions. It gives the resolvers the hub. The
// returned function stops it, ending every subscription with feed.ErrStopped.
func StartFeed(ctx context.Context, b *bun.DB, pool *pgxpool.Pool, resolver *graph.Resolver, cfg feed.Config) (func(), error) {
	hub := feed.NewHub(b, pool.Config().ConnConfig.Copy(), cfg)
	if err := hub.Start(ctx); err != nil {
		return nil, err
	}
	resolver.Feed = hub
	if cfg.Logger != nil {
		cfg.Logger.Info("live feeds running", slog.Duration("poll_interval", cfg.PollInterval),
			slog.Duration("retention", cfg.Retention))
	}
	return hub.Stop, nil
}

// FeedConfig is the hub configuration the process config asks for.
func (c Config) FeedConfig(logger *slog.Logger) feed.Config {
	return feed.Config{
		PollInterval: c.FeedPollInterval,
		BufferSize:   c.FeedBufferSize,
		Retention:    c.ChangeRetention,
		Logger:       logger,
	}
}
