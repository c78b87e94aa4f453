package task

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// assignment is who a task goes to once an Assignee has been resolved. keepRole means the
// Assignee named no team role, so an existing task keeps the one it has.
type assignment struct {
	assigneeID *uuid.UUID
	teamRoleID *uuid.UUID
	keepRole   bool
	flag       *string
}

// apply writes the assignment onto task.
func (a assignment) apply(task *db.Task) {
	task.AssigneeID = a.assigneeID
	if !a.keepRole {
		task.TeamRoleID = a.teamRoleID
	}
	task.AssignmentFlag = a.flag
}

// resolveAssignee decides who gets a task on acct:
//   - an explicit user, who must be an active member of the workspace (else bad input on
//     "assigneeId"; a user of another workspace is not one);
//   - otherwise, for a team role (bad input on "teamRole" if the workspace has none such), the
//     account team's active member in that role who was added earliest;
//   - otherwise the account owner, if they are an active member;
//   - otherwise nobody, flagged NO_TEAM_MEMBER (a role was asked for) or NO_OWNER.
func resolveAssignee(ctx context.Context, idb bun.IDB, t db.Tenant, acct *db.Account, in Assignee) (assignment, error) {
	var a assignment
	if in.TeamRoleKey != "" {
		role, err := db.TeamRoleByKeyOrID(ctx, idb, t, in.TeamRoleKey)
		if errors.Is(err, db.ErrNotFound) {
			return a, invalid.Field("teamRole", "no such team role")
		}
		if err != nil {
			return a, err
		}
		a.teamRoleID = &role.ID
	} else {
		a.keepRole = true
	}
	if in.UserID != nil {
		ok, err := activeMember(ctx, idb, t, *in.UserID)
		if err != nil {
			return a, err
		}
		if !ok {
			return a, invalid.Field("assigneeId", "no such active user in this workspace")
		}
		a.assigneeID = in.UserID
		return a, nil
	}
	if a.teamRoleID != nil {
		id, err := db.FirstTeamMemberInRole(ctx, idb, t, acct.ID, *a.teamRoleID)
		switch {
		case err == nil:
			a.assigneeID = &id
			return a, nil
		case !errors.Is(err, db.ErrNotFound):
			return a, err
		}
	}
	if acct.OwnerID != nil {
		ok, err := activeMember(ctx, idb, t, *acct.OwnerID)
		if err != nil {
			return a, err
		}
		if ok {
			a.assigneeID = acct.OwnerID
			return a, nil
		}
	}
	flag := db.TaskFlagNoOwner
	if a.teamRoleID != nil {
		flag = db.TaskFlagNoTeamMember
	}
	a.flag = &flag
	return a, nil
}

// activeMember reports whether userID is a member of the workspace whose membership is not
// disabled.
func activeMember(ctx context.Context, idb bun.IDB, t db.Tenant, userID uuid.UUID) (bool, error) {
	m, err := db.GetMember(ctx, idb, t, userID)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.DisabledAt == nil, nil
}
