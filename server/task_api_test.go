package server_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

type apiTask struct {
	ID             string  `json:"id"`
	Title          string  `json:"title"`
	Status         string  `json:"status"`
	Priority       string  `json:"priority"`
	Overdue        bool    `json:"overdue"`
	AssignmentFlag *string `json:"assignmentFlag"`
	Assignee       *struct {
		ID string `json:"id"`
	} `json:"assignee"`
	TeamRole *struct {
		Key string `json:"key"`
	} `json:"teamRole"`
	Account struct {
		Name string `json:"name"`
	} `json:"account"`
}

const taskFields = `id title status priority overdue assignmentFlag assignee { id } teamRole { key } account { name }`

func TestTasksThroughAPI(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	csmID, csmToken := ws.AddUser(t, db.RoleCSM)
	_, viewerToken := ws.AddUser(t, db.RoleViewer)
	csmGID := nodeID("User", csmID)

	var created struct {
		CreateAccount struct{ ID string } `json:"createAccount"`
	}
	env.Do(t, ws.AdminToken, `mutation($o: ID) { createAccount(input: {name: "Northwind", ownerId: $o}) { id } }`,
		map[string]any{"o": csmGID}).Decode(t, &created)
	accountID := created.CreateAccount.ID

	create := func(token string, input map[string]any) (*apiTask, *servertest.Response) {
		resp := env.Do(t, token, `mutation($in: CreateTaskInput!) { createTask(input: $in) { `+taskFields+` } }`, map[string]any{"in": input})
		if len(resp.Errors) > 0 {
			return nil, resp
		}
		var out struct{ CreateTask apiTask }
		resp.Decode(t, &out)
		return &out.CreateTask, resp
	}

	// No assignee: the account owner. A team role nobody holds: the owner too, with the role kept.
	ownerTask, _ := create(csmToken, map[string]any{"accountId": accountID, "title": "Kickoff call", "priority": "HIGH",
		"dueAt": time.Now().Add(-time.Hour).Format(time.RFC3339)})
	require.Equal(t, csmGID, ownerTask.Assignee.ID)
	require.Equal(t, "OPEN", ownerTask.Status)
	require.True(t, ownerTask.Overdue)
	require.Equal(t, "Northwind", ownerTask.Account.Name)
	roleTask, _ := create(csmToken, map[string]any{"accountId": accountID, "title": "Pricing review", "assignee": map[string]any{"teamRole": "SALES"}})
	require.Equal(t, "SALES", roleTask.TeamRole.Key)
	require.Equal(t, csmGID, roleTask.Assignee.ID)

	// Bad input names the field and creates nothing; a viewer cannot create.
	_, resp := create(csmToken, map[string]any{"accountId": accountID, "title": ""})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "input.title", resp.Field())
	_, resp = create(csmToken, map[string]any{"accountId": accountID, "title": "x", "assignee": map[string]any{"teamRole": "NOPE"}})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	_, resp = create(viewerToken, map[string]any{"accountId": accountID, "title": "x"})
	require.Equal(t, "FORBIDDEN", resp.Code())

	list := func(token, filter string) (int, []apiTask) {
		var out struct {
			Tasks struct {
				TotalCount int                      `json:"totalCount"`
				Edges      []struct{ Node apiTask } `json:"edges"`
			} `json:"tasks"`
		}
		env.Do(t, token, `{ tasks(first: 10, filter: `+filter+`) { totalCount edges { node { `+taskFields+` } } } }`, nil).Decode(t, &out)
		var nodes []apiTask
		for _, e := range out.Tasks.Edges {
			nodes = append(nodes, e.Node)
		}
		return out.Tasks.TotalCount, nodes
	}
	n, _ := list(csmToken, `{assignee: {me: true}}`)
	require.Equal(t, 2, n)
	n, _ = list(ws.AdminToken, `{assignee: {me: true}}`)
	require.Equal(t, 0, n)
	n, nodes := list(viewerToken, `{overdue: true}`)
	require.Equal(t, 1, n)
	require.Equal(t, ownerTask.ID, nodes[0].ID)
	n, _ = list(csmToken, `{assignee: {teamRole: "SALES"}}`)
	require.Equal(t, 1, n)

	var counts struct {
		OverdueTaskCounts []struct {
			User  *struct{ ID string } `json:"user"`
			Count int                  `json:"count"`
		} `json:"overdueTaskCounts"`
	}
	env.Do(t, csmToken, `{ overdueTaskCounts(by: ASSIGNEE) { user { id } count } }`, nil).Decode(t, &counts)
	require.Len(t, counts.OverdueTaskCounts, 1)
	require.Equal(t, csmGID, counts.OverdueTaskCounts[0].User.ID)
	require.Equal(t, 1, counts.OverdueTaskCounts[0].Count)

	// Transitions: complete, repeat → CONFLICT on status, reopen, snooze, cancel.
	act := func(mutation, id string, extra string) *servertest.Response {
		return env.Do(t, csmToken, `mutation($id: ID!) { `+mutation+`(id: $id`+extra+`) { status } }`, map[string]any{"id": id})
	}
	var st struct {
		CompleteTask struct{ Status string } `json:"completeTask"`
	}
	act("completeTask", ownerTask.ID, "").Decode(t, &st)
	require.Equal(t, "DONE", st.CompleteTask.Status)
	resp = act("completeTask", ownerTask.ID, "")
	require.Equal(t, "CONFLICT", resp.Code())
	require.Equal(t, "status", resp.Field())
	require.Empty(t, act("reopenTask", ownerTask.ID, "").Errors)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	require.Empty(t, act("snoozeTask", ownerTask.ID, `, until: "`+until+`"`).Errors)
	n, _ = list(csmToken, `{status: [SNOOZED]}`)
	require.Equal(t, 1, n)
	require.Empty(t, act("cancelTask", roleTask.ID, "").Errors)
	n, _ = list(csmToken, `{status: [CANCELLED]}`)
	require.Equal(t, 1, n)

	// Another workspace cannot see or touch these tasks.
	other := env.NewWorkspace(t)
	resp = env.Do(t, other.AdminToken, `query($id: ID!) { task(id: $id) { id } }`, map[string]any{"id": ownerTask.ID})
	require.Equal(t, "NOT_FOUND", resp.Code())
	resp = env.Do(t, other.AdminToken, `mutation($id: ID!) { completeTask(id: $id) { id } }`, map[string]any{"id": ownerTask.ID})
	require.Equal(t, "NOT_FOUND", resp.Code())
	n, _ = list(other.AdminToken, `{}`)
	require.Equal(t, 0, n)
}
