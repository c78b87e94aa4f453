package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Journey changes reach the live feeds: journeyProgress and accountActivity receive an
// enrolment's status changes, in order, with cursors to resume from; the task feed sees the
// tasks the journey creates, and cancels.

// journeyFeedEvent is a JourneyProgressEvent as both feeds show it.
type journeyFeedEvent struct {
	Cursor       string
	Kind         string
	Milestone    *string
	Status       *string
	EnrollmentID string
	JourneyID    string
	Account      *struct{ ID string }
}

const journeyFeedFields = `cursor kind milestone status enrollmentId journeyId account { id }`

// journeyKinds lists events as "KIND milestone status".
func journeyKinds(evs []journeyFeedEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		s := ev.Kind
		if ev.Milestone != nil {
			s += " " + *ev.Milestone
		}
		if ev.Status != nil {
			s += " " + *ev.Status
		}
		out[i] = s
	}
	return out
}

func TestJourneyChangesReachLiveFeeds(t *testing.T) {
	t.Parallel()
	s := newScn(t)
	journeyID := s.publishJourney("Feed onboarding", "feed-onboarding", "ONBOARDING", `{"trigger": {"kind": "MANUAL"}, "milestones": [
	  {"key": "kickoff", "name": "Kickoff", "target": "30d", "steps": [
	    {"key": "call", "kind": "TASK", "task": {"title": "Kickoff call", "assignee": {"kind": "OWNER"}}}]},
	  {"key": "wrapup", "name": "Wrap-up", "target": "30d", "steps": [
	    {"key": "wrap", "kind": "TASK", "task": {"title": "Wrap up", "assignee": {"kind": "OWNER"}}}]}]}`)
	acme := s.account("Acme Corp", nil)
	other := s.account("Bystander Inc", nil)

	c := s.env.ConnectWS(t, s.ws.AdminToken)
	c.Subscribe(t, "progress", `subscription($j: ID!) { journeyProgress(journeyId: $j) { `+journeyFeedFields+` } }`,
		map[string]any{"j": journeyID})
	c.Subscribe(t, "activity", `subscription($a: ID!) { accountActivity(accountId: $a) {
	  cursor kind timelineEntry { body } journey { `+journeyFeedFields+` } } }`, map[string]any{"a": acme})
	c.Subscribe(t, "tasks", `subscription($u: ID!) { taskFeed(assignee: {userId: $u}) { kind status task { id title } } }`,
		map[string]any{"u": s.ownerID})
	waitSubscribers(t, s.env, 3)

	var enrolled struct{ EnrollInJourney []struct{ ID string } }
	s.do(`mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { id } }`,
		map[string]any{"j": journeyID, "a": []string{acme}}, &enrolled)
	enrollmentID := enrolled.EnrollInJourney[0].ID

	// decode splits collected messages into the three feeds' events.
	type activityEvent struct {
		Cursor        string
		Kind          string
		TimelineEntry *struct{ Body string }
		Journey       *journeyFeedEvent
	}
	type taskEvent struct {
		Kind, Status string
		Task         struct{ ID, Title string }
	}
	var progress []journeyFeedEvent
	var activity []activityEvent
	var tasks []taskEvent
	read := func(want map[string]int) {
		t.Helper()
		for id, list := range collect(t, c, want) {
			for _, data := range list {
				switch id {
				case "progress":
					var ev struct{ JourneyProgress journeyFeedEvent }
					require.NoError(t, json.Unmarshal(data, &ev))
					progress = append(progress, ev.JourneyProgress)
				case "activity":
					var ev struct{ AccountActivity activityEvent }
					require.NoError(t, json.Unmarshal(data, &ev))
					activity = append(activity, ev.AccountActivity)
				case "tasks":
					var ev struct{ TaskFeed taskEvent }
					require.NoError(t, json.Unmarshal(data, &ev))
					tasks = append(tasks, ev.TaskFeed)
				}
			}
		}
	}

	// Enrolment: ENTERED, the first milestone starts, its task is created.
	read(map[string]int{"progress": 2, "activity": 4, "tasks": 1})
	require.Equal(t, []string{"ENTERED ACTIVE", "MILESTONE_STARTED kickoff ON_TRACK"}, journeyKinds(progress))
	require.Equal(t, taskEvent{Kind: "created", Status: "OPEN", Task: tasks[0].Task}, tasks[0])
	require.Equal(t, "Kickoff call", tasks[0].Task.Title)

	// Completing the task completes the milestone and starts the next one.
	s.completeTask(tasks[0].Task.ID)
	read(map[string]int{"progress": 2, "activity": 4, "tasks": 2})
	require.Equal(t, []string{"completed DONE Kickoff call", "created OPEN Wrap up"},
		[]string{tasks[1].Kind + " " + tasks[1].Status + " " + tasks[1].Task.Title, tasks[2].Kind + " " + tasks[2].Status + " " + tasks[2].Task.Title})

	// Cancelling the enrolment cancels its open task: the task feed hears of it too.
	s.do(`mutation($id: ID!) { cancelEnrollment(id: $id, reason: "lost the deal") { id } }`, map[string]any{"id": enrollmentID}, nil)
	read(map[string]int{"progress": 1, "activity": 2, "tasks": 1})
	require.Equal(t, taskEvent{Kind: "cancelled", Status: "CANCELLED", Task: tasks[2].Task}, tasks[3])

	wantKinds := []string{"ENTERED ACTIVE", "MILESTONE_STARTED kickoff ON_TRACK", "MILESTONE_COMPLETED kickoff DONE",
		"MILESTONE_STARTED wrapup ON_TRACK", "CANCELLED CANCELLED"}
	require.Equal(t, wantKinds, journeyKinds(progress))
	for _, ev := range progress {
		require.Equal(t, enrollmentID, ev.EnrollmentID)
		require.Equal(t, journeyID, ev.JourneyID)
		require.Equal(t, acme, ev.Account.ID)
	}
	// accountActivity: each change's timeline entry, then the journey event, in log order.
	var fromActivity []journeyFeedEvent
	for i, ev := range activity {
		if i%2 == 0 {
			require.Equal(t, "timeline.added", ev.Kind)
			require.NotEmpty(t, ev.TimelineEntry.Body)
			continue
		}
		require.NotNil(t, ev.Journey, ev.Kind)
		require.Equal(t, "journey."+ev.Journey.Kind, ev.Kind)
		fromActivity = append(fromActivity, *ev.Journey)
	}
	require.Equal(t, wantKinds, journeyKinds(fromActivity))
	require.Contains(t, activity[0].TimelineEntry.Body, `Enrolled in journey "Feed onboarding"`)

	// Every event has its own cursor; resuming after the first replays the rest, once, in
	// order, with the same cursors.
	seen := map[string]bool{}
	for _, ev := range progress {
		require.NotEmpty(t, ev.Cursor)
		require.False(t, seen[ev.Cursor], "cursor %s twice", ev.Cursor)
		seen[ev.Cursor] = true
	}
	for i, ev := range activity {
		require.NotEmpty(t, ev.Cursor)
		if i%2 == 1 {
			require.Equal(t, progress[i/2].Cursor, ev.Cursor, "both feeds name a row by the same cursor")
		}
	}
	again := s.env.ConnectWS(t, s.ws.AdminToken)
	again.Subscribe(t, "resume", `subscription($j: ID!, $after: String) { journeyProgress(journeyId: $j, after: $after) { `+journeyFeedFields+` } }`,
		map[string]any{"j": journeyID, "after": progress[0].Cursor})
	for _, want := range progress[1:] {
		var ev struct{ JourneyProgress journeyFeedEvent }
		again.NextData(t, "resume", &ev)
		require.Equal(t, want, ev.JourneyProgress)
	}

	// Another account's activity feed stays silent about this enrolment.
	quiet := s.env.ConnectWS(t, s.ws.AdminToken)
	quiet.Subscribe(t, "other", `subscription($a: ID!, $after: String) { accountActivity(accountId: $a, after: $after) { kind } }`,
		map[string]any{"a": other, "after": progress[0].Cursor})
	_, err := quiet.NextWithin(300 * time.Millisecond)
	require.Error(t, err, "nothing of acme's journey reaches another account's feed")
}
