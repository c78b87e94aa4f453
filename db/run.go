package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// activeRunConflict is the ON CONFLICT target of the partial unique index on active runs.
const activeRunConflict = "CONFLICT (workspace_id, play_id, account_id, coalesce(contact_id, '00000000-0000-0000-0000-000000000000')) WHERE status IN ('RUNNING', 'WAITING') DO NOTHING"

// InsertPlayRun stores a new run unless the subject already has an active run of the play;
// inserted is false (and r unchanged) in that case.
func InsertPlayRun(ctx context.Context, idb bun.IDB, t Tenant, r *PlayRun) (bool, error) {
	if r.Iterations == nil {
		r.Iterations = map[string]int{}
	}
	res, err := Insert(t, idb, r).On(activeRunConflict).Returning("*").Exec(ctx)
	if err != nil {
		return false, mapErr("insert play run", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetPlayRun loads one run of the tenant.
func GetPlayRun(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*PlayRun, error) {
	r := new(PlayRun)
	if err := t.Select(idb, r).Where("r.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get play run", err)
	}
	return r, nil
}

// GetPlayRunForUpdate loads and row-locks one run inside tx, so one step of a run executes at a
// time.
func GetPlayRunForUpdate(ctx context.Context, tx bun.Tx, t Tenant, id uuid.UUID) (*PlayRun, error) {
	r := new(PlayRun)
	if err := t.Select(tx, r).Where("r.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
		return nil, mapErr("lock play run", err)
	}
	return r, nil
}

// UpdatePlayRun writes the run's mutable state back.
func UpdatePlayRun(ctx context.Context, idb bun.IDB, t Tenant, r *PlayRun) error {
	_, err := t.Update(idb, r).
		Column("status", "current_step", "iterations", "next_wake_at", "finished_at", "outcome", "error").
		Set("updated_at = now()").WherePK().Exec(ctx)
	if err != nil {
		return mapErr("update play run", err)
	}
	return nil
}

// RunFilter narrows ListPlayRuns; zero fields do not filter.
type RunFilter struct {
	PlayID    *uuid.UUID
	AccountID *uuid.UUID
	ContactID *uuid.UUID
	Statuses  []string
}

// ListPlayRuns returns runs f matches, newest first, at most limit, after the keyset cursor
// (started_at, id) when given; hasNext says whether more follow.
func ListPlayRuns(ctx context.Context, idb bun.IDB, t Tenant, f RunFilter, limit int, after *PageCursor) ([]PlayRun, bool, error) {
	rows := []PlayRun{}
	q := t.Select(idb, &rows)
	if f.PlayID != nil {
		q.Where("r.play_id = ?", *f.PlayID)
	}
	if f.AccountID != nil {
		q.Where("r.account_id = ?", *f.AccountID)
	}
	if f.ContactID != nil {
		q.Where("r.contact_id = ?", *f.ContactID)
	}
	if len(f.Statuses) > 0 {
		q.Where("r.status IN (?)", bun.In(f.Statuses))
	}
	if after != nil {
		q.Where("(r.started_at, r.id) < (?::timestamptz, ?)", after.Key, after.ID)
	}
	if err := q.OrderExpr("r.started_at DESC, r.id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr("list play runs", err)
	}
	hasNext := len(rows) > limit
	if hasNext {
		rows = rows[:limit]
	}
	return rows, hasNext, nil
}

// ActiveRunsOfAccounts returns the active runs about any of the accounts, locked FOR UPDATE
// in id order, for goal and exit checks after events.
func ActiveRunsOfAccounts(ctx context.Context, tx bun.Tx, t Tenant, accountIDs []uuid.UUID) ([]PlayRun, error) {
	rows := []PlayRun{}
	if len(accountIDs) == 0 {
		return rows, nil
	}
	err := t.Select(tx, &rows).Where("r.account_id IN (?)", bun.In(accountIDs)).
		Where("r.status IN (?, ?)", RunRunning, RunWaiting).OrderExpr("r.id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, mapErr("list active runs", err)
	}
	return rows, nil
}

// CancelActiveRuns ends every active run of a play as CANCELLED and returns them.
func CancelActiveRuns(ctx context.Context, idb bun.IDB, t Tenant, playID uuid.UUID, now time.Time) ([]PlayRun, error) {
	rows := []PlayRun{}
	_, err := t.Update(idb, (*PlayRun)(nil)).
		Set("status = ?", RunCancelled).Set("finished_at = ?", now).Set("next_wake_at = NULL").
		Set("current_step = NULL").Set("updated_at = now()").
		Where("r.play_id = ? AND r.status IN (?, ?)", playID, RunRunning, RunWaiting).Returning("*").Exec(ctx, &rows)
	if err != nil {
		return nil, mapErr("cancel play runs", err)
	}
	return rows, nil
}

// RunHistory says what runs of a play a subject already had, for re-entry policies.
type RunHistory struct {
	Any          bool
	Active       bool
	LastFinished *time.Time
}

// PlayRunHistory reports the subject's runs of a play (contactID nil for an ACCOUNT play).
func PlayRunHistory(ctx context.Context, idb bun.IDB, t Tenant, playID, accountID uuid.UUID, contactID *uuid.UUID) (RunHistory, error) {
	var h RunHistory
	q := t.Select(idb, (*PlayRun)(nil)).
		ColumnExpr("count(*) > 0").
		ColumnExpr("coalesce(bool_or(r.status IN (?, ?)), false)", RunRunning, RunWaiting).
		ColumnExpr("max(r.finished_at)").
		Where("r.play_id = ? AND r.account_id = ?", playID, accountID)
	if contactID != nil {
		q.Where("r.contact_id = ?", *contactID)
	} else {
		q.Where("r.contact_id IS NULL")
	}
	if err := q.Scan(ctx, &h.Any, &h.Active, &h.LastFinished); err != nil {
		return h, mapErr("play run history", err)
	}
	return h, nil
}

// GetStepRun loads one step log row; ErrNotFound when the step has not started in that round.
func GetStepRun(ctx context.Context, idb bun.IDB, t Tenant, runID uuid.UUID, stepID string, iteration int) (*PlayStepRun, error) {
	s := new(PlayStepRun)
	err := t.Select(idb, s).Where("sr.run_id = ? AND sr.step_id = ? AND sr.iteration = ?", runID, stepID, iteration).Scan(ctx)
	if err != nil {
		return nil, mapErr("get step run", err)
	}
	return s, nil
}

// UpsertStepRun writes a step log row, replacing the row of the same (run, step, round).
func UpsertStepRun(ctx context.Context, idb bun.IDB, t Tenant, s *PlayStepRun) error {
	_, err := Insert(t, idb, s).
		On("CONFLICT (workspace_id, run_id, step_id, iteration) DO UPDATE").
		Set("attempt = EXCLUDED.attempt, status = EXCLUDED.status, finished_at = EXCLUDED.finished_at").
		Set("outcome = EXCLUDED.outcome, error = EXCLUDED.error, task_id = EXCLUDED.task_id").
		Set("outbox_id = EXCLUDED.outbox_id, in_app_message_id = EXCLUDED.in_app_message_id").
		Exec(ctx)
	if err != nil {
		return mapErr("upsert step run", err)
	}
	return nil
}

// ListStepRuns returns a run's step log in the order steps started.
func ListStepRuns(ctx context.Context, idb bun.IDB, t Tenant, runID uuid.UUID) ([]PlayStepRun, error) {
	rows := []PlayStepRun{}
	if err := t.Select(idb, &rows).Where("sr.run_id = ?", runID).
		OrderExpr("sr.started_at, sr.step_id, sr.iteration").Scan(ctx); err != nil {
		return nil, mapErr("list step runs", err)
	}
	return rows, nil
}

// InsertInAppMessage stores m unless its idempotency key exists; either way it returns the
// stored message.
func InsertInAppMessage(ctx context.Context, idb bun.IDB, t Tenant, m *InAppMessage) (*InAppMessage, error) {
	if _, err := Insert(t, idb, m).On("CONFLICT (workspace_id, idempotency_key) DO NOTHING").Exec(ctx); err != nil {
		return nil, mapErr("insert in-app message", err)
	}
	out := new(InAppMessage)
	if err := t.Select(idb, out).Where("iam.idempotency_key = ?", m.IdempotencyKey).Scan(ctx); err != nil {
		return nil, mapErr("get in-app message", err)
	}
	return out, nil
}

// ListInAppMessages returns a contact's in-app messages in the given statuses (all when
// empty), newest first.
func ListInAppMessages(ctx context.Context, idb bun.IDB, t Tenant, contactID uuid.UUID, statuses []string) ([]InAppMessage, error) {
	rows := []InAppMessage{}
	q := t.Select(idb, &rows).Where("iam.contact_id = ?", contactID)
	if len(statuses) > 0 {
		q.Where("iam.status IN (?)", bun.In(statuses))
	}
	if err := q.OrderExpr("iam.created_at DESC, iam.id").Scan(ctx); err != nil {
		return nil, mapErr("list in-app messages", err)
	}
	return rows, nil
}

// SetInAppStatus moves a message to status and stamps the matching time (first time only).
func SetInAppStatus(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID, status string, now time.Time) (*InAppMessage, error) {
	col := map[string]string{InAppDisplayed: "displayed_at", InAppDismissed: "dismissed_at", InAppClicked: "clicked_at"}[status]
	if col == "" {
		return nil, fmt.Errorf("set in-app status %q: %w", status, ErrInvalidValue)
	}
	m := new(InAppMessage)
	res, err := t.Update(idb, m).Set("status = ?", status).
		Set("? = coalesce(?, ?)", bun.Ident(col), bun.Ident(col), now).
		Where("iam.id = ?", id).Returning("*").Exec(ctx, m)
	if err != nil {
		return nil, mapErr("set in-app status", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("set in-app status: %w", ErrNotFound)
	}
	return m, nil
}

// LiveContactsOfAccount returns the account's contacts that are not archived, by id.
func LiveContactsOfAccount(ctx context.Context, idb bun.IDB, t Tenant, accountID uuid.UUID) ([]Contact, error) {
	rows := []Contact{}
	if err := t.Select(idb, &rows).Where("c.account_id = ? AND c.archived_at IS NULL", accountID).
		OrderExpr("c.id").Scan(ctx); err != nil {
		return nil, mapErr("list live contacts", err)
	}
	return rows, nil
}

// SetPlayRunTrigger rewrites why a run started (the first step explains swept runs).
func SetPlayRunTrigger(ctx context.Context, idb bun.IDB, t Tenant, runID uuid.UUID, trigger json.RawMessage) error {
	if _, err := t.Update(idb, (*PlayRun)(nil)).Set("trigger = ?", trigger).Where("r.id = ?", runID).Exec(ctx); err != nil {
		return mapErr("set play run trigger", err)
	}
	return nil
}
