package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/server/servertest"
)

// publishPlay creates and publishes a play through the API and returns its id.
func publishPlay(t *testing.T, env *servertest.Env, token, name, scope, definition string) string {
	t.Helper()
	var created struct {
		CreatePlay struct{ ID string } `json:"createPlay"`
	}
	env.Do(t, token, `mutation($in: CreatePlayInput!) { createPlay(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": name, "scope": scope, "definition": rawJSON(definition)}}).Decode(t, &created)
	var published struct {
		PublishPlay struct{ Status string } `json:"publishPlay"`
	}
	env.Do(t, token, `mutation($id: ID!) { publishPlay(id: $id) { status } }`, map[string]any{"id": created.CreatePlay.ID}).Decode(t, &published)
	require.Equal(t, "ACTIVE", published.PublishPlay.Status)
	return created.CreatePlay.ID
}

type apiRun struct {
	ID     string  `json:"id"`
	Status string  `json:"status"`
	Error  *string `json:"error"`
	Steps  []struct {
		StepID    string `json:"stepId"`
		Iteration int    `json:"iteration"`
		Status    string `json:"status"`
	} `json:"steps"`
}

func runsOf(t *testing.T, env *servertest.Env, token, playID string) []apiRun {
	t.Helper()
	var out struct {
		PlayRuns struct {
			Edges []struct{ Node apiRun } `json:"edges"`
		} `json:"playRuns"`
	}
	env.Do(t, token, `query($p: ID) { playRuns(filter: {playId: $p}) { edges { node { id status error steps { stepId iteration status } } } } }`,
		map[string]any{"p": playID}).Decode(t, &out)
	var runs []apiRun
	for _, e := range out.PlayRuns.Edges {
		runs = append(runs, e.Node)
	}
	return runs
}

func TestManualPlayRunsEndToEnd(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	ownerID, _ := ws.AddUser(t, db.RoleCSM)
	accountID, contactID := fxAccountWithContact(t, env, ws, nodeID("User", ownerID))

	// The demo's "Sticky feature best practices", with its week-long wait cut to a second.
	def := strings.Replace(string(play.StickyFeatureBestPractices().Definition), `"1w"`, `"1s"`, 1)
	playID := publishPlay(t, env, ws.AdminToken, "Sticky feature (fast)", "CONTACT", def)

	var launched struct {
		LaunchPlay []apiRun `json:"launchPlay"`
	}
	env.Do(t, ws.AdminToken, `mutation($p: ID!, $s: [ID!]!) { launchPlay(playId: $p, subjectIds: $s) { id status } }`,
		map[string]any{"p": playID, "s": []string{contactID}}).Decode(t, &launched)
	require.Len(t, launched.LaunchPlay, 1)

	require.Eventually(t, func() bool {
		runs := runsOf(t, env, ws.AdminToken, playID)
		return len(runs) == 1 && runs[0].Status == "COMPLETED"
	}, 30*time.Second, 200*time.Millisecond, "the run never completed")
	run := runsOf(t, env, ws.AdminToken, playID)[0]
	require.Len(t, run.Steps, 5)

	// The email went through the outbox to the dev mailbox, once.
	require.Eventually(t, func() bool {
		var box struct {
			Mailbox []struct{ Subject, To string } `json:"mailbox"`
		}
		env.Do(t, ws.AdminToken, `{ mailbox { subject to } }`, nil).Decode(t, &box)
		return len(box.Mailbox) == 1 && strings.Contains(box.Mailbox[0].Subject, "Scheduled reports")
	}, 30*time.Second, 200*time.Millisecond, "the email never reached the dev mailbox")

	// Two call tasks for the owner, and the closing timeline note.
	var tasks struct {
		Tasks struct {
			TotalCount int `json:"totalCount"`
		} `json:"tasks"`
	}
	env.Do(t, ws.AdminToken, `query($a: ID) { tasks(filter: {accountId: $a}) { totalCount } }`, map[string]any{"a": accountID}).Decode(t, &tasks)
	require.Equal(t, 2, tasks.Tasks.TotalCount)

	// Launching on an account (a CONTACT play needs contacts) or another workspace's contact is refused.
	resp := env.Do(t, ws.AdminToken, `mutation($p: ID!, $s: [ID!]!) { launchPlay(playId: $p, subjectIds: $s) { id } }`,
		map[string]any{"p": playID, "s": []string{accountID}})
	require.Equal(t, "BAD_USER_INPUT", resp.Code(), "%+v", resp.Errors)
}

func TestEventTriggeredPlayEndsWhenGoalIsMet(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	ownerID, _ := ws.AddUser(t, db.RoleCSM)
	accountID, _ := fxAccountWithContact(t, env, ws, nodeID("User", ownerID))
	playID := publishPlay(t, env, ws.AdminToken, "Nudge until login", "ACCOUNT", `{
  "trigger": {"kind": "EVENT", "event": "trial_expiring"},
  "goal": {"eventSinceStart": "login"},
  "steps": [{"id": "nudge", "kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1s", "maxTimes": 50,
             "steps": [{"id": "call", "kind": "CREATE_TASK", "title": "Call {{account.name}}", "assignee": {"kind": "OWNER"}}]}]
}`)
	record := func(id, name string) {
		t.Helper()
		var out struct {
			RecordEvents struct{ Accepted int } `json:"recordEvents"`
		}
		env.Do(t, ws.AdminToken, `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{{
			"clientEventId": id, "accountId": accountID, "name": name, "occurredAt": time.Now().UTC().Format(time.RFC3339Nano)}}}).Decode(t, &out)
		require.Equal(t, 1, out.RecordEvents.Accepted)
	}
	record("e1", "trial_expiring")
	runs := runsOf(t, env, ws.AdminToken, playID)
	require.Len(t, runs, 1, "the event started the run in its own request")
	require.Eventually(t, func() bool {
		return len(runsOf(t, env, ws.AdminToken, playID)[0].Steps) >= 2
	}, 30*time.Second, 200*time.Millisecond, "the repeat never ran twice")

	record("e2", "login")
	run := runsOf(t, env, ws.AdminToken, playID)[0]
	require.Equal(t, "GOAL_MET", run.Status, "the login ended the run when it was recorded")

	// A second trigger event starts a new run (the default re-entry: not while one is active).
	record("e3", "trial_expiring")
	require.Len(t, runsOf(t, env, ws.AdminToken, playID), 2)
}

// fxAccountWithContact creates an account owned by ownerID with one contact, through the API,
// and returns both global ids.
func fxAccountWithContact(t *testing.T, env *servertest.Env, ws *servertest.Workspace, ownerID string) (string, string) {
	t.Helper()
	var acct struct {
		CreateAccount struct{ ID string } `json:"createAccount"`
	}
	env.Do(t, ws.AdminToken, `mutation($o: ID) { createAccount(input: {name: "Fabrikam", ownerId: $o}) { id } }`,
		map[string]any{"o": ownerID}).Decode(t, &acct)
	var contact struct {
		CreateContact struct{ ID string } `json:"createContact"`
	}
	env.Do(t, ws.AdminToken, `mutation($a: ID!) { createContact(input: {accountId: $a, name: "Dana Reyes", email: "dana@fabrikam.example"}) { id } }`,
		map[string]any{"a": acct.CreateAccount.ID}).Decode(t, &contact)
	return acct.CreateAccount.ID, contact.CreateContact.ID
}

// rawJSON passes a JSON document as a GraphQL JSON variable.
func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }
