package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
	"github.com/stewardhq/steward/task"
)

// feedTask is a taskFeed event as the tests select it.
type feedTask struct {
	Cursor string `json:"cursor"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Task   struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"task"`
}

const taskFeedQuery = `subscription($a: TaskFeedAssignee!, $after: String) {
  taskFeed(assignee: $a, after: $after) { cursor kind status task { id title } }
}`

var me = map[string]any{"a": map[string]any{"me": true}}

// nextTask reads the next taskFeed event of subscription id.
func nextTask(t *testing.T, c *servertest.WSClient, id string) feedTask {
	t.Helper()
	var out struct {
		TaskFeed feedTask `json:"taskFeed"`
	}
	c.NextData(t, id, &out)
	return out.TaskFeed
}

// nextTitles reads n taskFeed events and returns their task titles.
func nextTitles(t *testing.T, c *servertest.WSClient, id string, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = nextTask(t, c, id).Task.Title
	}
	return out
}

// subscribeError reads the answer to a refused subscribe (an error message, or a next with
// errors) and returns its first error.
func subscribeError(t *testing.T, c *servertest.WSClient, id string) servertest.Error {
	t.Helper()
	m := c.Next(t)
	require.Equal(t, id, m.ID)
	var errs []servertest.Error
	switch m.Type {
	case "error":
		require.NoError(t, json.Unmarshal(m.Payload, &errs))
	case "next":
		var resp servertest.Response
		require.NoError(t, json.Unmarshal(m.Payload, &resp))
		errs = resp.Errors
		done := c.Next(t)
		require.Equal(t, "complete", done.Type)
		require.Equal(t, id, done.ID)
	default:
		t.Fatalf("expected an error, got %s %s", m.Type, m.Payload)
	}
	require.NotEmpty(t, errs)
	return errs[0]
}

// collect reads `next` messages until it has want[id] of each subscription, and returns their
// data by id in arrival order.
func collect(t *testing.T, c *servertest.WSClient, want map[string]int) map[string][]json.RawMessage {
	t.Helper()
	got := map[string][]json.RawMessage{}
	missing := 0
	for _, n := range want {
		missing += n
	}
	for missing > 0 {
		m := c.Next(t)
		require.Equal(t, "next", m.Type, "%s %s", m.ID, m.Payload)
		require.Less(t, len(got[m.ID]), want[m.ID], "unexpected message for %s: %s", m.ID, m.Payload)
		var resp servertest.Response
		require.NoError(t, json.Unmarshal(m.Payload, &resp))
		require.Empty(t, resp.Errors)
		got[m.ID] = append(got[m.ID], resp.Data)
		missing--
	}
	return got
}

// waitSubscribers waits until the hub serves n subscriptions (the subscribe was processed).
func waitSubscribers(t *testing.T, env *servertest.Env, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return env.Feed.Subscribers() == n }, servertest.WSTimeout, 5*time.Millisecond)
}

// feedFixture is a workspace with an account owned by a CSM and a contact on it.
type feedFixture struct {
	env       *servertest.Env
	ws        *servertest.Workspace
	csmID     uuid.UUID
	csmToken  string
	csmGID    string
	accountID string
	contactID string
}

func newFeedFixture(t *testing.T, env *servertest.Env) *feedFixture {
	t.Helper()
	ws := env.NewWorkspace(t)
	csmID, csmToken := ws.AddUser(t, db.RoleCSM)
	f := &feedFixture{env: env, ws: ws, csmID: csmID, csmToken: csmToken, csmGID: nodeID("User", csmID)}
	f.accountID, f.contactID = fxAccountWithContact(t, env, ws, f.csmGID)
	return f
}

// createTask creates a task on the fixture's account (assigned to its owner, the CSM).
func (f *feedFixture) createTask(t *testing.T, title string) string {
	t.Helper()
	var out struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	f.env.Do(t, f.csmToken, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"accountId": f.accountID, "title": title}}).Decode(t, &out)
	return out.CreateTask.ID
}

// createTaskIn creates a task on the fixture's account in tx, as a play or journey does.
func (f *feedFixture) createTaskIn(t *testing.T, tx bun.IDB, title string) {
	t.Helper()
	svc := &task.Service{DB: f.env.Bun, Now: time.Now}
	_, _, err := svc.Create(context.Background(), tx, f.ws.Tenant, task.NewTask{AccountID: dbID(t, f.accountID), Title: title})
	require.NoError(t, err)
}

