package play

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// RunStatuses are every run status.
var RunStatuses = []string{db.RunRunning, db.RunWaiting, db.RunCompleted, db.RunGoalMet, db.RunExited, db.RunFailed, db.RunCancelled}

// ErrRunState means the run's status does not allow the change (cancelling a finished run,
// retrying one that did not fail). It wraps db.ErrConflict.
var ErrRunState = fmt.Errorf("run status does not allow this change: %w", db.ErrConflict)

// RunFilter narrows Runs; zero fields do not filter.
type RunFilter struct {
	PlayID    *uuid.UUID
	AccountID *uuid.UUID
	Statuses  []string
}

// Page asks for one page of runs, newest first.
type Page struct {
	First int
	After *db.PageCursor
}

// Runs lists runs by play, account and status, newest first.
func (e *Engine) Runs(ctx context.Context, t db.Tenant, f RunFilter, p Page) ([]db.PlayRun, bool, error) {
	for i, s := range f.Statuses {
		if !slices.Contains(RunStatuses, s) {
			return nil, false, invalid.Field(fmt.Sprintf("status[%d]", i), "unknown run status")
		}
	}
	if p.First <= 0 {
		p.First = 50
	}
	return db.ListPlayRuns(ctx, e.DB, t, db.RunFilter{PlayID: f.PlayID, AccountID: f.AccountID, Statuses: f.Statuses}, min(p.First, 200), p.After)
}

// Run loads one run.
func (e *Engine) Run(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.PlayRun, error) {
	return db.GetPlayRun(ctx, e.DB, t, id)
}

// StepLog returns a run's step log in the order steps started.
func (e *Engine) StepLog(ctx context.Context, t db.Tenant, runID uuid.UUID) ([]db.PlayStepRun, error) {
	if _, err := db.GetPlayRun(ctx, e.DB, t, runID); err != nil {
		return nil, err
	}
	return db.ListStepRuns(ctx, e.DB, t, runID)
}

// CancelRun ends an active run as CANCELLED; its pending job finds it finished and does
// nothing. A finished run is ErrRunState.
func (e *Engine) CancelRun(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.PlayRun, error) {
	var out *db.PlayRun
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := db.GetPlayRunForUpdate(ctx, tx, t, id)
		if err != nil {
			return err
		}
		if !r.Active() {
			return ErrRunState
		}
		finish(r, db.RunCancelled, "cancelled", e.now())
		out = r
		return saveRun(ctx, tx, t, r)
	})
	return out, err
}

// RetryRun puts a FAILED run back to RUNNING at the step that failed (same round) and enqueues
// that step again, in one transaction. The step's effect still happens at most once: its
// idempotency key is the same. A run that did not fail is ErrRunState; if the subject started
// another run of the play meanwhile, db.ErrConflict.
func (e *Engine) RetryRun(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.PlayRun, error) {
	var out *db.PlayRun
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := db.GetPlayRunForUpdate(ctx, tx, t, id)
		if err != nil {
			return err
		}
		if r.Status != db.RunFailed || r.CurrentStep == nil {
			return ErrRunState
		}
		pub, err := e.Definitions.Load(ctx, tx, t, r.PlayID, r.Version)
		if err != nil {
			return err
		}
		r.Status, r.FinishedAt, r.Error, r.Outcome = db.RunRunning, nil, nil, nil
		if err := saveRun(ctx, tx, t, r); err != nil {
			return err
		}
		if err := db.AppendChanges(ctx, tx, t, db.PlayRunChange(r, db.KindRetried)); err != nil {
			return err
		}
		out = r
		args := StepArgs{WorkspaceID: t.WorkspaceID, RunID: r.ID, StepID: *r.CurrentStep, Iteration: iterationOf(pub.Definition, r, *r.CurrentStep)}
		return e.insertStep(ctx, tx, args, e.now())
	})
	return out, err
}

// Archive archives a play (Definitions.Archive) and cancels its active runs. Step jobs of an
// archived play also cancel their run, so a run that slips between the two still ends.
func (e *Engine) Archive(ctx context.Context, t db.Tenant, playID uuid.UUID) (*db.Play, error) {
	p, err := e.Definitions.Archive(ctx, t, playID)
	if err != nil {
		return nil, err
	}
	err = db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		runs, err := db.CancelActiveRuns(ctx, tx, t, playID, e.now())
		if err != nil {
			return err
		}
		changes := make([]*db.Change, len(runs))
		for i := range runs {
			changes[i] = db.PlayRunChange(&runs[i], db.KindFinished)
		}
		return db.AppendChanges(ctx, tx, t, changes...)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// InAppStatuses are every in-app message status.
var InAppStatuses = []string{db.InAppPending, db.InAppDisplayed, db.InAppDismissed, db.InAppClicked}

// InAppMessages returns a contact's in-app messages in the statuses (all when empty), newest
// first.
func (e *Engine) InAppMessages(ctx context.Context, t db.Tenant, contactID uuid.UUID, statuses []string) ([]db.InAppMessage, error) {
	for i, s := range statuses {
		if !slices.Contains(InAppStatuses, s) {
			return nil, invalid.Field(fmt.Sprintf("status[%d]", i), "unknown in-app message status")
		}
	}
	return db.ListInAppMessages(ctx, e.DB, t, contactID, statuses)
}

// MarkInApp records that a message was displayed, dismissed or clicked.
func (e *Engine) MarkInApp(ctx context.Context, t db.Tenant, id uuid.UUID, status string) (*db.InAppMessage, error) {
	if status == db.InAppPending || !slices.Contains(InAppStatuses, status) {
		return nil, invalid.Field("status", "must be DISPLAYED, DISMISSED or CLICKED")
	}
	var m *db.InAppMessage
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if m, err = db.SetInAppStatus(ctx, tx, t, id, status, e.now()); err != nil {
			return err
		}
		return db.AppendChanges(ctx, tx, t, db.InAppChange(m, strings.ToLower(status)))
	})
	if errors.Is(err, db.ErrInvalidValue) {
		return nil, invalid.Field("status", "must be DISPLAYED, DISMISSED or CLICKED")
	}
	return m, err
}
