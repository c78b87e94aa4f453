package feed

import (
	"context"
	"log/slog"
	"time"

	"github.com/stewardhq/steward/db"
)

// pruneBatch bounds the rows one DELETE removes, so pruning never holds long locks.
const pruneBatch = 10_000

// pruneLoop deletes rows older than the retention every PruneInterval. Every process prunes;
// db.PruneChanges skips rows another process is deleting, so they never wait on each other.
func (h *Hub) pruneLoop(ctx context.Context) {
	t := time.NewTicker(h.cfg.PruneInterval)
	defer t.Stop()
	for {
		if n, err := h.Prune(ctx); err != nil && ctx.Err() == nil {
			h.cfg.Logger.Warn("prune change log", slog.Any("error", err))
		} else if n > 0 {
			h.cfg.Logger.Debug("pruned change log", slog.Int("rows", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes the log rows older than the retention and returns how many.
func (h *Hub) Prune(ctx context.Context) (int, error) {
	before := h.cfg.Now().Add(-h.cfg.Retention)
	total := 0
	for {
		n, err := db.PruneChanges(ctx, h.db, before, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
