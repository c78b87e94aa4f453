package journey

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
)

// checkReferences requires what a definition names to exist in the workspace: team roles of
// task assignees, users (as enabled members) and the plays of LAUNCH_PLAY steps (ACCOUNT
// scope, not archived). Errors name the field that holds the reference.
func checkReferences(ctx context.Context, idb bun.IDB, t db.Tenant, d *Definition) error {
	var roles map[string]bool
	for i, m := range d.Milestones {
		for j, s := range m.Steps {
			path := fmt.Sprintf("%s.milestones[%d].steps[%d]", rootPath, i, j)
			switch {
			case s.Task != nil && s.Task.Assignee != nil:
				a := s.Task.Assignee
				switch {
				case a.Kind == play.AssignTeamRole:
					if roles == nil {
						var err error
						if roles, err = teamRoles(ctx, idb, t); err != nil {
							return err
						}
					}
					if !roles[a.TeamRole] {
						return invalid.Field(path+".task.assignee.teamRole", "no such team role in this workspace")
					}
				case a.Kind == play.AssignUser && a.UserID != nil:
					if err := checkMember(ctx, idb, t, *a.UserID, path+".task.assignee.userId"); err != nil {
						return err
					}
				}
			case s.PlayID != nil:
				if err := checkPlay(ctx, idb, t, *s.PlayID, path+".playId"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func teamRoles(ctx context.Context, idb bun.IDB, t db.Tenant) (map[string]bool, error) {
	rows, err := db.ListTeamRoles(ctx, idb, t)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range rows {
		out[r.Key] = true
	}
	return out, nil
}

func checkMember(ctx context.Context, idb bun.IDB, t db.Tenant, id uuid.UUID, path string) error {
	found, err := db.UsersByIDs(ctx, idb, t, []uuid.UUID{id})
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return invalid.Field(path, "no such user in this workspace")
	}
	if found[0].DisabledAt != nil {
		return invalid.Field(path, "is a disabled member of this workspace")
	}
	return nil
}

func checkPlay(ctx context.Context, idb bun.IDB, t db.Tenant, id uuid.UUID, path string) error {
	p, err := db.GetPlay(ctx, idb, t, id)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return invalid.Field(path, "no such play in this workspace")
	case err != nil:
		return err
	case p.Scope != string(condition.ScopeAccount):
		return invalid.Field(path, "is a %s play; a journey launches ACCOUNT plays", p.Scope)
	case p.Status == db.PlayArchived:
		return invalid.Field(path, "is an archived play")
	}
	return nil
}
