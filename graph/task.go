package graph

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/task"
)

// Converters and helpers for tasks.

func toGraphTask(t *db.Task) *model.Task {
	now := time.Now()
	return &model.Task{
		ID:             globalID(kindTask, t.ID),
		DBID:           t.ID,
		AccountID:      t.AccountID,
		ContactID:      t.ContactID,
		AssigneeID:     t.AssigneeID,
		TeamRoleID:     t.TeamRoleID,
		CompletedByID:  t.CompletedBy,
		Title:          t.Title,
		Description:    t.Description,
		AssignmentFlag: t.AssignmentFlag,
		DueAt:          t.DueAt,
		Priority:       model.TaskPriority(t.Priority),
		Status:         model.TaskStatus(t.EffectiveStatus(now)),
		SnoozedUntil:   t.SnoozedUntil,
		Overdue:        t.Overdue(now),
		Source:         model.TaskSourceKind(t.SourceKind),
		SourceRef:      t.SourceRef,
		CreatedAt:      t.CreatedAt,
		UpdatedAt:      t.UpdatedAt,
		CompletedAt:    t.CompletedAt,
	}
}

func toAssignee(in *model.AssigneeInput, field string) (task.Assignee, error) {
	var a task.Assignee
	if in == nil {
		return a, nil
	}
	if in.TeamRole != nil {
		a.TeamRoleKey = *in.TeamRole
	}
	id, err := parseOptionalInputID(in.UserID, kindUser, field+".userId")
	a.UserID = id
	return a, err
}

func toNewTask(ctx context.Context, in model.CreateTaskInput) (task.NewTask, error) {
	out := task.NewTask{Title: in.Title, DueAt: in.DueAt, CreatedBy: viewerUserID(ctx)}
	var err error
	if out.AccountID, err = parseInputID(in.AccountID, kindAccount, "input.accountId"); err != nil {
		return out, err
	}
	if out.ContactID, err = parseOptionalInputID(in.ContactID, kindContact, "input.contactId"); err != nil {
		return out, err
	}
	if in.Description != nil {
		out.Description = *in.Description
	}
	if in.Priority != nil {
		out.Priority = string(*in.Priority)
	}
	out.Assignee, err = toAssignee(in.Assignee, "input.assignee")
	return out, err
}

func toTaskFilter(ctx context.Context, f *model.TaskFilter) (task.Filter, error) {
	var out task.Filter
	if f == nil {
		return out, nil
	}
	out.DueBefore = f.DueBefore
	if f.Overdue != nil {
		out.Overdue = *f.Overdue
	}
	for _, s := range f.Status {
		out.Statuses = append(out.Statuses, string(s))
	}
	var err error
	if out.AccountID, err = parseOptionalInputID(f.AccountID, kindAccount, "filter.accountId"); err != nil {
		return out, err
	}
	if a := f.Assignee; a != nil {
		set := 0
		if a.Me != nil && *a.Me {
			set++
			out.AssigneeID = viewerUserID(ctx)
			if out.AssigneeID == nil {
				return out, invalid.Field("filter.assignee.me", "an API key has no tasks of its own")
			}
		}
		if a.UserID != nil {
			set++
			if out.AssigneeID, err = parseOptionalInputID(a.UserID, kindUser, "filter.assignee.userId"); err != nil {
				return out, err
			}
		}
		if a.TeamRole != nil {
			set++
			out.TeamRoleKey = *a.TeamRole
		}
		if a.Unassigned != nil && *a.Unassigned {
			set++
			out.Unassigned = true
		}
		if set > 1 {
			return out, invalid.Field("filter.assignee", "give exactly one of me, userId, teamRole and unassigned")
		}
	}
	return out, nil
}

// toTaskQuery decodes the tasks connection's arguments.
func toTaskQuery(ctx context.Context, first *int, after *string, filter *model.TaskFilter) (task.Filter, int, *db.PageCursor, error) {
	n, err := pageSize(first)
	if err != nil {
		return task.Filter{}, 0, nil, err
	}
	f, err := toTaskFilter(ctx, filter)
	if err != nil {
		return f, 0, nil, err
	}
	cursor, err := decodeCursor(after, "tasks")
	return f, n, cursor, err
}

func toTaskConnection(rows []db.TaskRow, hasNext bool, f task.Filter) *model.TaskConnection {
	conn := &model.TaskConnection{Edges: make([]*model.TaskEdge, len(rows)), PageInfo: &model.PageInfo{HasNextPage: hasNext}, Filter: f}
	for i := range rows {
		cur := encodeCursor("tasks", rows[i].SortKey, rows[i].ID)
		conn.Edges[i] = &model.TaskEdge{Cursor: cur, Node: toGraphTask(&rows[i].Task)}
		conn.PageInfo.EndCursor = &cur
	}
	return conn
}

func toGraphOverdueCount(c *db.OverdueCount, by model.OverdueGrouping) *model.OverdueCount {
	out := &model.OverdueCount{Count: c.Count}
	if by == model.OverdueGroupingTeamRole {
		out.TeamRoleID = c.ID
	} else {
		out.UserID = c.ID
	}
	return out
}

var overdueGroupings = map[model.OverdueGrouping]string{
	model.OverdueGroupingAssignee: task.ByAssignee,
	model.OverdueGroupingTeamRole: task.ByTeamRole,
}

func loadContact(ctx context.Context, id *uuid.UUID) (*model.Contact, error) {
	if id == nil {
		return nil, nil
	}
	c, err := loadersFrom(ctx).contacts.Load(ctx, *id)
	return convertOrErr(c, err, toGraphContact)
}

func loadTeamRole(ctx context.Context, id *uuid.UUID) (*model.TeamRole, error) {
	if id == nil {
		return nil, nil
	}
	r, err := loadersFrom(ctx).teamRoles.Load(ctx, *id)
	return convertOrErr(r, err, toGraphTeamRole)
}

func loadOptionalUser(ctx context.Context, id *uuid.UUID) (*model.User, error) {
	if id == nil {
		return nil, nil
	}
	return loadUser(ctx, *id)
}

// taskAction runs one task transition on a task given by global id.
func taskAction(ctx context.Context, id string, act func(t db.Tenant, id uuid.UUID) (*db.Task, error)) (*model.Task, error) {
	return action(ctx, id, kindTask, act, toGraphTask)
}

func viewerUserOrNil(ctx context.Context) uuid.UUID {
	if id := viewerUserID(ctx); id != nil {
		return *id
	}
	return uuid.Nil
}
