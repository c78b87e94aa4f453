package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
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

// nextTask reads the next taskFeed event of subscription id.
func nextTask(t *testing.T, c *servertest.WSClient, id string) feedTask {
	t.Helper()
	var out struct {
		TaskFeed feedTask `json:"taskFeed"`
	}
	c.NextData(t, id, &out)
	return out.TaskFeed
}

// feedFixture is a workspace with an account owned by a CSM.
type feedFixture struct {
	env       *servertest.Env
	ws        *servertest.Workspace
	csmToken  string
	csmGID    string
	accountID string
}

func newFeedFixture(t *testing.T, env *servertest.Env) *feedFixture {
	t.Helper()
	ws := env.NewWorkspace(t)
	csmID, csmToken := ws.AddUser(t, db.RoleCSM)
	f := &feedFixture{env: env, ws: ws, csmToken: csmToken, csmGID: nodeID("User", csmID)}
	var created struct {
		CreateAccount struct{ ID string } `json:"createAccount"`
	}
	env.Do(t, ws.AdminToken, `mutation($o: ID) { createAccount(input: {name: "Northwind", ownerId: $o}) { id } }`,
		map[string]any{"o": f.csmGID}).Decode(t, &created)
	f.accountID = created.CreateAccount.ID
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

func TestTaskFeedReceivesCreatedTask(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	f := newFeedFixture(t, env)
	c := env.ConnectWS(t, f.csmToken)
	c.Subscribe(t, "1", taskFeedQuery, map[string]any{"a": map[string]any{"me": true}})
	require.Eventually(t, func() bool { return env.Feed.Subscribers() == 1 }, servertest.WSTimeout, 5e6)

	id := f.createTask(t, "Kickoff call")
	ev := nextTask(t, c, "1")
	require.Equal(t, "created", ev.Kind)
	require.Equal(t, "OPEN", ev.Status)
	require.Equal(t, id, ev.Task.ID)
	require.Equal(t, "Kickoff call", ev.Task.Title)
	require.NotEmpty(t, ev.Cursor)

	f.env.Do(t, f.csmToken, `mutation($id: ID!) { completeTask(id: $id) { id } }`, map[string]any{"id": id}).Decode(t, &struct{}{})
	ev = nextTask(t, c, "1")
	require.Equal(t, "completed", ev.Kind)
	require.Equal(t, "DONE", ev.Status)
}
