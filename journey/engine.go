package journey

import (
	"context"
	"database/sql"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/task"
)

// Defaults of EngineConfig.
const (
	// DefaultStatusInterval is how often the status job looks for milestones whose time has
	// come (AT_RISK, BEHIND), enrolments to mark STALLED and conditions to re-check.
	DefaultStatusInterval = time.Minute
	// DefaultCheckInterval is how often a milestone's completeWhen condition and pending
	// CHECKPOINT steps are re-checked by the status job. Recorded events and account changes
	// check them at once; the periodic check catches conditions that become true with time.
	DefaultCheckInterval = 5 * time.Minute
	// DefaultStepAttempts is how many times an automated step is tried before it is FAILED.
	DefaultStepAttempts = 5
	// DefaultPauseRecheck is how long an automated step of a PAUSED journey waits before it
	// looks again.
	DefaultPauseRecheck = time.Minute
	// DefaultStatusBatch bounds the enrolments one status transaction moves.
	DefaultStatusBatch = 200
	// MaxEnrollMatching bounds the accounts one EnrollMatching enrols: it is one transaction,
	// at a few milliseconds per enrolment (tasks included), inside one API call.
	MaxEnrollMatching = 1000
	// MaxEnrollAccounts bounds the accounts one Enroll call names.
	MaxEnrollAccounts = 1000
)

// EngineConfig tunes the engine; zero fields take the defaults above.
type EngineConfig struct {
	StatusInterval time.Duration
	CheckInterval  time.Duration
	StepAttempts   int
	StatusBatch    int
	PauseRecheck   time.Duration
}

func (c EngineConfig) withDefaults() EngineConfig {
	if c.StatusInterval <= 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.CheckInterval <= 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.StepAttempts <= 0 {
		c.StepAttempts = DefaultStepAttempts
	}
	if c.StatusBatch <= 0 {
		c.StatusBatch = DefaultStatusBatch
	}
	if c.PauseRecheck <= 0 {
		c.PauseRecheck = DefaultPauseRecheck
	}
	return c
}

// Engine runs enrolments: it enrols accounts (by hand, through journey triggers, from play
// steps), starts milestones (tasks through the task service, automated steps as River jobs
// that reuse the play executor's delivery), completes them as tasks are done and conditions
// hold, moves statuses with time (a River periodic job) and answers enrolment queries.
//
// Every change is one transaction holding the enrolment's row lock, and every status change
// in it writes a timeline entry on the account, a change-log row (db.TopicJourney) and calls
// Observe, so plays with a JOURNEY trigger start in that same transaction.
type Engine struct {
	DB          *bun.DB
	Definitions *Definitions
	// Plays performs automated steps (emails, in-app messages, play launches).
	Plays    *play.Engine
	Tasks    *task.Service
	Accounts *account.Service
	// Inserter inserts jobs inside bun transactions (queue.NewInserter).
	Inserter *river.Client[*sql.Tx]
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Config EngineConfig
	Log    *slog.Logger
	// Observe receives every status change inside its transaction; nil does nothing. The
	// server sets it to the play executor's OnJourneyEvent.
	Observe func(ctx context.Context, tx bun.Tx, t db.Tenant, ev play.JourneyEvent) error
}

var _ play.JourneyEnroller = (*Engine)(nil)

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) cfg() EngineConfig { return e.Config.withDefaults() }

func (e *Engine) logger() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// AccountHooks returns the account hooks that enrol accounts through journey triggers and
// re-check checkpoints and completeWhen conditions when events are recorded or the account
// changes; compose them with the play executor's (account.Hooks.And).
func (e *Engine) AccountHooks() account.Hooks {
	return account.Hooks{EventsRecorded: e.OnEventsRecorded, AccountChanged: e.OnAccountChanged}
}

// TaskHooks returns the task hooks that settle journey steps when their tasks change; set
// them on task.Service.
func (e *Engine) TaskHooks() task.Hooks {
	return task.Hooks{TaskChanged: e.OnTaskChanged}
}

// Workers registers the engine's workers (automated steps and the status job) on ws.
func (e *Engine) Workers(ws *river.Workers) {
	river.AddWorker(ws, &StepWorker{Engine: e})
	river.AddWorker(ws, &StatusWorker{Engine: e})
}
