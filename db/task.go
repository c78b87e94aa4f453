package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// taskSortExpr is the order of every task listing: due time with undated tasks last. The
// migration indexes exactly this expression, and keyset cursors hold its text.
const taskSortExpr = "coalesce(tk.due_at, 'infinity'::timestamptz)"

// taskOpenSQL matches tasks that are open at the bound time: OPEN, or SNOOZED with the snooze
// run out. Task.EffectiveStatus is the same rule in Go.
const taskOpenSQL = "(tk.status = 'OPEN' OR (tk.status = 'SNOOZED' AND tk.snoozed_until <= ?))"

// TaskFilter narrows a task listing or count; zero fields do not filter.
type TaskFilter struct {
	// Now is the clock reading that decides effective statuses and overdue; required.
	Now time.Time
	// AssigneeID keeps the tasks assigned to this user.
	AssigneeID *uuid.UUID
	// Unassigned keeps the tasks nobody is assigned to.
	Unassigned bool
	// TeamRoleID keeps the tasks for this team role.
	TeamRoleID *uuid.UUID
	// Statuses keeps the tasks whose effective status (see Task.EffectiveStatus) is one of these.
	Statuses []string
	// DueBefore keeps the tasks due strictly before this time (undated tasks never match).
	DueBefore *time.Time
	// AccountID keeps the tasks of this account.
	AccountID *uuid.UUID
	// Overdue keeps the tasks that are effectively open and due before Now.
	Overdue bool
}

// TaskPage asks for one page of tasks ordered by due time (undated last), then id.
type TaskPage struct {
	Filter TaskFilter
	First  int
	After  *PageCursor
}

// TaskRow is a task with its keyset position.
type TaskRow struct {
	Task    `bun:",extend"`
	SortKey string `bun:"sort_key"`
}

// GetTask loads one task of the tenant.
func GetTask(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*Task, error) {
	task := new(Task)
	if err := t.Select(idb, task).Where("tk.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get task", err)
	}
	return task, nil
}

// GetTaskForUpdate loads and row-locks one task inside tx.
func GetTaskForUpdate(ctx context.Context, tx bun.Tx, t Tenant, id uuid.UUID) (*Task, error) {
	task := new(Task)
	if err := t.Select(tx, task).Where("tk.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
		return nil, mapErr("lock task", err)
	}
	return task, nil
}

// GetTaskByIdempotencyKey loads the task created with key, or ErrNotFound.
func GetTaskByIdempotencyKey(ctx context.Context, idb bun.IDB, t Tenant, key string) (*Task, error) {
	task := new(Task)
	if err := t.Select(idb, task).Where("tk.idempotency_key = ?", key).Scan(ctx); err != nil {
		return nil, mapErr("get task by idempotency key", err)
	}
	return task, nil
}

// TasksByIDs loads tasks by id, for dataloaders; missing ids (and other workspaces' tasks) are
// simply absent from the result.
func TasksByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]Task, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []Task
	if err := t.Select(idb, &rows).Where("tk.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load tasks", err)
	}
	return rows, nil
}

