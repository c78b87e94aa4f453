package task

import (
	"context"
	"encoding/json"
	"fmt"

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

// taskFacts is the payload of a task's change log row: enough for a feed to show the change
// without loading the task; previous assignee and team role are set when the change moved
// the task away from them, so the feed it left hears of it (feed.Tasks).
type taskFacts struct {
	TaskID             string `json:"taskId"`
	Title              string `json:"title"`
	Status             string `json:"status"`
	PreviousAssigneeID string `json:"previousAssigneeId,omitempty"`
	PreviousTeamRoleID string `json:"previousTeamRoleId,omitempty"`
}

// logChange writes task's change log row in tx, the transaction of the change. before is the
// task as it was (nil for a new task).
func logChange(ctx context.Context, tx bun.IDB, t db.Tenant, task, before *db.Task, kind string) error {
	facts := taskFacts{TaskID: task.ID.String(), Title: task.Title, Status: task.Status}
	if before != nil {
		if before.AssigneeID != nil && (task.AssigneeID == nil || *task.AssigneeID != *before.AssigneeID) {
			facts.PreviousAssigneeID = before.AssigneeID.String()
		}
		if before.TeamRoleID != nil && (task.TeamRoleID == nil || *task.TeamRoleID != *before.TeamRoleID) {
			facts.PreviousTeamRoleID = before.TeamRoleID.String()
		}
	}
	payload, err := json.Marshal(facts)
	if err != nil {
		return fmt.Errorf("marshal task change: %w", err)
	}
	id := task.ID
	return db.AppendChanges(ctx, tx, t, &db.Change{
		Topic: db.TopicTask, Kind: kind, SubjectID: &id, AccountID: &task.AccountID,
		ContactID: task.ContactID, AssigneeID: task.AssigneeID, TeamRoleID: task.TeamRoleID,
		Payload: payload,
	})
}
