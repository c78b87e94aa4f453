package feed

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults for Config, used for zero fields.
const (
	// DefaultPollInterval is how often the log is read without a wake-up: it bounds the delay
	// of a row whose NOTIFY was lost (listener reconnecting, mode "nonotify").
	DefaultPollInterval = time.Second
	// DefaultRetryInterval is how soon the log is read again while rows wait on an older
	// transaction that has not ended (see db.ReadChanges); that transaction may not notify.
	DefaultRetryInterval = 20 * time.Millisecond
	// DefaultBufferSize is how many events a subscriber may fall behind before it is dropped
	// with ErrTooSlow (it then resumes from its last cursor).
	DefaultBufferSize = 256
	// DefaultBatchSize bounds the rows of one read of the log.
	DefaultBatchSize = 1000
	// DefaultRetention is how long log rows are kept, and so how long a client may stay away
	// and still resume by cursor.
	DefaultRetention = 24 * time.Hour
	// DefaultPruneInterval is how often the hub deletes rows older than the retention.
	DefaultPruneInterval = 10 * time.Minute
	// DefaultNotifyInterval is how often the notifier checks whether the writing transactions
	// it was handed have committed, while any are pending: it adds at most this much to the
	// commit-to-client latency (goal p99 250 ms), and bounds the NOTIFYs a process sends, and
	// so the log reads of every hub they wake, to one per interval.
	DefaultNotifyInterval = 20 * time.Millisecond
	// DefaultNotifyGiveUp is how long the notifier waits for a transaction to end before it
	// leaves its rows to polling.
	DefaultNotifyGiveUp = time.Minute
	// DefaultReconnectDelay is the wait before the LISTEN connection is opened again after it
	// failed.
	DefaultReconnectDelay = time.Second
)

// Config tunes a Hub. Zero fields take the defaults above.
type Config struct {
	// PollInterval (STEWARD_FEED_POLL_INTERVAL) is how often the log is read with no wake-up.
	PollInterval time.Duration
	// RetryInterval is how soon the log is read again while rows wait on an older transaction.
	RetryInterval time.Duration
	// BufferSize (STEWARD_FEED_BUFFER) is each subscriber's queue of undelivered events.
	BufferSize int
	// BatchSize is the most rows one read of the log returns.
	BatchSize int
	// Retention (STEWARD_CHANGE_RETENTION) is how long log rows are kept.
	Retention time.Duration
	// PruneInterval is how often old rows are deleted; negative disables pruning here.
	PruneInterval time.Duration
	// ReconnectDelay is the wait before the LISTEN connection is retried.
	ReconnectDelay time.Duration
	// NotifyInterval is how often pending writing transactions are checked for their commit.
	NotifyInterval time.Duration
	// NotifyGiveUp is how long a transaction may run before the notifier forgets it.
	NotifyGiveUp time.Duration
	// Now is the clock pruning measures the retention against (time.Now when nil).
	Now func() time.Time
	// Logger receives listener and read failures (slog.Default when nil).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = DefaultPruneInterval
	}
	if c.ReconnectDelay == 0 {
		c.ReconnectDelay = DefaultReconnectDelay
	}
	if c.NotifyInterval == 0 {
		c.NotifyInterval = DefaultNotifyInterval
	}
	if c.NotifyGiveUp == 0 {
		c.NotifyGiveUp = DefaultNotifyGiveUp
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate names the first bad field (after defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.PollInterval < 10*time.Millisecond:
		return fmt.Errorf("STEWARD_FEED_POLL_INTERVAL must be at least 10ms")
	case c.RetryInterval <= 0:
		return fmt.Errorf("feed retry interval must be positive")
	case c.BufferSize < 1:
		return fmt.Errorf("STEWARD_FEED_BUFFER must be at least 1")
	case c.BatchSize < 1:
		return fmt.Errorf("feed batch size must be at least 1")
	case c.NotifyInterval <= 0 || c.NotifyGiveUp <= 0:
		return fmt.Errorf("feed notify interval and give-up must be positive")
	case c.Retention < time.Minute:
		return fmt.Errorf("STEWARD_CHANGE_RETENTION must be at least 1m")
	}
	return nil
}
