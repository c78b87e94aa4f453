package db

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// liveEnrollmentConflict is the ON CONFLICT target of the partial unique index on live
// enrolments (one per journey and account).
const liveEnrollmentConflict = "CONFLICT (workspace_id, journey_id, account_id) WHERE status IN ('ACTIVE', 'STALLED') DO NOTHING"

// InsertEnrollment stores a new enrolment unless the account already has a live enrolment in
// the journey; inserted is false (and e unchanged) in that case. It never aborts the caller's
// transaction on that conflict, so triggers can call it inside the causing transaction.
func InsertEnrollment(ctx context.Context, idb bun.IDB, t Tenant, e *JourneyEnrollment) (bool, error) {
	res, err := Insert(t, idb, e).On(liveEnrollmentConflict).Returning("*").Exec(ctx)
	if err != nil {
		return false, mapErr("insert journey enrollment", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// GetEnrollment loads one enrolment of the tenant.
func GetEnrollment(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*JourneyEnrollment, error) {
	e := new(JourneyEnrollment)
	if err := t.Select(idb, e).Where("je.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get journey enrollment", err)
	}
	return e, nil
}

// GetEnrollmentForUpdate loads and row-locks one enrolment: every progress change of an
// enrolment holds this lock, so changes of one enrolment are serialised.
func GetEnrollmentForUpdate(ctx context.Context, tx bun.Tx, t Tenant, id uuid.UUID) (*JourneyEnrollment, error) {
	e := new(JourneyEnrollment)
	if err := t.Select(tx, e).Where("je.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
		return nil, mapErr("lock journey enrollment", err)
	}
	return e, nil
}

// EnrollmentsByIDs loads enrolments by id (loaders), in no particular order.
func EnrollmentsByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]JourneyEnrollment, error) {
	rows := []JourneyEnrollment{}
	if len(ids) == 0 {
		return rows, nil
	}
	if err := t.Select(idb, &rows).Where("je.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load journey enrollments", err)
	}
	return rows, nil
}

// UpdateEnrollment writes an enrolment's mutable state back.
func UpdateEnrollment(ctx context.Context, idb bun.IDB, t Tenant, e *JourneyEnrollment) error {
	_, err := t.Update(idb, e).
		Column("version", "status", "last_progress_at", "stall_at", "completed_at", "cancelled_at", "cancelled_by", "cancel_reason").
		Set("updated_at = now()").WherePK().Exec(ctx)
	if err != nil {
		return mapErr("update journey enrollment", err)
	}
	return nil
}

// EnrollmentFilter narrows ListEnrollments; zero fields do not filter.
type EnrollmentFilter struct {
	JourneyID *uuid.UUID
	AccountID *uuid.UUID
	Statuses  []string
}

// ListEnrollments returns enrolments f matches, newest first, at most limit, after the keyset
// cursor (enrolled_at, id) when given; hasNext says whether more follow.
func ListEnrollments(ctx context.Context, idb bun.IDB, t Tenant, f EnrollmentFilter, limit int, after *PageCursor) ([]JourneyEnrollment, bool, error) {
	rows := []JourneyEnrollment{}
	q := t.Select(idb, &rows)
	if f.JourneyID != nil {
		q.Where("je.journey_id = ?", *f.JourneyID)
	}
	if f.AccountID != nil {
		q.Where("je.account_id = ?", *f.AccountID)
	}
	if len(f.Statuses) > 0 {
		q.Where("je.status IN (?)", bun.In(f.Statuses))
	}
	if after != nil {
		q.Where("(je.enrolled_at, je.id) < (?::timestamptz, ?)", after.Key, after.ID)
	}
	if err := q.OrderExpr("je.enrolled_at DESC, je.id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr("list journey enrollments", err)
	}
	hasNext := len(rows) > limit
	if hasNext {
		rows = rows[:limit]
	}
	return rows, hasNext, nil
}

