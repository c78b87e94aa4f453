package feed

import (
	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// Filter selects, among a workspace's events, those of one subscription. It runs on the
// hub's dispatch path for every event of the workspace: keep it to comparisons. A nil Filter
// takes every event.
type Filter func(*Event) bool

func (f Filter) match(ev *Event) bool { return f == nil || f(ev) }

// Facts that filters read from payloads. Task rows carry the previous assignee and team role
// when a change moved the task away from them, so the feed it left hears of it.
const (
	FactPreviousAssignee = "previousAssigneeId"
	FactPreviousTeamRole = "previousTeamRoleId"
)

// Tasks selects task events of tasks assigned to userID, or that a change took away from
// them.
func Tasks(userID uuid.UUID) Filter {
	s := userID.String()
	return func(ev *Event) bool {
		c := ev.Change
		return c.Topic == db.TopicTask && (eq(c.AssigneeID, userID) || ev.Fact(FactPreviousAssignee) == s)
	}
}

// TeamRoleTasks selects task events of tasks for a team role, or that a change moved to
// another role.
func TeamRoleTasks(roleID uuid.UUID) Filter {
	s := roleID.String()
	return func(ev *Event) bool {
		c := ev.Change
		return c.Topic == db.TopicTask && (eq(c.TeamRoleID, roleID) || ev.Fact(FactPreviousTeamRole) == s)
	}
}

// AccountActivity selects an account's timeline entries, recorded events, play runs starting
// and finishing and journey progress.
func AccountActivity(accountID uuid.UUID) Filter {
	return func(ev *Event) bool {
		c := ev.Change
		switch c.Topic {
		case db.TopicTimeline, db.TopicEvent, db.TopicPlayRun, db.TopicJourney:
			return eq(c.AccountID, accountID)
		}
		return false
	}
}

// PlayRuns selects the runs of one play starting and finishing.
func PlayRuns(playID uuid.UUID) Filter {
	return func(ev *Event) bool {
		return ev.Change.Topic == db.TopicPlayRun && eq(ev.Change.PlayID, playID)
	}
}

// JourneyProgress selects the progress of one journey's enrolments.
func JourneyProgress(journeyID uuid.UUID) Filter {
	return func(ev *Event) bool {
		return ev.Change.Topic == db.TopicJourney && eq(ev.Change.JourneyID, journeyID)
	}
}

// InAppMessages selects the in-app messages of one contact.
func InAppMessages(contactID uuid.UUID) Filter {
	return func(ev *Event) bool {
		return ev.Change.Topic == db.TopicInApp && eq(ev.Change.ContactID, contactID)
	}
}

func eq(p *uuid.UUID, id uuid.UUID) bool { return p != nil && *p == id }
