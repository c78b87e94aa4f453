package feed

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// TestDispatchIndex checks that the indexed dispatch delivers to each kind of subscriber
// exactly the events its filter selects, in one workspace only, and that removing
// subscribers empties the index.
func TestDispatchIndex(t *testing.T) {
	t.Parallel()
	h := NewHub(nil, nil, Config{BufferSize: 16})
	h.started = true
	ws, other := uuid.New(), uuid.New()
	user, prevUser, role, prevRole := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	account, play, journey, contact := uuid.New(), uuid.New(), uuid.New(), uuid.New()

	filters := map[string]Filter{
		"user": Tasks(user), "prevUser": Tasks(prevUser), "role": TeamRoleTasks(role), "prevRole": TeamRoleTasks(prevRole),
		"account": AccountActivity(account), "play": PlayRuns(play), "journey": JourneyProgress(journey),
		"contact": InAppMessages(contact), "all": {}, "func": FilterFunc(func(ev *Event) bool { return ev.Change.Kind == "k" }),
	}
	subs := map[string]*subscriber{}
	for name, f := range filters {
		subs[name] = &subscriber{workspace: ws, filter: f, live: make(chan *Event, 16), gone: make(chan struct{})}
		_, err := h.add(subs[name])
		require.NoError(t, err)
	}
	foreign := &subscriber{workspace: other, filter: Tasks(user), live: make(chan *Event, 16), gone: make(chan struct{})}
	_, err := h.add(foreign)
	require.NoError(t, err)

	moved := json.RawMessage(`{"` + FactPreviousAssignee + `":"` + prevUser.String() + `","` + FactPreviousTeamRole + `":"` + prevRole.String() + `"}`)
	rows := []db.Change{
		{Topic: db.TopicTask, Kind: "assigned", AssigneeID: &user, TeamRoleID: &role},
		{Topic: db.TopicTask, Kind: "moved", AssigneeID: &user, Payload: moved},
		{Topic: db.TopicTimeline, Kind: "k", AccountID: &account},
		{Topic: db.TopicPlayRun, Kind: "run", AccountID: &account, PlayID: &play},
		{Topic: db.TopicJourney, Kind: "milestone", AccountID: &account, JourneyID: &journey},
		{Topic: db.TopicInApp, Kind: "message", ContactID: &contact, AccountID: &account},
		{Topic: db.TopicTask, Kind: "unassigned"},
		// The account's key on a task row does not make it account activity.
		{Topic: db.TopicTask, Kind: "task of account", AccountID: &account},
	}
	for i := range rows {
		rows[i].WorkspaceID, rows[i].TxID, rows[i].ID = ws, 1, int64(i+1)
		if rows[i].Payload == nil {
			rows[i].Payload = json.RawMessage(`{}`)
		}
	}
	h.dispatch(rows)
	got := func(s *subscriber) []string {
		var kinds []string
		for len(s.live) > 0 {
			kinds = append(kinds, (<-s.live).Change.Kind)
		}
		return kinds
	}
	want := map[string][]string{
		"user": {"assigned", "moved"}, "prevUser": {"moved"}, "role": {"assigned"}, "prevRole": {"moved"},
		"account": {"k", "run", "milestone"}, "play": {"run"}, "journey": {"milestone"}, "contact": {"message"},
		"all": {"assigned", "moved", "k", "run", "milestone", "message", "unassigned", "task of account"}, "func": {"k"},
	}
	for name, s := range subs {
		require.Equal(t, want[name], got(s), name)
	}
	require.Empty(t, got(foreign))
	// Replay filters with the same keys: match agrees with the index.
	for name, f := range filters {
		var kinds []string
		for i := range rows {
			if ev := newEvent(&rows[i]); f.match(ev) {
				kinds = append(kinds, ev.Change.Kind)
			}
		}
		require.Equal(t, want[name], kinds, name)
	}

	for _, s := range subs {
		h.remove(s)
	}
	h.remove(foreign)
	require.Zero(t, h.Subscribers())
	require.Empty(t, h.subs)
}
