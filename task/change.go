package task

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// actionKinds names, for live feeds, what each action did to a task.
var actionKinds = map[string]string{
	ActionComplete: db.KindCompleted,
	ActionReopen:   db.KindReopened,
	ActionSnooze:   db.KindSnoozed,
	ActionCancel:   db.KindCancelled,
	ActionReassign: db.KindReassigned,
}

// logChange writes task's change log row (db.TaskChange) in tx, the transaction of the
// change. before is the task as it was (nil for a new task).
func logChange(ctx context.Context, tx bun.IDB, t db.Tenant, task, before *db.Task, kind string) error {
	return db.AppendChanges(ctx, tx, t, db.TaskChange(task, before, kind))
}