// EnrollmentHistory says what enrolments an account already had in a journey, for re-entry
// policies.
type EnrollmentHistory struct {
	Any       bool
	Live      bool
	LastEnded *time.Time
}

// JourneyEnrollmentHistory reports the account's enrolments in a journey (every version).
func JourneyEnrollmentHistory(ctx context.Context, idb bun.IDB, t Tenant, journeyID, accountID uuid.UUID) (EnrollmentHistory, error) {
	var h EnrollmentHistory
	err := t.Select(idb, (*JourneyEnrollment)(nil)).
		ColumnExpr("count(*) > 0").
		ColumnExpr("coalesce(bool_or(je.status IN (?, ?)), false)", EnrollmentActive, EnrollmentStalled).
		ColumnExpr("max(coalesce(je.completed_at, je.cancelled_at))").
		Where("je.journey_id = ? AND je.account_id = ?", journeyID, accountID).
		Scan(ctx, &h.Any, &h.Live, &h.LastEnded)
	if err != nil {
		return h, mapErr("journey enrollment history", err)
	}
	return h, nil
}

// LiveEnrollmentsOfAccounts returns the live enrolments of the accounts, locked FOR UPDATE in
// id order, for condition checks after events and account changes.
func LiveEnrollmentsOfAccounts(ctx context.Context, tx bun.Tx, t Tenant, accountIDs []uuid.UUID) ([]JourneyEnrollment, error) {
	rows := []JourneyEnrollment{}
	if len(accountIDs) == 0 {
		return rows, nil
	}
	err := t.Select(tx, &rows).Where("je.account_id IN (?)", bun.In(accountIDs)).
		Where("je.status IN (?)", bun.In(LiveEnrollmentStatuses)).OrderExpr("je.id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, mapErr("list live journey enrollments", err)
	}
	return rows, nil
}

// LiveEnrollmentsOfVersion returns the live enrolments of one journey version, locked FOR
// UPDATE in id order (version migration).
func LiveEnrollmentsOfVersion(ctx context.Context, tx bun.Tx, t Tenant, journeyID uuid.UUID, version int) ([]JourneyEnrollment, error) {
	rows := []JourneyEnrollment{}
	err := t.Select(tx, &rows).Where("je.journey_id = ? AND je.version = ?", journeyID, version).
		Where("je.status IN (?)", bun.In(LiveEnrollmentStatuses)).OrderExpr("je.id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, mapErr("list live journey enrollments", err)
	}
	return rows, nil
}

// InsertMilestoneStates stores milestone rows (NOT_STARTED at enrolment).
func InsertMilestoneStates(ctx context.Context, idb bun.IDB, t Tenant, rows []*JourneyMilestoneState) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := Insert(t, idb, rows...).Exec(ctx); err != nil {
		return mapErr("insert milestone states", err)
	}
	return nil
}

// MilestoneStates returns an enrolment's milestones in definition order.
func MilestoneStates(ctx context.Context, idb bun.IDB, t Tenant, enrollmentID uuid.UUID) ([]JourneyMilestoneState, error) {
	return MilestoneStatesOf(ctx, idb, t, []uuid.UUID{enrollmentID})
}

// MilestoneStatesOf returns the milestones of several enrolments, by enrolment then position.
func MilestoneStatesOf(ctx context.Context, idb bun.IDB, t Tenant, enrollmentIDs []uuid.UUID) ([]JourneyMilestoneState, error) {
	rows := []JourneyMilestoneState{}
	if len(enrollmentIDs) == 0 {
		return rows, nil
	}
	if err := t.Select(idb, &rows).Where("jms.enrollment_id IN (?)", bun.In(enrollmentIDs)).
		OrderExpr("jms.enrollment_id, jms.position, jms.milestone_key").Scan(ctx); err != nil {
		return nil, mapErr("list milestone states", err)
	}
	return rows, nil
}

