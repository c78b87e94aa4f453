package feed

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Assignee is whose tasks a task feed follows: a user (UserID) or a team role (TeamRoleKey, a
// key like "CSM" or an id).
type Assignee struct {
	UserID      *uuid.UUID
	TeamRoleKey string
}

// TaskFilter checks a is a member or team role of the workspace and returns its task filter.
// A user of another workspace is bad input on "assignee.userId", an unknown role on
// "assignee.teamRole".
func (h *Hub) TaskFilter(ctx context.Context, t db.Tenant, a Assignee) (Filter, error) {
	switch {
	case (a.UserID == nil) == (a.TeamRoleKey == ""):
		return Filter{}, invalid.Field("assignee", "give exactly one of me, userId and teamRole")
	case a.UserID != nil:
		if _, err := db.GetMember(ctx, h.db, t, *a.UserID); err != nil {
			return Filter{}, badInputIfMissing(err, "assignee.userId", "no such user in this workspace")
		}
		return Tasks(*a.UserID), nil
	default:
		role, err := db.TeamRoleByKeyOrID(ctx, h.db, t, a.TeamRoleKey)
		if err != nil {
			return Filter{}, badInputIfMissing(err, "assignee.teamRole", "no such team role")
		}
		return TeamRoleTasks(role.ID), nil
	}
}

// AccountFilter returns the activity filter of one of the workspace's accounts;
// db.ErrNotFound for another workspace's or an unknown account.
func (h *Hub) AccountFilter(ctx context.Context, t db.Tenant, accountID uuid.UUID) (Filter, error) {
	if _, err := db.GetAccount(ctx, h.db, t, accountID); err != nil {
		return Filter{}, err
	}
	return AccountActivity(accountID), nil
}

// PlayFilter returns the run filter of one of the workspace's plays; db.ErrNotFound otherwise.
func (h *Hub) PlayFilter(ctx context.Context, t db.Tenant, playID uuid.UUID) (Filter, error) {
	if _, err := db.GetPlay(ctx, h.db, t, playID); err != nil {
		return Filter{}, err
	}
	return PlayRuns(playID), nil
}

// JourneyFilter returns the progress filter of a journey. The journey is not looked up (the
// journey tables belong to the journey package); another workspace's journey simply never
// has an event here, since every subscription is confined to its workspace.
func (h *Hub) JourneyFilter(_ context.Context, _ db.Tenant, journeyID uuid.UUID) (Filter, error) {
	return JourneyProgress(journeyID), nil
}

// ContactFilter returns the in-app message filter of one of the workspace's contacts;
// db.ErrNotFound otherwise.
func (h *Hub) ContactFilter(ctx context.Context, t db.Tenant, contactID uuid.UUID) (Filter, error) {
	if _, err := db.GetContact(ctx, h.db, t, contactID); err != nil {
		return Filter{}, err
	}
	return InAppMessages(contactID), nil
}

func badInputIfMissing(err error, field, msg string) error {
	if errors.Is(err, db.ErrNotFound) {
		return invalid.Field(field, "%s", msg)
	}
	return err
}