// dbID decodes a global id into its database id.
func dbID(t *testing.T, gid string) uuid.UUID {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(gid)
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(raw), ":")
	require.True(t, ok, "not a global id: %s", gid)
	id, err := uuid.Parse(rest)
	require.NoError(t, err)
	return id
}

func TestTaskFeedFollowsTaskChanges(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFeedFixture(t, env)
	otherID, otherToken := f.ws.AddUser(t, db.RoleCSM)
	c := env.ConnectWS(t, f.csmToken)
	c.Subscribe(t, "mine", taskFeedQuery, me)
	other := env.ConnectWS(t, otherToken)
	other.Subscribe(t, "theirs", taskFeedQuery, me)
	waitSubscribers(t, env, 2)

	id := f.createTask(t, "Kickoff call")
	ev := nextTask(t, c, "mine")
	require.Equal(t, "created", ev.Kind)
	require.Equal(t, "OPEN", ev.Status)
	require.Equal(t, id, ev.Task.ID)
	require.Equal(t, "Kickoff call", ev.Task.Title)
	require.NotEmpty(t, ev.Cursor)

	env.Do(t, f.csmToken, `mutation($id: ID!) { completeTask(id: $id) { id } }`, map[string]any{"id": id}).Decode(t, &struct{}{})
	ev = nextTask(t, c, "mine")
	require.Equal(t, "completed", ev.Kind)
	require.Equal(t, "DONE", ev.Status)
	env.Do(t, f.csmToken, `mutation($id: ID!) { reopenTask(id: $id) { id } }`, map[string]any{"id": id}).Decode(t, &struct{}{})
	require.Equal(t, "reopened", nextTask(t, c, "mine").Kind)

	// Reassigned: both the feed it left and the feed it joined hear of it.
	env.Do(t, f.csmToken, `mutation($id: ID!, $u: ID) { reassignTask(id: $id, assignee: {userId: $u}) { id } }`,
		map[string]any{"id": id, "u": nodeID("User", otherID)}).Decode(t, &struct{}{})
	require.Equal(t, "reassigned", nextTask(t, c, "mine").Kind)
	ev = nextTask(t, other, "theirs")
	require.Equal(t, "reassigned", ev.Kind)
	require.Equal(t, id, ev.Task.ID)

	// A team role feed.
	c.Subscribe(t, "role", taskFeedQuery, map[string]any{"a": map[string]any{"teamRole": "SALES"}})
	waitSubscribers(t, env, 3)
	var created struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	env.Do(t, f.csmToken, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"accountId": f.accountID, "title": "Pricing review", "assignee": map[string]any{"teamRole": "SALES"}}}).Decode(t, &created)
	// The task goes to the owner (no SALES member): the owner's feed and the role feed get it.
	got := map[string]string{}
	for range 2 {
		m := c.Next(t)
		require.Equal(t, "next", m.Type)
		got[m.ID] = string(m.Payload)
	}
	require.Contains(t, got["mine"], "Pricing review")
	require.Contains(t, got["role"], "Pricing review")

	// Bad arguments are refused before anything is subscribed.
	c.Subscribe(t, "bad", taskFeedQuery, map[string]any{"a": map[string]any{"me": true, "teamRole": "CSM"}})
	e := subscribeError(t, c, "bad")
	require.Equal(t, "BAD_USER_INPUT", e.Extensions["code"])
	c.Subscribe(t, "bad2", taskFeedQuery, map[string]any{"a": map[string]any{"teamRole": "NOPE"}})
	e = subscribeError(t, c, "bad2")
	require.Equal(t, "assignee.teamRole", e.Extensions["field"])
}

