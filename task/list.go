package task

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Filter narrows a task listing or count; zero fields do not filter. Statuses and Overdue are
// effective: a SNOOZED task whose snooze has run out is OPEN (and can be overdue).
type Filter struct {
	// AssigneeID keeps one user's tasks ("me" is the viewer's id). A user of another
	// workspace simply has none.
	AssigneeID *uuid.UUID
	// Unassigned keeps the tasks nobody is assigned to (those flagged included).
	Unassigned bool
	// TeamRoleKey keeps the tasks for a team role, by key ("CSM") or id; bad input on
	// "teamRole" when the workspace has no such role.
	TeamRoleKey string
	// Statuses keeps tasks in any of these effective statuses (see Statuses); empty keeps all.
	Statuses []string
	// DueBefore keeps tasks due strictly before this time.
	DueBefore *time.Time
	AccountID *uuid.UUID
	// Overdue keeps effectively open tasks due before now.
	Overdue bool
}

// Groupings for OverdueCounts.
const (
	ByAssignee = db.TaskGroupAssignee
	ByTeamRole = db.TaskGroupTeamRole
)

// List returns up to first tasks after the cursor, ordered by due time with undated tasks last
// and then by id, and whether more follow. Each row's SortKey and ID make the cursor of the
// next page; the order is total, so paging neither repeats nor skips a task that stays put.
func (s *Service) List(ctx context.Context, t db.Tenant, f Filter, first int, after *db.PageCursor) ([]db.TaskRow, bool, error) {
	if first < 0 {
		return nil, false, invalid.Field("first", "must not be negative")
	}
	df, err := s.dbFilter(ctx, t, f)
	if err != nil {
		return nil, false, err
	}
	rows, hasNext, err := db.ListTasks(ctx, s.DB, t, db.TaskPage{Filter: df, First: first, After: after})
	if errors.Is(err, db.ErrInvalidValue) {
		return nil, false, invalid.Field("after", "is not a cursor of this list")
	}
	return rows, hasNext, err
}

// Count counts the tasks a filter matches (e.g. a connection's totalCount, or "my overdue
// tasks" with AssigneeID and Overdue).
func (s *Service) Count(ctx context.Context, t db.Tenant, f Filter) (int, error) {
	df, err := s.dbFilter(ctx, t, f)
	if err != nil {
		return 0, err
	}
	return db.CountTasks(ctx, s.DB, t, df)
}

// OverdueCounts counts overdue tasks per assignee (ByAssignee) or per team role (ByTeamRole),
// largest first; the group with a nil ID holds the tasks with no assignee (or no role).
func (s *Service) OverdueCounts(ctx context.Context, t db.Tenant, by string) ([]db.OverdueCount, error) {
	if by != ByAssignee && by != ByTeamRole {
		return nil, invalid.Field("by", "must be %s or %s", ByAssignee, ByTeamRole)
	}
	return db.CountOverdueTasks(ctx, s.DB, t, by, s.Now())
}

// dbFilter validates f and resolves its team role.
func (s *Service) dbFilter(ctx context.Context, t db.Tenant, f Filter) (db.TaskFilter, error) {
	df := db.TaskFilter{
		Now:        s.Now(),
		AssigneeID: f.AssigneeID,
		Unassigned: f.Unassigned,
		DueBefore:  f.DueBefore,
		AccountID:  f.AccountID,
		Overdue:    f.Overdue,
	}
	for _, st := range f.Statuses {
		if !slices.Contains(Statuses, st) {
			return df, invalid.Field("status", "must be one of %s", strings.Join(Statuses, ", "))
		}
	}
	df.Statuses = f.Statuses
	if f.TeamRoleKey != "" {
		role, err := db.TeamRoleByKeyOrID(ctx, s.DB, t, f.TeamRoleKey)
		if errors.Is(err, db.ErrNotFound) {
			return df, invalid.Field("teamRole", "no such team role")
		}
		if err != nil {
			return df, err
		}
		df.TeamRoleID = &role.ID
	}
	return df, nil
}