// UpdateMilestoneState writes a milestone's mutable state back.
func UpdateMilestoneState(ctx context.Context, idb bun.IDB, t Tenant, m *JourneyMilestoneState) error {
	_, err := t.Update(idb, m).
		Column("version", "position", "status", "started_at", "due_at", "at_risk_at", "behind_at",
			"next_status_at", "next_check_at", "completed_at", "skipped_at").
		Set("updated_at = now()").WherePK().Exec(ctx)
	if err != nil {
		return mapErr("update milestone state", err)
	}
	return nil
}

// DeleteMilestoneState removes a milestone row (a NOT_STARTED milestone a migration drops).
func DeleteMilestoneState(ctx context.Context, idb bun.IDB, t Tenant, enrollmentID uuid.UUID, key string) error {
	_, err := t.Delete(idb, (*JourneyMilestoneState)(nil)).
		Where("jms.enrollment_id = ? AND jms.milestone_key = ?", enrollmentID, key).Exec(ctx)
	if err != nil {
		return mapErr("delete milestone state", err)
	}
	return nil
}

// InsertStepState stores a step row unless the enrolment already has one for the step key;
// inserted says whether this call stored it (a repeated start does nothing).
func InsertStepState(ctx context.Context, idb bun.IDB, t Tenant, s *JourneyStepState) (bool, error) {
	res, err := Insert(t, idb, s).On("CONFLICT (workspace_id, enrollment_id, step_key) DO NOTHING").Exec(ctx)
	if err != nil {
		return false, mapErr("insert step state", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// StepStates returns the step rows of several enrolments, by enrolment, then creation.
func StepStates(ctx context.Context, idb bun.IDB, t Tenant, enrollmentIDs []uuid.UUID) ([]JourneyStepState, error) {
	rows := []JourneyStepState{}
	if len(enrollmentIDs) == 0 {
		return rows, nil
	}
	if err := t.Select(idb, &rows).Where("jss.enrollment_id IN (?)", bun.In(enrollmentIDs)).
		OrderExpr("jss.enrollment_id, jss.created_at, jss.step_key").Scan(ctx); err != nil {
		return nil, mapErr("list step states", err)
	}
	return rows, nil
}

// GetStepState loads one step row; ErrNotFound when the step has not started.
func GetStepState(ctx context.Context, idb bun.IDB, t Tenant, enrollmentID uuid.UUID, key string) (*JourneyStepState, error) {
	s := new(JourneyStepState)
	if err := t.Select(idb, s).Where("jss.enrollment_id = ? AND jss.step_key = ?", enrollmentID, key).Scan(ctx); err != nil {
		return nil, mapErr("get step state", err)
	}
	return s, nil
}

// StepStateByTask finds the step that created a task; ErrNotFound for other tasks.
func StepStateByTask(ctx context.Context, idb bun.IDB, t Tenant, taskID uuid.UUID) (*JourneyStepState, error) {
	s := new(JourneyStepState)
	if err := t.Select(idb, s).Where("jss.task_id = ?", taskID).Limit(1).Scan(ctx); err != nil {
		return nil, mapErr("step state by task", err)
	}
	return s, nil
}

// UpdateStepState writes a step row's mutable state back.
func UpdateStepState(ctx context.Context, idb bun.IDB, t Tenant, s *JourneyStepState) error {
	_, err := t.Update(idb, s).
		Column("milestone_key", "required", "status", "task_id", "play_run_id", "outbox_id", "in_app_message_id", "error", "done_at").
		WherePK().Exec(ctx)
	if err != nil {
		return mapErr("update step state", err)
	}
	return nil
}

// SetOpenTasksStatus ends (CANCELLED) or reopens (OPEN) tasks directly, without the task
// service's hooks: the journey engine uses it for the tasks of milestones it skips, cancels or
// reopens, inside its own transaction. Only tasks in from change; each changed task gets its
// change log row (TaskChange: cancelled or reopened), so task feeds see it.
func SetOpenTasksStatus(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID, from []string, to string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	kind := KindReopened
	q := t.Update(idb, (*Task)(nil)).Set("status = ?", to).Set("snoozed_until = NULL").Set("updated_at = ?", now).
		Where("tk.id IN (?) AND tk.status IN (?)", bun.In(ids), bun.In(from))
	if to == TaskCancelled {
		kind = KindCancelled
		q.Set("cancelled_at = ?", now)
	} else {
		q.Set("completed_at = NULL, completed_by = NULL, cancelled_at = NULL, cancelled_by = NULL")
	}
	var changed []Task
	if _, err := q.Returning("tk.*").Exec(ctx, &changed); err != nil {
		return mapErr("set journey task status", err)
	}
	// The status alone changed: no assignee or team role was left behind.
	slices.SortFunc(changed, func(a, b Task) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	rows := make([]*Change, len(changed))
	for i := range changed {
		rows[i] = TaskChange(&changed[i], nil, kind)
	}
	return AppendChanges(ctx, idb, t, rows...)
}

// LockDueEnrollments locks, skipping rows other transactions hold, up to limit live
// enrolments (any workspace) with a milestone whose next status time (next_status_at) or
// re-check time (next_check_at) is at or before now, oldest first. Several processes running
// it at once get disjoint sets.
func LockDueEnrollments(ctx context.Context, tx bun.Tx, now time.Time, limit int) ([]JourneyEnrollment, error) {
	rows := []JourneyEnrollment{}
	err := tx.NewRaw(`SELECT je.* FROM journey_enrollments AS je
		WHERE je.status IN ('ACTIVE', 'STALLED') AND (je.workspace_id, je.id) IN (
			SELECT workspace_id, enrollment_id FROM journey_milestone_states WHERE next_status_at <= ?
			UNION
			SELECT workspace_id, enrollment_id FROM journey_milestone_states WHERE next_check_at <= ?)
		ORDER BY je.id LIMIT ? FOR UPDATE SKIP LOCKED`, now, now, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("lock due journey enrollments", err)
	}
	return rows, nil
}

// StallEnrollments marks STALLED every ACTIVE enrolment (any workspace) whose stall time has
// come, at most limit of them, skipping rows other transactions hold, and returns them.
func StallEnrollments(ctx context.Context, tx bun.Tx, now time.Time, limit int) ([]JourneyEnrollment, error) {
	rows := []JourneyEnrollment{}
	err := tx.NewRaw(`UPDATE journey_enrollments AS je SET status = ?, stall_at = NULL, updated_at = now()
		WHERE (je.workspace_id, je.id) IN (
			SELECT workspace_id, id FROM journey_enrollments
			WHERE status = ? AND stall_at <= ? ORDER BY stall_at LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING je.*`, EnrollmentStalled, EnrollmentActive, now, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("stall journey enrollments", err)
	}
	return rows, nil
}

// SetTaskDue moves a task's due time (a reopened journey milestone's tasks are due again).
func SetTaskDue(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID, due time.Time) error {
	if _, err := t.Update(idb, (*Task)(nil)).Set("due_at = ?", due).Where("tk.id = ?", id).Exec(ctx); err != nil {
		return mapErr("set task due", err)
	}
	return nil
}

// PostponeDueMilestones moves an enrolment's due status and check times (those at or before
// now) to until: the status job's way past an enrolment that failed, so one bad enrolment does
// not hold every batch back.
func PostponeDueMilestones(ctx context.Context, idb bun.IDB, t Tenant, enrollmentID uuid.UUID, now, until time.Time) error {
	_, err := t.Update(idb, (*JourneyMilestoneState)(nil)).
		Set("next_status_at = CASE WHEN next_status_at <= ? THEN ?::timestamptz ELSE next_status_at END", now, until).
		Set("next_check_at = CASE WHEN next_check_at <= ? THEN ?::timestamptz ELSE next_check_at END", now, until).
		Where("jms.enrollment_id = ?", enrollmentID).Exec(ctx)
	if err != nil {
		return mapErr("postpone milestones", err)
	}
	return nil
}
