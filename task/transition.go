package task

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Actions on an existing task, as named in a TransitionError.
const (
	ActionComplete = "complete"
	ActionReopen   = "reopen"
	ActionSnooze   = "snooze"
	ActionCancel   = "cancel"
	ActionReassign = "reassign"
)

// allowedFrom lists the stored statuses each action accepts. Everything else is a
// TransitionError, including repeating an action (completing a DONE task): the second of two
// racing clicks learns that someone else got there first instead of silently overwriting who
// completed it. Reopen accepts a SNOOZED task (it ends the snooze early).
var allowedFrom = map[string][]string{
	ActionComplete: {db.TaskOpen, db.TaskSnoozed},
	ActionReopen:   {db.TaskDone, db.TaskCancelled, db.TaskSnoozed},
	ActionSnooze:   {db.TaskOpen, db.TaskSnoozed},
	ActionCancel:   {db.TaskOpen, db.TaskSnoozed},
	ActionReassign: {db.TaskOpen, db.TaskSnoozed},
}

// TransitionError is an action the task's current status does not allow. It is a conflict
// with the task's state, not malformed input: it matches errors.Is(err, db.ErrConflict) (so
// the API answers CONFLICT) and invalid.As finds an *invalid.Error on the field "status", so
// the client learns which field is in the way.
type TransitionError struct {
	Action string // one of the Action* constants
	Status string // the task's effective status when the action was refused
}

func (e *TransitionError) Error() string { return "status: " + e.message() }

func (e *TransitionError) message() string {
	return fmt.Sprintf("cannot %s a task that is %s (allowed from %s)",
		e.Action, e.Status, strings.Join(allowedFrom[e.Action], ", "))
}

// Unwrap exposes db.ErrConflict and the *invalid.Error on "status".
func (e *TransitionError) Unwrap() []error {
	return []error{db.ErrConflict, invalid.Field("status", "%s", e.message())}
}

// Complete marks the task DONE by `by` (uuid.Nil: no user, e.g. an API key or automation),
// ending any snooze. Allowed from OPEN and SNOOZED.
func (s *Service) Complete(ctx context.Context, t db.Tenant, id, by uuid.UUID) (*db.Task, error) {
	return s.transition(ctx, t, id, ActionComplete, func(_ context.Context, _ bun.Tx, task *db.Task, now time.Time) error {
		task.Status = db.TaskDone
		task.SnoozedUntil = nil
		task.CompletedAt, task.CompletedBy = &now, userOrNil(by)
		return nil
	})
}

// Reopen makes a DONE, CANCELLED or SNOOZED task OPEN again, clearing when and by whom it was
// completed or cancelled and any snooze. Its due time is unchanged.
func (s *Service) Reopen(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Task, error) {
	return s.transition(ctx, t, id, ActionReopen, func(_ context.Context, _ bun.Tx, task *db.Task, _ time.Time) error {
		task.Status = db.TaskOpen
		task.SnoozedUntil = nil
		task.CompletedAt, task.CompletedBy = nil, nil
		task.CancelledAt, task.CancelledBy = nil, nil
		return nil
	})
}

// Snooze hides an OPEN (or re-times a SNOOZED) task until `until`, which must be in the
// future. When until passes the task reads as OPEN again (see the package comment).
func (s *Service) Snooze(ctx context.Context, t db.Tenant, id uuid.UUID, until time.Time) (*db.Task, error) {
	return s.transition(ctx, t, id, ActionSnooze, func(_ context.Context, _ bun.Tx, task *db.Task, now time.Time) error {
		if !until.After(now) {
			return invalid.Field("until", "must be in the future")
		}
		task.Status = db.TaskSnoozed
		task.SnoozedUntil = &until
		return nil
	})
}

// Cancel marks an OPEN or SNOOZED task CANCELLED by `by` (uuid.Nil: no user).
func (s *Service) Cancel(ctx context.Context, t db.Tenant, id, by uuid.UUID) (*db.Task, error) {
	return s.transition(ctx, t, id, ActionCancel, func(_ context.Context, _ bun.Tx, task *db.Task, now time.Time) error {
		task.Status = db.TaskCancelled
		task.SnoozedUntil = nil
		task.CancelledAt, task.CancelledBy = &now, userOrNil(by)
		return nil
	})
}

// Reassign gives an OPEN or SNOOZED task to someone else, resolved as for Create (see
// Assignee) against the task's account. The assignee must name a user, a team role or both;
// with only a user the task keeps its team role.
func (s *Service) Reassign(ctx context.Context, t db.Tenant, id uuid.UUID, to Assignee) (*db.Task, error) {
	if to.UserID == nil && to.TeamRoleKey == "" {
		return nil, invalid.Field("assigneeId", "give a user or a team role")
	}
	return s.transition(ctx, t, id, ActionReassign, func(ctx context.Context, tx bun.Tx, task *db.Task, _ time.Time) error {
		acct, err := db.GetAccount(ctx, tx, t, task.AccountID)
		if err != nil {
			return err
		}
		a, err := resolveAssignee(ctx, tx, t, acct, to)
		if err != nil {
			return err
		}
		a.apply(task)
		return nil
	})
}

// transition locks the task, checks the action is allowed from its status, lets change edit
// it and writes it back, all in one transaction.
func (s *Service) transition(ctx context.Context, t db.Tenant, id uuid.UUID, action string,
	change func(context.Context, bun.Tx, *db.Task, time.Time) error,
) (*db.Task, error) {
	var out *db.Task
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		task, err := db.GetTaskForUpdate(ctx, tx, t, id)
		if err != nil {
			return err
		}
		now := s.Now()
		if !slices.Contains(allowedFrom[action], task.Status) {
			return &TransitionError{Action: action, Status: task.EffectiveStatus(now)}
		}
		before := *task
		if err := change(ctx, tx, task, now); err != nil {
			return err
		}
		task.UpdatedAt = now
		if err := db.UpdateTask(ctx, tx, t, task); err != nil {
			return err
		}
		// The change's row goes first: what the hooks do because of it (a journey milestone
		// completing, the next one's tasks created) follows it in the log.
		if err := logChange(ctx, tx, t, task, &before, actionKinds[action]); err != nil {
			return err
		}
		if s.Hooks.TaskChanged != nil {
			if err := s.Hooks.TaskChanged(ctx, tx, t, &before, task); err != nil {
				return err
			}
		}
		out = task
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// userOrNil stores uuid.Nil as "no user".
func userOrNil(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
