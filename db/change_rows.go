package db

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Change rows of the objects that more than one domain package writes: each carries the
// object's id (SubjectID), the filter keys and a few facts as payload.

// facts marshals a payload of plain values (it cannot fail for them).
func facts(v map[string]any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// TaskChange is the change row of a task created or changed (kind: KindCreated,
// KindCompleted...). before is the task as it was (nil for a new task, or when the change
// moved neither assignee nor team role): a previous assignee or team role the change moved
// the task away from is a fact, so the feed the task left hears of it (feed.Tasks).
func TaskChange(task, before *Task, kind string) *Change {
	f := map[string]any{"taskId": task.ID, "title": task.Title, "status": task.Status}
	if before != nil {
		if before.AssigneeID != nil && (task.AssigneeID == nil || *task.AssigneeID != *before.AssigneeID) {
			f["previousAssigneeId"] = *before.AssigneeID
		}
		if before.TeamRoleID != nil && (task.TeamRoleID == nil || *task.TeamRoleID != *before.TeamRoleID) {
			f["previousTeamRoleId"] = *before.TeamRoleID
		}
	}
	id := task.ID
	return &Change{Topic: TopicTask, Kind: kind, SubjectID: &id, AccountID: &task.AccountID,
		ContactID: task.ContactID, AssigneeID: task.AssigneeID, TeamRoleID: task.TeamRoleID, Payload: facts(f)}
}

// TimelineChange is the change row of a new timeline entry.
func TimelineChange(e *TimelineEntry) *Change {
	id, account := e.ID, e.AccountID
	return &Change{Topic: TopicTimeline, Kind: KindAdded, SubjectID: &id, AccountID: &account,
		Payload: facts(map[string]any{"entryId": id, "kind": e.Kind, "occurredAt": e.OccurredAt.UTC().Format(time.RFC3339Nano)})}
}

// EventChanges are the change rows of newly stored events, one per event.
func EventChanges(events []Event) []*Change {
	out := make([]*Change, len(events))
	for i := range events {
		e := &events[i]
		account := e.AccountID
		// Events have bigint ids, so SubjectID stays empty and the id travels as a fact.
		out[i] = &Change{Topic: TopicEvent, Kind: KindRecorded, AccountID: &account, ContactID: e.ContactID,
			Payload: facts(map[string]any{"eventId": strconv.FormatInt(e.ID, 10), "clientEventId": e.ClientEventID,
				"name": e.Name, "occurredAt": e.OccurredAt.UTC().Format(time.RFC3339Nano)})}
	}
	return out
}

// PlayRunChange is the change row of a run starting (KindStarted), finishing (KindFinished)
// or retried (KindRetried).
func PlayRunChange(r *PlayRun, kind string) *Change {
	return runChange(r.ID, r.PlayID, r.AccountID, r.ContactID, r.Status, r.Outcome, kind)
}

func runChange(id, playID, accountID uuid.UUID, contactID *uuid.UUID, status string, outcome *string, kind string) *Change {
	f := map[string]any{"runId": id, "status": status}
	if outcome != nil {
		f["outcome"] = *outcome
	}
	return &Change{Topic: TopicPlayRun, Kind: kind, SubjectID: &id, PlayID: &playID, AccountID: &accountID,
		ContactID: contactID, Payload: facts(f)}
}

// InAppChange is the change row of an in-app message sent (KindCreated) or marked (the new
// status, lower-cased: displayed, dismissed, clicked). Its facts hold the whole message, so
// a partner's feed shows it without another request.
func InAppChange(m *InAppMessage, kind string) *Change {
	id, contact := m.ID, m.ContactID
	return &Change{Topic: TopicInApp, Kind: kind, SubjectID: &id, ContactID: &contact, Payload: facts(map[string]any{
		"messageId": id, "title": m.Title, "body": m.Body, "style": m.Style, "status": m.Status,
		"createdAt": m.CreatedAt.UTC().Format(time.RFC3339Nano),
	})}
}

// JourneyChange is the change row of a journey event: kind is the journey event kind
// (ENTERED, COMPLETED, MILESTONE_STARTED, AT_RISK, BEHIND...), the subject is the enrolment;
// milestone (its key) and status (of the milestone or enrolment after the change) may be
// empty. The journeyProgress and accountActivity feeds read exactly these.
func JourneyChange(journeyID, enrollmentID, accountID uuid.UUID, kind, milestone, status string) *Change {
	f := map[string]any{"enrollmentId": enrollmentID}
	if milestone != "" {
		f["milestone"] = milestone
	}
	if status != "" {
		f["status"] = status
	}
	return &Change{Topic: TopicJourney, Kind: kind, SubjectID: &enrollmentID, JourneyID: &journeyID,
		AccountID: &accountID, Payload: facts(f)}
}