func TestFeedsOfAPlayRunByTheWorker(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFeedFixture(t, env)
	playID := publishPlay(t, env, f.ws.AdminToken, "Welcome", "ACCOUNT", `{
  "trigger": {"kind": "MANUAL"},
  "steps": [
    {"id": "call", "kind": "CREATE_TASK", "title": "Call {{account.name}}", "assignee": {"kind": "OWNER"}},
    {"id": "hello", "kind": "IN_APP_MESSAGE", "to": "CONTACTS", "title": "Hello {{contact.firstName}}", "body": "Welcome aboard"},
    {"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "Welcomed"}]
}`)
	_, inAppKey := createAPIKey(t, env, f.ws.AdminToken, "partner", "IN_APP")
	_, eventsKey := createAPIKey(t, env, f.ws.AdminToken, "events only", "EVENTS_WRITE")

	csm := env.ConnectWS(t, f.csmToken)
	csm.Subscribe(t, "tasks", taskFeedQuery, me)
	admin := env.ConnectWS(t, f.ws.AdminToken)
	admin.Subscribe(t, "runs", `subscription($p: ID!) { playRunUpdates(playId: $p) { cursor kind status playRun { id status } } }`,
		map[string]any{"p": playID})
	admin.Subscribe(t, "activity", `subscription($a: ID!) { accountActivity(accountId: $a) {
	  kind account { name } timelineEntry { body } playRun { id } event { name clientEventId contact { id } } } }`,
		map[string]any{"a": f.accountID})
	partner := env.ConnectWS(t, inAppKey)
	partner.Subscribe(t, "inapp", `subscription($c: ID!) { inAppMessages(contactId: $c) { kind message { id title body status contact { id } } } }`,
		map[string]any{"c": f.contactID})
	waitSubscribers(t, env, 4)

	// A key without IN_APP (or READ) may not follow in-app messages.
	events := env.ConnectWS(t, eventsKey)
	events.Subscribe(t, "x", `subscription($c: ID!) { inAppMessages(contactId: $c) { kind } }`, map[string]any{"c": f.contactID})
	require.Equal(t, "FORBIDDEN", subscribeError(t, events, "x").Extensions["code"])
	// Nor may the partner key read tasks.
	partner.Subscribe(t, "tasks", taskFeedQuery, map[string]any{"a": map[string]any{"teamRole": "CSM"}})
	require.Equal(t, "FORBIDDEN", subscribeError(t, partner, "tasks").Extensions["code"])

	var launched struct {
		LaunchPlay []struct{ ID string } `json:"launchPlay"`
	}
	env.Do(t, f.ws.AdminToken, `mutation($p: ID!, $s: [ID!]!) { launchPlay(playId: $p, subjectIds: $s) { id } }`,
		map[string]any{"p": playID, "s": []string{f.accountID}}).Decode(t, &launched)
	runID := launched.LaunchPlay[0].ID

	ev := nextTask(t, csm, "tasks")
	require.Equal(t, "created", ev.Kind)
	require.Equal(t, "Call Fabrikam", ev.Task.Title, "the worker's step created the task")

	type runEvent struct {
		PlayRunUpdates struct {
			Kind    string
			Status  string
			PlayRun struct{ ID, Status string }
		} `json:"playRunUpdates"`
	}
	// The admin's socket carries two subscriptions: their messages interleave, each in order.
	byID := collect(t, admin, map[string]int{"runs": 2, "activity": 3})
	var runs []string
	for _, data := range byID["runs"] {
		var re runEvent
		require.NoError(t, json.Unmarshal(data, &re))
		require.Equal(t, runID, re.PlayRunUpdates.PlayRun.ID)
		runs = append(runs, re.PlayRunUpdates.Kind+" "+re.PlayRunUpdates.Status)
	}
	require.Equal(t, []string{"started RUNNING", "finished COMPLETED"}, runs)

	var inApp struct {
		InAppMessages struct {
			Kind    string
			Message struct {
				ID, Title, Body, Status string
				Contact                 struct{ ID string }
			}
		} `json:"inAppMessages"`
	}
	partner.NextData(t, "inapp", &inApp)
	require.Equal(t, "created", inApp.InAppMessages.Kind)
	require.Equal(t, "Hello Dana", inApp.InAppMessages.Message.Title)
	require.Equal(t, "PENDING", inApp.InAppMessages.Message.Status)
	require.Equal(t, f.contactID, inApp.InAppMessages.Message.Contact.ID)

	// accountActivity: the run starting, the note, the run finishing, in the order of their
	// transactions.
	type activity struct {
		AccountActivity struct {
			Kind          string
			Account       struct{ Name string }
			TimelineEntry *struct{ Body string }
			PlayRun       *struct{ ID string }
			Event         *struct {
				Name, ClientEventID string
				Contact             *struct{ ID string }
			}
		} `json:"accountActivity"`
	}
	var kinds []string
	for _, data := range byID["activity"] {
		var a activity
		require.NoError(t, json.Unmarshal(data, &a))
		require.Equal(t, "Fabrikam", a.AccountActivity.Account.Name)
		kinds = append(kinds, a.AccountActivity.Kind)
		switch a.AccountActivity.Kind {
		case "timeline.added":
			require.Equal(t, "Welcomed", a.AccountActivity.TimelineEntry.Body)
		case "play_run.started", "play_run.finished":
			require.Equal(t, runID, a.AccountActivity.PlayRun.ID)
		}
	}
	require.Equal(t, []string{"play_run.started", "timeline.added", "play_run.finished"}, kinds)

	// A recorded event, with its contact, reaches the activity feed too.
	env.Do(t, f.ws.AdminToken, `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{{
		"clientEventId": "ev-1", "accountId": f.accountID, "contactEmail": "dana@fabrikam.example", "name": "login",
		"occurredAt": time.Now().UTC().Format(time.RFC3339Nano)}}}).Decode(t, &struct{}{})
	var a activity
	require.NoError(t, json.Unmarshal(collect(t, admin, map[string]int{"activity": 1})["activity"][0], &a))
	require.Equal(t, "event.recorded", a.AccountActivity.Kind)
	require.Equal(t, "login", a.AccountActivity.Event.Name)
	require.Equal(t, "ev-1", a.AccountActivity.Event.ClientEventID)
	require.Equal(t, f.contactID, a.AccountActivity.Event.Contact.ID)

	// The partner's product marks the message displayed: the partner's feed hears it.
	env.Do(t, f.ws.AdminToken, `mutation($id: ID!) { markInAppMessage(id: $id, status: DISPLAYED) { id } }`,
		map[string]any{"id": inApp.InAppMessages.Message.ID}).Decode(t, &struct{}{})
	partner.NextData(t, "inapp", &inApp)
	require.Equal(t, "displayed", inApp.InAppMessages.Kind)
	require.Equal(t, "DISPLAYED", inApp.InAppMessages.Message.Status)
}

// A client that comes back with its last cursor receives every later event once, in log
// order, whether it resumes while the events are still being made (replay, then live) or
// after (replay only) — including two transactions that commit out of the order they began
// writing in.
func TestFeedResumeByCursorExactlyOnceInOrder(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFeedFixture(t, env)
	first := env.ConnectWS(t, f.csmToken)
	first.Subscribe(t, "1", taskFeedQuery, me)
	waitSubscribers(t, env, 1)
	f.createTask(t, "t1")
	f.createTask(t, "t2")
	cursor := nextTask(t, first, "1").Cursor
	require.Equal(t, "t2", nextTask(t, first, "1").Task.Title)
	_ = first.Conn.CloseNow() // gone abruptly
	waitSubscribers(t, env, 0)

	f.createTask(t, "t3")
	live := env.ConnectWS(t, f.csmToken)
	live.Subscribe(t, "1", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}, "after": cursor})
	waitSubscribers(t, env, 1)
	require.Equal(t, []string{"t2", "t3"}, nextTitles(t, live, "1", 2), "replayed")

	// early takes its transaction id first and commits last.
	ctx := context.Background()
	early, err := env.Bun.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer early.Rollback() //nolint:errcheck // committed below
	f.createTaskIn(t, early, "early")
	f.createTask(t, "late")
	require.NoError(t, early.Commit())
	f.createTask(t, "t6")
	require.Equal(t, []string{"early", "late", "t6"}, nextTitles(t, live, "1", 3), "live, in log order")

	after := env.ConnectWS(t, f.csmToken)
	after.Subscribe(t, "1", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}, "after": cursor})
	require.Equal(t, []string{"t2", "t3", "early", "late", "t6"}, nextTitles(t, after, "1", 5), "all replayed")
	f.createTask(t, "t7")
	require.Equal(t, "t7", nextTask(t, after, "1").Task.Title, "then live, with nothing repeated")
	require.Equal(t, "t7", nextTask(t, live, "1").Task.Title)

	// A malformed cursor, and one whose rows were pruned, are refused on `after`.
	c := env.ConnectWS(t, f.csmToken)
	c.Subscribe(t, "bad", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}, "after": "nope"})
	e := subscribeError(t, c, "bad")
	require.Equal(t, "BAD_USER_INPUT", e.Extensions["code"])
	require.Equal(t, "after", e.Extensions["field"])
	_, err = env.Bun.NewDelete().TableExpr("change_log").Where("workspace_id = ?", f.ws.ID).Exec(ctx)
	require.NoError(t, err)
	c.Subscribe(t, "pruned", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}, "after": cursor})
	e = subscribeError(t, c, "pruned")
	require.Equal(t, "after", e.Extensions["field"])
}

func TestRolledBackChangePublishesNothing(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFeedFixture(t, env)
	c := env.ConnectWS(t, f.csmToken)
	c.Subscribe(t, "1", taskFeedQuery, me)
	c.Subscribe(t, "2", `subscription($a: ID!) { accountActivity(accountId: $a) { kind event { clientEventId } } }`,
		map[string]any{"a": f.accountID})
	waitSubscribers(t, env, 2)

	ctx := context.Background()
	tx, err := env.Bun.BeginTx(ctx, nil)
	require.NoError(t, err)
	f.createTaskIn(t, tx, "rolled back")
	require.NoError(t, tx.Rollback())
	// A batch with one bad event is refused whole.
	resp := env.Do(t, f.ws.AdminToken, `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{
		{"clientEventId": "good", "accountId": f.accountID, "name": "login", "occurredAt": time.Now().UTC().Format(time.RFC3339Nano)},
		{"clientEventId": "bad", "accountId": f.accountID, "name": "", "occurredAt": time.Now().UTC().Format(time.RFC3339Nano)}}})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())

	f.createTask(t, "committed")
	require.Equal(t, "committed", nextTask(t, c, "1").Task.Title, "the rolled-back task never arrived")
	env.Do(t, f.ws.AdminToken, `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{
		{"clientEventId": "after", "accountId": f.accountID, "name": "login", "occurredAt": time.Now().UTC().Format(time.RFC3339Nano)}}}).Decode(t, &struct{}{})
	var a struct {
		AccountActivity struct {
			Kind  string
			Event struct{ ClientEventID string }
		} `json:"accountActivity"`
	}
	c.NextData(t, "2", &a)
	require.Equal(t, "after", a.AccountActivity.Event.ClientEventID, "the refused batch never arrived")
}

func TestFeedsNeverCrossWorkspaces(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	mine := newFeedFixture(t, env)
	theirs := newFeedFixture(t, env)
	c := env.ConnectWS(t, mine.ws.AdminToken)
	c.Subscribe(t, "role", taskFeedQuery, map[string]any{"a": map[string]any{"teamRole": "CSM"}})
	waitSubscribers(t, env, 1)

	// Another workspace's account, play, contact or user is not found.
	c.Subscribe(t, "acct", `subscription($a: ID!) { accountActivity(accountId: $a) { kind } }`, map[string]any{"a": theirs.accountID})
	require.Equal(t, "NOT_FOUND", subscribeError(t, c, "acct").Extensions["code"])
	c.Subscribe(t, "contact", `subscription($c: ID!) { inAppMessages(contactId: $c) { kind } }`, map[string]any{"c": theirs.contactID})
	require.Equal(t, "NOT_FOUND", subscribeError(t, c, "contact").Extensions["code"])
	c.Subscribe(t, "user", taskFeedQuery, map[string]any{"a": map[string]any{"userId": theirs.csmGID}})
	require.Equal(t, "assignee.userId", subscribeError(t, c, "user").Extensions["field"])

	// Their CSM-role task never reaches my CSM-role feed; mine does.
	var out struct {
		CreateTask struct{ ID string } `json:"createTask"`
	}
	env.Do(t, theirs.csmToken, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"accountId": theirs.accountID, "title": "theirs", "assignee": map[string]any{"teamRole": "CSM"}}}).Decode(t, &out)
	env.Do(t, mine.csmToken, `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"accountId": mine.accountID, "title": "mine", "assignee": map[string]any{"teamRole": "CSM"}}}).Decode(t, &out)
	require.Equal(t, "mine", nextTask(t, c, "role").Task.Title)
}
