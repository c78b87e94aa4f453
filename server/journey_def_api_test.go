package server_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

type apiJourneyStep struct {
	Key      string `json:"key"`
	Kind     string `json:"kind"`
	Required bool   `json:"required"`
	Title    *string
	DueIn    *string `json:"dueIn"`
	Assignee *struct {
		Kind     string  `json:"kind"`
		TeamRole *string `json:"teamRole"`
		User     *struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"assignee"`
	Email     json.RawMessage `json:"email"`
	Condition json.RawMessage `json:"condition"`
	Play      *struct {
		Name string `json:"name"`
	} `json:"play"`
}

type apiJourneyDefinition struct {
	Trigger     json.RawMessage `json:"trigger"`
	StallAfter  string          `json:"stallAfter"`
	AtRiskShare float64         `json:"atRiskShare"`
	Milestones  []struct {
		Key            string           `json:"key"`
		Name           string           `json:"name"`
		TargetDuration *string          `json:"targetDuration"`
		Parallel       bool             `json:"parallel"`
		Group          int              `json:"group"`
		CompleteWhen   json.RawMessage  `json:"completeWhen"`
		Steps          []apiJourneyStep `json:"steps"`
	} `json:"milestones"`
	JSON json.RawMessage `json:"json"`
}

type apiJourney struct {
	ID            string                `json:"id"`
	Key           string                `json:"key"`
	Name          string                `json:"name"`
	Stage         string                `json:"stage"`
	Status        string                `json:"status"`
	LatestVersion int                   `json:"latestVersion"`
	TriggerKind   *string               `json:"triggerKind"`
	Draft         *apiJourneyDefinition `json:"draft"`
	Published     *struct {
		Version     int                  `json:"version"`
		Definition  apiJourneyDefinition `json:"definition"`
		PublishedBy *struct {
			ID string `json:"id"`
		} `json:"publishedBy"`
	} `json:"published"`
	Versions []struct {
		Version int `json:"version"`
	} `json:"versions"`
	CopiedFrom *struct {
		ID string `json:"id"`
	} `json:"copiedFrom"`
	CopiedFromVersion *int `json:"copiedFromVersion"`
}

const journeyDefinitionFields = `trigger stallAfter atRiskShare json milestones { key name targetDuration parallel group completeWhen
  steps { key kind required title dueIn assignee { kind teamRole user { id } } email condition play { name } } }`

const journeyFields = `id key name stage status latestVersion triggerKind draft { ` + journeyDefinitionFields + ` }
  published { version definition { ` + journeyDefinitionFields + ` } publishedBy { id } } versions { version }
  copiedFrom { id } copiedFromVersion`

func TestJourneyDefinitionsThroughAPI(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	_, managerToken := ws.AddUser(t, db.RoleManager)
	csmID, csmToken := ws.AddUser(t, db.RoleCSM)
	_, viewerToken := ws.AddUser(t, db.RoleViewer)

	do := func(token, op, args string, vars map[string]any) *servertest.Response {
		return env.Do(t, token, `mutation(`+args+`) { j: `+op+` { `+journeyFields+` } }`, vars)
	}
	decode := func(resp *servertest.Response) apiJourney {
		var out struct{ J apiJourney }
		resp.Decode(t, &out)
		return out.J
	}
	create := map[string]any{"in": map[string]any{"name": "Onboarding", "stage": "ONBOARDING", "description": "From closed deal to go-live"}}

	// A CSM may read journeys but not author them; a viewer may not read them.
	resp := do(csmToken, "createJourney(input: $in)", "$in: CreateJourneyInput!", create)
	require.Equal(t, "FORBIDDEN", resp.Code())
	resp = env.Do(t, viewerToken, `{ journeys { id } }`, nil)
	require.Equal(t, "FORBIDDEN", resp.Code())

	j := decode(do(managerToken, "createJourney(input: $in)", "$in: CreateJourneyInput!", create))
	require.Equal(t, "onboarding", j.Key)
	require.Equal(t, "DRAFT", j.Status)
	require.NotNil(t, j.Draft)
	require.Empty(t, j.Draft.Milestones)
	require.Nil(t, j.Published)
	resp = do(managerToken, "createJourney(input: $in)", "$in: CreateJourneyInput!", create)
	require.Equal(t, "CONFLICT", resp.Code())
	require.Equal(t, "input.name", resp.Field())
	resp = do(managerToken, "createJourney(input: $in)", "$in: CreateJourneyInput!",
		map[string]any{"in": map[string]any{"name": "Other", "stage": "onboarding"}})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "input.stage", resp.Field())

	id := map[string]any{"id": j.ID}
	with := func(extra map[string]any) map[string]any {
		out := map[string]any{"id": j.ID}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	addMilestone := func(in map[string]any, position any) *servertest.Response {
		return do(managerToken, "addMilestone(journeyId: $id, input: $in, position: $pos)", "$id: ID!, $in: MilestoneInput!, $pos: Int",
			with(map[string]any{"in": in, "pos": position}))
	}
	addStep := func(milestone string, in map[string]any) *servertest.Response {
		return do(managerToken, "addJourneyStep(journeyId: $id, milestoneKey: $m, input: $in)", "$id: ID!, $m: String!, $in: JourneyStepInput!",
			with(map[string]any{"m": milestone, "in": in}))
	}
	decode(addMilestone(map[string]any{"name": "Kickoff", "targetDuration": "7d"}, nil))
	decode(addMilestone(map[string]any{"name": "Go live", "targetDuration": "30d",
		"completeWhen": map[string]any{"field": "account.stage", "op": "eq", "value": "ADOPTION"}}, nil))
	j = decode(addMilestone(map[string]any{"key": "setup", "name": "Technical setup", "targetDuration": "14d"}, 1))
	require.Equal(t, "setup", j.Draft.Milestones[1].Key)
	require.Equal(t, "go-live", j.Draft.Milestones[2].Key)
	require.JSONEq(t, `{"field": "account.stage", "op": "eq", "value": "ADOPTION"}`, string(j.Draft.Milestones[2].CompleteWhen))

	// Errors name the argument or the path in the definition, and change nothing.
	resp = addMilestone(map[string]any{"name": "Extra", "targetDuration": "soon"}, nil)
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "definition.milestones[3].target", resp.Field())
	resp = addMilestone(map[string]any{"name": "Extra"}, 7)
	require.Equal(t, "position", resp.Field())
	resp = addStep("nope", map[string]any{"kind": "CHECKPOINT"})
	require.Equal(t, "milestoneKey", resp.Field())
	resp = addStep("kickoff", map[string]any{"kind": "TASK", "task": map[string]any{"title": "Call", "assignee": map[string]any{"kind": "NOBODY"}}})
	require.Equal(t, "definition.milestones[0].steps[0].task.assignee.kind", resp.Field())
	resp = addStep("kickoff", map[string]any{"kind": "LAUNCH_PLAY", "playId": j.ID})
	require.Equal(t, "input.playId", resp.Field())

	decode(addStep("kickoff", map[string]any{"kind": "TASK", "task": map[string]any{
		"title": "Kickoff call", "assignee": map[string]any{"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "3d"}}))
	decode(addStep("kickoff", map[string]any{"key": "handover", "kind": "TASK", "task": map[string]any{
		"title": "Sales handover", "assignee": map[string]any{"kind": "USER", "userId": csmID.String()}}}))
	decode(addStep("kickoff", map[string]any{"key": "welcome", "kind": "SEND_EMAIL", "email": map[string]any{
		"to": "CONTACTS", "subject": "Welcome aboard", "body": "Hi {{contact.firstName}}"}}))
	j = decode(addStep("setup", map[string]any{"key": "connected", "kind": "CHECKPOINT",
		"condition": map[string]any{"event": "integration_connected", "op": "exists"}}))
	var created struct {
		P struct{ ID string } `json:"p"`
	}
	env.Do(t, managerToken, `mutation($in: CreatePlayInput!) { p: createPlay(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": "Go-live check", "scope": "ACCOUNT"}}).Decode(t, &created)
	j = decode(addStep("go-live", map[string]any{"key": "launch-check", "kind": "LAUNCH_PLAY", "playId": created.P.ID}))
	require.Equal(t, "Go-live check", j.Draft.Milestones[2].Steps[0].Play.Name)
	require.False(t, j.Draft.Milestones[2].Steps[0].Required)
	decode(addStep("go-live", map[string]any{"key": "live", "kind": "CHECKPOINT",
		"condition": map[string]any{"field": "account.stage", "op": "eq", "value": "ADOPTION"}}))
	steps := j.Draft.Milestones[0].Steps
	require.Len(t, steps, 3)
	require.Equal(t, "kickoff-call", steps[0].Key)
	require.Equal(t, "Kickoff call", *steps[0].Title)
	require.Equal(t, "3d", *steps[0].DueIn)
	require.Equal(t, "CSM", *steps[0].Assignee.TeamRole)
	require.True(t, steps[0].Required)
	require.Equal(t, "USER", steps[1].Assignee.Kind)
	require.NotNil(t, steps[1].Assignee.User)
	require.False(t, steps[2].Required)
	require.Nil(t, steps[2].Title)
	require.Contains(t, string(steps[2].Email), "Welcome aboard")

	// Reorder and change steps, then the settings.
	j = decode(do(managerToken, "moveJourneyStep(journeyId: $id, key: $k, toMilestoneKey: $m, position: $p)", "$id: ID!, $k: String!, $m: String!, $p: Int!",
		with(map[string]any{"k": "welcome", "m": "kickoff", "p": 0})))
	require.Equal(t, "welcome", j.Draft.Milestones[0].Steps[0].Key)
	j = decode(do(managerToken, "updateJourneyStep(journeyId: $id, key: $k, input: $in)", "$id: ID!, $k: String!, $in: UpdateJourneyStepInput!",
		with(map[string]any{"k": "handover", "in": map[string]any{"task": map[string]any{"assignee": map[string]any{"kind": "TEAM_ROLE", "teamRole": "SALES"}}}})))
	require.Equal(t, "SALES", *j.Draft.Milestones[0].Steps[2].Assignee.TeamRole)
	require.Equal(t, "Sales handover", *j.Draft.Milestones[0].Steps[2].Title)
	j = decode(do(managerToken, "updateMilestone(journeyId: $id, key: $k, input: $in)", "$id: ID!, $k: String!, $in: UpdateMilestoneInput!",
		with(map[string]any{"k": "go-live", "in": map[string]any{"parallel": true}})))
	require.Equal(t, []int{0, 1, 1}, []int{j.Draft.Milestones[0].Group, j.Draft.Milestones[1].Group, j.Draft.Milestones[2].Group})
	j = decode(do(managerToken, "moveMilestone(journeyId: $id, key: $k, position: $p)", "$id: ID!, $k: String!, $p: Int!",
		with(map[string]any{"k": "go-live", "p": 2})))
	resp = do(managerToken, "publishJourney(id: $id)", "$id: ID!", id)
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "definition.trigger", resp.Field())
	j = decode(do(managerToken, "updateJourneySettings(id: $id, input: $in)", "$id: ID!, $in: JourneySettingsInput!",
		with(map[string]any{"in": map[string]any{"trigger": map[string]any{"kind": "EVENT", "event": "deal_closed"}, "stallAfter": "10d", "atRiskShare": 0.6}})))
	require.JSONEq(t, `{"kind": "EVENT", "event": "deal_closed"}`, string(j.Draft.Trigger))
	require.Equal(t, "10d", j.Draft.StallAfter)

	// Publish freezes version 1; an edit afterwards is a draft that changes nothing published.
	j = decode(do(managerToken, "publishJourney(id: $id)", "$id: ID!", id))
	require.Equal(t, "ACTIVE", j.Status)
	require.Equal(t, 1, j.LatestVersion)
	require.Equal(t, "EVENT", *j.TriggerKind)
	require.Nil(t, j.Draft)
	require.Equal(t, 1, j.Published.Version)
	require.Len(t, j.Published.Definition.Milestones, 3)
	require.NotNil(t, j.Published.PublishedBy)
	require.Equal(t, viewerUserGlobalID(t, env, managerToken), j.Published.PublishedBy.ID)
	j = decode(do(managerToken, "deleteJourneyStep(journeyId: $id, key: $k)", "$id: ID!, $k: String!", with(map[string]any{"k": "welcome"})))
	require.Len(t, j.Draft.Milestones[0].Steps, 2)
	require.Len(t, j.Published.Definition.Milestones[0].Steps, 3)
	j = decode(do(managerToken, "discardJourneyDraft(id: $id)", "$id: ID!", id))
	require.Nil(t, j.Draft)

	// Copy: a new draft from version 1, independent of the original.
	cp := decode(do(managerToken, "copyJourney(id: $id, name: $name)", "$id: ID!, $name: String!", with(map[string]any{"name": "Onboarding — Analytics add-on"})))
	require.Equal(t, "onboarding-analytics-add-on", cp.Key)
	require.Equal(t, "DRAFT", cp.Status)
	require.Equal(t, j.ID, cp.CopiedFrom.ID)
	require.Equal(t, 1, *cp.CopiedFromVersion)
	require.Len(t, cp.Draft.Milestones, 3)
	cp = decode(do(managerToken, "addMilestone(journeyId: $id, input: $in)", "$id: ID!, $in: MilestoneInput!",
		map[string]any{"id": cp.ID, "in": map[string]any{"name": "Add-on configuration", "targetDuration": "7d"}}))
	require.Len(t, cp.Draft.Milestones, 4)
	resp = do(managerToken, "publishJourney(id: $id)", "$id: ID!", map[string]any{"id": cp.ID})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "definition.milestones[3].steps", resp.Field(), "the new milestone has nothing that completes it")
	decode(do(managerToken, "addJourneyStep(journeyId: $id, milestoneKey: $m, input: $in)", "$id: ID!, $m: String!, $in: JourneyStepInput!",
		map[string]any{"id": cp.ID, "m": "add-on-configuration", "in": map[string]any{"kind": "CHECKPOINT",
			"condition": map[string]any{"event": "addon_configured", "op": "exists"}}}))
	cp = decode(do(managerToken, "publishJourney(id: $id)", "$id: ID!", map[string]any{"id": cp.ID}))
	require.Equal(t, "ACTIVE", cp.Status)
	resp = do(managerToken, "publishJourney(id: $id)", "$id: ID!", map[string]any{"id": cp.ID})
	require.Equal(t, "CONFLICT", resp.Code(), "nothing left to publish")
	require.Equal(t, "status", resp.Field())

	// Reads.
	var list struct{ Journeys []apiJourney }
	env.Do(t, csmToken, `query { journeys(stage: "ONBOARDING") { `+journeyFields+` } }`, nil).Decode(t, &list)
	require.Len(t, list.Journeys, 2)
	require.Len(t, list.Journeys[0].Published.Definition.Milestones[0].Steps, 3, "the original is unchanged by its copy")
	var node struct {
		Node struct {
			Key string `json:"key"`
		} `json:"node"`
	}
	env.Do(t, csmToken, `query($id: ID!) { node(id: $id) { ... on Journey { key } } }`, id).Decode(t, &node)
	require.Equal(t, "onboarding", node.Node.Key)

	// Status changes; another workspace sees nothing.
	require.Equal(t, "PAUSED", decode(do(managerToken, "pauseJourney(id: $id)", "$id: ID!", id)).Status)
	require.Equal(t, "ACTIVE", decode(do(managerToken, "resumeJourney(id: $id)", "$id: ID!", id)).Status)
	require.Equal(t, "ARCHIVED", decode(do(managerToken, "archiveJourney(id: $id)", "$id: ID!", id)).Status)
	resp = do(managerToken, "resumeJourney(id: $id)", "$id: ID!", id)
	require.Equal(t, "CONFLICT", resp.Code())
	other := env.NewWorkspace(t)
	resp = env.Do(t, other.AdminToken, `query($id: ID!) { journey(id: $id) { id } }`, id)
	require.Equal(t, "NOT_FOUND", resp.Code())
	resp = env.Do(t, other.AdminToken, `mutation($id: ID!) { pauseJourney(id: $id) { id } }`, id)
	require.Equal(t, "NOT_FOUND", resp.Code())
}

// viewerUserGlobalID returns the API id of the token's user.
func viewerUserGlobalID(t *testing.T, env *servertest.Env, token string) string {
	t.Helper()
	var me struct {
		Me struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"me"`
	}
	env.Do(t, token, `{ me { user { id } } }`, nil).Decode(t, &me)
	return me.Me.User.ID
}
