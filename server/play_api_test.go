package server_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/server/servertest"
)

type apiPlay struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Status        string          `json:"status"`
	Draft         json.RawMessage `json:"draft"`
	LatestVersion int             `json:"latestVersion"`
	TriggerKind   *string         `json:"triggerKind"`
	Published     *struct {
		Version    int             `json:"version"`
		Definition json.RawMessage `json:"definition"`
	} `json:"published"`
	Versions []struct {
		Version int `json:"version"`
	} `json:"versions"`
}

const playFields = `id name status draft latestVersion triggerKind published { version definition } versions { version }`

func TestPlayDefinitionsThroughAPI(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	_, managerToken := ws.AddUser(t, db.RoleManager)
	_, csmToken := ws.AddUser(t, db.RoleCSM)

	example := play.InactiveFourteenDays()
	input := map[string]any{"name": example.Name, "description": example.Description, "scope": string(example.Scope), "definition": json.RawMessage(example.Definition)}
	mutate := func(token, op, args string, vars map[string]any) *servertest.Response {
		return env.Do(t, token, `mutation(`+args+`) { p: `+op+` { `+playFields+` } }`, vars)
	}
	decode := func(resp *servertest.Response) apiPlay {
		var out struct{ P apiPlay }
		resp.Decode(t, &out)
		return out.P
	}

	// A CSM may not author plays; a manager may.
	resp := mutate(csmToken, "createPlay(input: $in)", "$in: CreatePlayInput!", map[string]any{"in": input})
	require.Equal(t, "FORBIDDEN", resp.Code())
	p := decode(mutate(managerToken, "createPlay(input: $in)", "$in: CreatePlayInput!", map[string]any{"in": input}))
	require.Equal(t, "DRAFT", p.Status)
	require.Equal(t, 0, p.LatestVersion)
	require.Nil(t, p.Published)
	require.NotEmpty(t, p.Draft)

	// A bad definition names the path inside it and changes nothing.
	resp = mutate(managerToken, "updatePlay(id: $id, input: $in)", "$id: ID!, $in: UpdatePlayInput!",
		map[string]any{"id": p.ID, "in": map[string]any{"definition": map[string]any{"steps": []any{map[string]any{"id": "w", "kind": "WAIT", "duration": "soon"}}}}})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "input.definition.steps[0].duration", resp.Field())
	resp = mutate(managerToken, "createPlay(input: $in)", "$in: CreatePlayInput!", map[string]any{"in": input})
	require.Equal(t, "CONFLICT", resp.Code(), "names are unique")

	// Publish freezes version 1; editing afterwards makes a draft, publishing again makes version 2.
	p = decode(mutate(managerToken, "publishPlay(id: $id)", "$id: ID!", map[string]any{"id": p.ID}))
	require.Equal(t, "ACTIVE", p.Status)
	require.Equal(t, 1, p.LatestVersion)
	require.Equal(t, "SCHEDULE", *p.TriggerKind)
	require.Equal(t, "null", string(p.Draft))
	require.Equal(t, 1, p.Published.Version)
	p = decode(mutate(managerToken, "updatePlay(id: $id, input: $in)", "$id: ID!, $in: UpdatePlayInput!",
		map[string]any{"id": p.ID, "in": map[string]any{"name": "Inactive two weeks", "definition": json.RawMessage(example.Definition)}}))
	require.Equal(t, "Inactive two weeks", p.Name)
	require.NotEqual(t, "null", string(p.Draft))
	require.Equal(t, 1, p.Published.Version, "a draft changes nothing that runs")
	p = decode(mutate(managerToken, "publishPlay(id: $id)", "$id: ID!", map[string]any{"id": p.ID}))
	require.Equal(t, 2, p.LatestVersion)
	require.Len(t, p.Versions, 2)

	// Pause, resume, archive; archived is final.
	require.Equal(t, "PAUSED", decode(mutate(managerToken, "pausePlay(id: $id)", "$id: ID!", map[string]any{"id": p.ID})).Status)
	require.Equal(t, "ACTIVE", decode(mutate(managerToken, "resumePlay(id: $id)", "$id: ID!", map[string]any{"id": p.ID})).Status)
	require.Equal(t, "ARCHIVED", decode(mutate(managerToken, "archivePlay(id: $id)", "$id: ID!", map[string]any{"id": p.ID})).Status)
	resp = mutate(managerToken, "resumePlay(id: $id)", "$id: ID!", map[string]any{"id": p.ID})
	require.Equal(t, "CONFLICT", resp.Code())

	// Reads: a viewer lists plays; another workspace sees nothing.
	var list struct {
		Plays []apiPlay `json:"plays"`
	}
	env.Do(t, csmToken, `{ plays { `+playFields+` } }`, nil).Decode(t, &list)
	require.Empty(t, list.Plays, "archived plays are left out unless asked for")
	env.Do(t, csmToken, `{ plays(filter: {status: ARCHIVED}) { `+playFields+` } }`, nil).Decode(t, &list)
	require.Len(t, list.Plays, 1)
	other := env.NewWorkspace(t)
	resp = env.Do(t, other.AdminToken, `query($id: ID!) { play(id: $id) { id } }`, map[string]any{"id": p.ID})
	require.Equal(t, "NOT_FOUND", resp.Code())
	resp = env.Do(t, other.AdminToken, `mutation($id: ID!) { pausePlay(id: $id) { id } }`, map[string]any{"id": p.ID})
	require.Equal(t, "NOT_FOUND", resp.Code())
}