// InsertTask stores task and fills its generated columns, reporting whether it was created.
// With an IdempotencyKey that a task of the workspace already holds, nothing is inserted: task
// is overwritten with that existing task and created is false. A concurrent insert of the same
// key waits for the other transaction and then sees its row (under READ COMMITTED).
func InsertTask(ctx context.Context, idb bun.IDB, t Tenant, task *Task) (created bool, err error) {
	q := Insert(t, idb, task).Returning("*")
	if task.IdempotencyKey != nil {
		q = q.On("CONFLICT (workspace_id, idempotency_key) DO NOTHING")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, mapErr("insert task", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	existing, err := GetTaskByIdempotencyKey(ctx, idb, t, *task.IdempotencyKey)
	if err != nil {
		return false, fmt.Errorf("insert task: load existing: %w", err)
	}
	*task = *existing
	return false, nil
}

// UpdateTask writes every mutable column of task back and refreshes it from the row.
func UpdateTask(ctx context.Context, idb bun.IDB, t Tenant, task *Task) error {
	res, err := t.Update(idb, task).
		ExcludeColumn("workspace_id", "id", "account_id", "source_kind", "source_ref",
			"idempotency_key", "created_by", "created_at").
		WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return mapErr("update task", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update task: %w", ErrNotFound)
	}
	return nil
}

// ListTasks returns one page (up to p.First rows) in due order, undated tasks last, and whether
// more follow.
func ListTasks(ctx context.Context, idb bun.IDB, t Tenant, p TaskPage) ([]TaskRow, bool, error) {
	var rows []TaskRow
	q := t.Select(idb, &rows).ColumnExpr("tk.*").ColumnExpr(taskSortExpr + "::text AS sort_key")
	applyTaskFilter(q, p.Filter)
	if p.After != nil {
		q.Where("("+taskSortExpr+", tk.id) > (?::timestamptz, ?)", p.After.Key, p.After.ID)
	}
	q.OrderExpr(taskSortExpr + ", tk.id").Limit(int64(p.First + 1))
	if err := q.Scan(ctx); err != nil {
		return nil, false, mapErr("list tasks", err)
	}
	hasNext := len(rows) > p.First
	if hasNext {
		rows = rows[:p.First]
	}
	return rows, hasNext, nil
}

// CountTasks counts the tasks a filter matches.
func CountTasks(ctx context.Context, idb bun.IDB, t Tenant, f TaskFilter) (int, error) {
	q := t.Select(idb, (*Task)(nil))
	applyTaskFilter(q, f)
	n, err := q.Count(ctx)
	if err != nil {
		return 0, mapErr("count tasks", err)
	}
	return int(n), nil
}

// Groupings for CountOverdueTasks.
const (
	TaskGroupAssignee = "ASSIGNEE"
	TaskGroupTeamRole = "TEAM_ROLE"
)

// OverdueCount is how many overdue tasks one assignee or team role has; a nil ID is the group
// of tasks with no assignee (or no team role).
type OverdueCount struct {
	ID    *uuid.UUID `bun:"id"`
	Count int        `bun:"n"`
}

// CountOverdueTasks counts the tasks overdue at now, grouped by assignee or by team role
// (TaskGroup*), largest group first. Groups with no overdue task are absent.
func CountOverdueTasks(ctx context.Context, idb bun.IDB, t Tenant, by string, now time.Time) ([]OverdueCount, error) {
	var col string
	switch by {
	case TaskGroupAssignee:
		col = "tk.assignee_id"
	case TaskGroupTeamRole:
		col = "tk.team_role_id"
	default:
		return nil, fmt.Errorf("count overdue tasks: unknown grouping %q", by)
	}
	var rows []OverdueCount
	q := t.Select(idb, (*Task)(nil)).ColumnExpr(col + " AS id, count(*) AS n")
	applyTaskFilter(q, TaskFilter{Now: now, Overdue: true})
	q.GroupExpr(col).OrderExpr("n DESC, " + col + " NULLS LAST")
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, mapErr("count overdue tasks", err)
	}
	return rows, nil
}

func applyTaskFilter(q *bun.SelectQuery, f TaskFilter) {
	if f.AssigneeID != nil {
		q.Where("tk.assignee_id = ?", *f.AssigneeID)
	}
	if f.Unassigned {
		q.Where("tk.assignee_id IS NULL")
	}
	if f.TeamRoleID != nil {
		q.Where("tk.team_role_id = ?", *f.TeamRoleID)
	}
	if f.AccountID != nil {
		q.Where("tk.account_id = ?", *f.AccountID)
	}
	if f.DueBefore != nil {
		q.Where("tk.due_at < ?", *f.DueBefore)
	}
	if f.Overdue {
		q.Where(taskOpenSQL+" AND tk.due_at < ?", f.Now, f.Now)
	}
	if len(f.Statuses) > 0 {
		var parts []string
		var args []any
		for _, s := range f.Statuses {
			switch s {
			case TaskOpen:
				parts = append(parts, taskOpenSQL)
				args = append(args, f.Now)
			case TaskSnoozed:
				parts = append(parts, "(tk.status = 'SNOOZED' AND tk.snoozed_until > ?)")
				args = append(args, f.Now)
			default:
				parts = append(parts, "tk.status = ?")
				args = append(args, s)
			}
		}
		q.Where("("+strings.Join(parts, " OR ")+")", args...)
	}
}

// TeamRoleByKeyOrID finds the workspace's team role whose key is ref (e.g. "CSM") or, when ref
// is a UUID, whose id is ref; ErrNotFound otherwise.
func TeamRoleByKeyOrID(ctx context.Context, idb bun.IDB, t Tenant, ref string) (*TeamRole, error) {
	r := new(TeamRole)
	q := t.Select(idb, r)
	if id, err := uuid.Parse(ref); err == nil {
		q.Where("(tr.id = ? OR tr.key = ?)", id, ref)
	} else {
		q.Where("tr.key = ?", ref)
	}
	if err := q.OrderExpr("tr.key = ? DESC", ref).Limit(1).Scan(ctx); err != nil {
		return nil, mapErr("get team role", err)
	}
	return r, nil
}

// FirstTeamMemberInRole returns the active workspace member on the account's team in the role
// who was added earliest (ties broken by user id), or ErrNotFound when the role has none.
// Members whose membership is disabled are skipped.
func FirstTeamMemberInRole(ctx context.Context, idb bun.IDB, t Tenant, accountID, teamRoleID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := t.Select(idb, (*AccountTeamMember)(nil)).
		Column("atm.user_id").
		Join("JOIN memberships AS m ON m.workspace_id = atm.workspace_id AND m.user_id = atm.user_id").
		Where("atm.account_id = ? AND atm.team_role_id = ?", accountID, teamRoleID).
		Where("m.disabled_at IS NULL").
		OrderExpr("atm.created_at, atm.user_id").
		Limit(1).
		Scan(ctx, &id)
	if err != nil {
		return uuid.Nil, mapErr("first team member in role", err)
	}
	return id, nil
}
