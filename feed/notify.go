package feed

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// notifier wakes the listeners of every process after writing transactions commit. It is the
// process's db change watcher (db.WatchChanges): db.AppendChanges hands it the id of each
// transaction that wrote log rows, before the commit. While ids are pending it asks Postgres
// every NotifyInterval which have ended (db.NotifyCommitted, one statement on a pool
// connection) and sends one NOTIFY for all those that committed in that interval: writers
// never take the global lock a NOTIFY holds through its commit, and a burst of commits costs
// one NOTIFY per interval, not one per commit. Aborted transactions are dropped (a rollback
// publishes nothing), as are transactions still running after NotifyGiveUp (a long sweep):
// readers find their rows by polling. The process's own hub wakes on the NOTIFY like every
// other (waking it directly as well made it read the log twice per batch).
type notifier struct {
	db   *bun.DB
	cfg  Config
	kick chan struct{}

	mu      sync.Mutex
	pending map[uint64]time.Time // transaction id -> when it was handed over
	closed  bool
	unwatch func()
}

func newNotifier(b *bun.DB, cfg Config) *notifier {
	return &notifier{db: b, cfg: cfg, kick: make(chan struct{}, 1), pending: map[uint64]time.Time{}}
}

// StartNotifier runs a change notifier with no hub, for a process that writes changes but
// serves no live feeds (the benchmark's writers, a worker-only process): without one, the
// rows its transactions log wake nobody and are found by polling. cfg's NotifyInterval,
// NotifyGiveUp, Now and Logger apply. stop unregisters it and waits for it to end.
func StartNotifier(b *bun.DB, cfg Config) (stop func()) {
	n := newNotifier(b, cfg.withDefaults())
	n.register()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.run(ctx) }()
	return func() {
		cancel()
		<-done
		n.stop()
	}
}

// register makes n the process's change watcher (or its successor, if one is registered).
func (n *notifier) register() {
	n.unwatch = db.WatchChanges(n.watch)
}

// watch is the db.ChangeWatcher: it runs on the writer's path, so it only records the id.
func (n *notifier) watch(txid uint64) {
	n.mu.Lock()
	if n.closed {
		// Stopped between the writer finding this watcher and calling it: pass it on.
		n.mu.Unlock()
		db.HandChange(txid)
		return
	}
	if _, ok := n.pending[txid]; !ok && len(n.pending) < maxPendingNotify {
		n.pending[txid] = n.cfg.Now()
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default: // a check is already due
	}
}

// maxPendingNotify bounds the transactions one notifier tracks; beyond it polling covers.
const maxPendingNotify = 100_000

// run checks the pending transactions every NotifyInterval while there are any.
func (n *notifier) run(ctx context.Context) {
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		for {
			// The writer handed its id before committing: give it an interval to commit.
			timer.Reset(n.cfg.NotifyInterval)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			if n.checkOnce(ctx) == 0 {
				break
			}
		}
	}
}

// checkOnce sends one NOTIFY for the pending transactions that committed and returns how many
// are still pending.
func (n *notifier) checkOnce(ctx context.Context) int {
	n.mu.Lock()
	ids := slices.Collect(maps.Keys(n.pending))
	n.mu.Unlock()
	if len(ids) == 0 {
		return 0
	}
	states, _, err := db.NotifyCommitted(ctx, n.db, ids)
	if err != nil && ctx.Err() == nil {
		n.cfg.Logger.Warn("notify committed changes", slog.Any("error", err))
	}
	giveUp := n.cfg.Now().Add(-n.cfg.NotifyGiveUp)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, id := range ids {
		if s, ok := states[id]; (ok && s != db.XactInProgress) || n.pending[id].Before(giveUp) {
			delete(n.pending, id)
		}
	}
	return len(n.pending)
}

// stop unregisters n and hands the transactions it still waits on to the next watcher, if
// any (another hub of this process), so their commit still wakes the listeners.
func (n *notifier) stop() {
	if n.unwatch != nil {
		n.unwatch()
	}
	n.mu.Lock()
	n.closed = true
	ids := slices.Collect(maps.Keys(n.pending))
	clear(n.pending)
	n.mu.Unlock()
	for _, id := range ids {
		db.HandChange(id)
	}
}
