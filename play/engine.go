package play

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/task"
)

// Defaults of EngineConfig.
const (
	// DefaultPollInterval is how often a WAIT_UNTIL re-checks its condition.
	DefaultPollInterval = 5 * time.Minute
	// DefaultPauseRecheck is how long a step job of a paused play sleeps before looking again.
	DefaultPauseRecheck = time.Minute
	// DefaultStepAttempts is how many times a failing step is tried before the run is FAILED.
	DefaultStepAttempts = 5
	// DefaultSweepInterval is how often SCHEDULE plays are swept.
	DefaultSweepInterval = time.Minute
)

// EngineConfig tunes the executor; zero fields take the defaults above.
type EngineConfig struct {
	PollInterval  time.Duration
	PauseRecheck  time.Duration
	StepAttempts  int
	SweepInterval time.Duration
}

func (c EngineConfig) withDefaults() EngineConfig {
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.PauseRecheck <= 0 {
		c.PauseRecheck = DefaultPauseRecheck
	}
	if c.StepAttempts <= 0 {
		c.StepAttempts = DefaultStepAttempts
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	return c
}

// Engine executes plays: it starts runs (triggers, sweeps, manual launches), works their steps
// as River jobs and answers run queries. Every change is one transaction, and the jobs that
// must follow it are inserted in that transaction through Inserter (River on database/sql), so
// a rolled-back change leaves no job behind.
type Engine struct {
	DB          *bun.DB
	Definitions *Definitions
	Tasks       *task.Service
	Delivery    *delivery.Service
	Accounts    *account.Service
	// Journeys enrols accounts for ENROLL_IN_JOURNEY steps; nil refuses such steps.
	Journeys JourneyEnroller
	// Inserter inserts jobs inside bun transactions (queue.NewInserter).
	Inserter *river.Client[*sql.Tx]
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Config EngineConfig
	Log    *slog.Logger
}

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

// KindStep is the River kind of a step job.
const KindStep = "play_step"

// StepArgs is the job that executes one step of a run in one round. It holds ids only: the
// worker loads the run and decides; a job whose step or round the run has left is stale and
// does nothing.
type StepArgs struct {
	WorkspaceID uuid.UUID `json:"workspace_id"`
	RunID       uuid.UUID `json:"run_id"`
	StepID      string    `json:"step_id"`
	Iteration   int       `json:"iteration"`
}

// Kind implements river.JobArgs.
func (StepArgs) Kind() string { return KindStep }

// StepWorker works StepArgs jobs with an Engine. Register it with river.AddWorker.
type StepWorker struct {
	river.WorkerDefaults[StepArgs]
	Engine *Engine
}

// Work executes the job's step; see Engine.WorkStep.
func (w *StepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	return w.Engine.WorkStep(ctx, job.Args, job.Attempt, job.MaxAttempts)
}

// insertStep inserts the job of the run's next step in tx, scheduled at at (zero: now).
func (e *Engine) insertStep(ctx context.Context, tx bun.Tx, args StepArgs, at time.Time) error {
	opts := &river.InsertOpts{MaxAttempts: e.cfg().StepAttempts}
	if !at.IsZero() {
		opts.ScheduledAt = at
	}
	if _, err := e.Inserter.InsertTx(ctx, tx.Tx, args, opts); err != nil {
		return fmt.Errorf("enqueue play step: %w", err)
	}
	return nil
}

// errStop ends a step's processing without an error (the run finished or waits).
var errStop = errors.New("stop")

// subjectOf loads the run's subject with the activity facts checks need at now.
func subjectOf(ctx context.Context, idb bun.IDB, t db.Tenant, r *db.PlayRun, needs condition.Needs) (condition.Subject, error) {
	id := r.AccountID
	if r.ContactID != nil {
		id = *r.ContactID
	}
	return condition.LoadSubject(ctx, idb, t, condition.Scope(r.SubjectKind), id, needs)
}

// evalCheck decides c for run r at now, loading what it needs.
func evalCheck(ctx context.Context, idb bun.IDB, t db.Tenant, r *db.PlayRun, c *Check, now time.Time) (bool, error) {
	s, err := subjectOf(ctx, idb, t, r, c.Needs(now))
	if err != nil {
		return false, err
	}
	return c.Eval(s, r.StartedAt, now)
}

// saveRun writes r back. Runs are only updated while active, so a run that is not active
// any more has just finished: live feeds learn it in the same transaction.
func saveRun(ctx context.Context, idb bun.IDB, t db.Tenant, r *db.PlayRun) error {
	if err := db.UpdatePlayRun(ctx, idb, t, r); err != nil {
		return err
	}
	if r.Active() {
		return nil
	}
	return db.AppendChanges(ctx, idb, t, db.PlayRunChange(r, db.KindFinished))
}

// finish ends r with status and outcome.
func finish(r *db.PlayRun, status, outcome string, now time.Time) {
	r.Status = status
	r.CurrentStep = nil
	r.NextWakeAt = nil
	r.FinishedAt = &now
	if outcome != "" {
		r.Outcome = &outcome
	}
}

// checkGoalExit ends r as EXITED or GOAL_MET when its definition's exit or goal holds; it
// reports whether the run ended (the caller then writes r).
func checkGoalExit(ctx context.Context, idb bun.IDB, t db.Tenant, r *db.PlayRun, def *Definition, now time.Time) (bool, error) {
	if def.Exit != nil {
		ok, err := evalCheck(ctx, idb, t, r, def.Exit, now)
		if err != nil {
			return false, fmt.Errorf("evaluate exit: %w", err)
		}
		if ok {
			finish(r, db.RunExited, "exit condition held", now)
			return true, nil
		}
	}
	if def.Goal != nil {
		ok, err := evalCheck(ctx, idb, t, r, def.Goal, now)
		if err != nil {
			return false, fmt.Errorf("evaluate goal: %w", err)
		}
		if ok {
			finish(r, db.RunGoalMet, "goal met", now)
			return true, nil
		}
	}
	return false, nil
}
