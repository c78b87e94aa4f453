package feed

import (
	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// Filter selects, among a workspace's events, those of one subscription. The filters built
// by Tasks, TeamRoleTasks, AccountActivity, PlayRuns, JourneyProgress and InAppMessages are
// keyed: the hub indexes their subscribers by that key, so dispatching an event costs the
// subscribers it matches, not every subscriber of the workspace. A filter from FilterFunc is
// checked against every event of its workspace. The zero Filter takes every event.
type Filter struct {
	key   filterKey
	check func(*Event) bool
}

// FilterFunc returns a filter that runs f for every event of the subscription's workspace;
// keep f to comparisons. A nil f takes every event.
func FilterFunc(f func(*Event) bool) Filter { return Filter{check: f} }

func (f Filter) match(ev *Event) bool {
	if f.key.on != keyNone {
		for _, k := range ev.keys {
			if k == f.key {
				return true
			}
		}
		return false
	}
	return f.check == nil || f.check(ev)
}

// keyOn is what a keyed filter follows.
type keyOn uint8

const (
	keyNone keyOn = iota
	keyAssignee
	keyTeamRole
	keyAccount
	keyPlay
	keyJourney
	keyContact
)

// filterKey is one index entry: a keyed filter has one, an event a few (Event.keys).
type filterKey struct {
	on keyOn
	id uuid.UUID
}

// Facts that filters read from payloads. Task rows carry the previous assignee and team role
// when a change moved the task away from them, so the feed it left hears of it.
const (
	FactPreviousAssignee = "previousAssigneeId"
	FactPreviousTeamRole = "previousTeamRoleId"
)

// eventKeys returns the keys of the filters that select ev: the one place that says which
// subscription sees which event. Keys are distinct, so a subscriber (indexed under one key)
// is found at most once.
func eventKeys(ev *Event) []filterKey {
	c := ev.Change
	keys := make([]filterKey, 0, 3)
	add := func(on keyOn, id *uuid.UUID) {
		if id == nil {
			return
		}
		k := filterKey{on: on, id: *id}
		for _, have := range keys {
			if have == k {
				return
			}
		}
		keys = append(keys, k)
	}
	fact := func(name string) *uuid.UUID {
		id, err := uuid.Parse(ev.Fact(name))
		if err != nil {
			return nil
		}
		return &id
	}
	switch c.Topic {
	case db.TopicTask:
		// Tasks assigned to a user or role, or that a change took away from them.
		add(keyAssignee, c.AssigneeID)
		add(keyAssignee, fact(FactPreviousAssignee))
		add(keyTeamRole, c.TeamRoleID)
		add(keyTeamRole, fact(FactPreviousTeamRole))
	case db.TopicTimeline, db.TopicEvent:
		add(keyAccount, c.AccountID)
	case db.TopicPlayRun:
		add(keyAccount, c.AccountID)
		add(keyPlay, c.PlayID)
	case db.TopicJourney:
		add(keyAccount, c.AccountID)
		add(keyJourney, c.JourneyID)
	case db.TopicInApp:
		add(keyContact, c.ContactID)
	}
	return keys
}

// Tasks selects task events of tasks assigned to userID, or that a change took away from
// them.
func Tasks(userID uuid.UUID) Filter { return Filter{key: filterKey{keyAssignee, userID}} }

// TeamRoleTasks selects task events of tasks for a team role, or that a change moved to
// another role.
func TeamRoleTasks(roleID uuid.UUID) Filter { return Filter{key: filterKey{keyTeamRole, roleID}} }

// AccountActivity selects an account's timeline entries, recorded events, play runs starting
// and finishing and journey progress.
func AccountActivity(accountID uuid.UUID) Filter {
	return Filter{key: filterKey{keyAccount, accountID}}
}

// PlayRuns selects the runs of one play starting and finishing.
func PlayRuns(playID uuid.UUID) Filter { return Filter{key: filterKey{keyPlay, playID}} }

// JourneyProgress selects the progress of one journey's enrolments.
func JourneyProgress(journeyID uuid.UUID) Filter {
	return Filter{key: filterKey{keyJourney, journeyID}}
}

// InAppMessages selects the in-app messages of one contact.
func InAppMessages(contactID uuid.UUID) Filter { return Filter{key: filterKey{keyContact, contactID}} }
