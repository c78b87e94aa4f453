package journey

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/invalid"
)

// fullDefinition is a complete definition using every step kind and a parallel milestone.
const fullDefinition = `{
  "trigger": {"kind": "EVENT", "event": "deal_closed"},
  "milestones": [
    {"name": "Kickoff", "target": "7d", "steps": [
      {"kind": "TASK", "task": {"title": "Hold the kickoff call", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "5d"}},
      {"kind": "SEND_EMAIL", "email": {"to": "CONTACTS", "subject": "Welcome {{contact.firstName}}", "body": "Hello"}}
    ]},
    {"key": "setup", "name": "Technical setup", "target": "14d", "steps": [
      {"key": "connected", "kind": "CHECKPOINT", "condition": {"event": "integration_connected", "op": "exists"}},
      {"kind": "IN_APP_MESSAGE", "message": {"to": "CONTACTS", "title": "Connect", "body": "Connect your data"}}
    ]},
    {"key": "training", "name": "Training", "target": "14d", "parallel": true, "completeWhen": {"field": "account.stage", "op": "eq", "value": "ADOPTION"}, "steps": [
      {"key": "launch", "kind": "LAUNCH_PLAY", "playId": "6f1c1a52-3bd4-4c43-9c55-0b7e7c1e3d10"}
    ]}
  ]
}`

// requireInvalid asserts err is bad input on field with message.
func requireInvalid(t *testing.T, err error, field, message string) {
	t.Helper()
	require.Error(t, err)
	e, ok := invalid.As(err)
	require.True(t, ok, "want *invalid.Error, got %v", err)
	require.Equal(t, field, e.Field, "message: %s", e.Message)
	if message != "" {
		require.Equal(t, message, e.Message)
	}
}

func TestParseDefinitionRoundTrip(t *testing.T) {
	t.Parallel()
	d, err := ParseDefinition([]byte(fullDefinition))
	require.NoError(t, err)
	require.Equal(t, "kickoff", d.Milestones[0].Key)
	require.Equal(t, "hold-the-kickoff-call", d.Milestones[0].Steps[0].Key)
	require.True(t, d.Milestones[0].Steps[0].Required)
	require.Equal(t, "send-email", d.Milestones[0].Steps[1].Key)
	require.False(t, d.Milestones[0].Steps[1].Required)
	require.Equal(t, DefaultStallAfter, d.StallAfter)
	require.Equal(t, DefaultAtRiskShare, d.AtRiskShare)
	require.Equal(t, [][]int{{0}, {1, 2}}, d.Groups())

	stored, err := json.Marshal(d)
	require.NoError(t, err)
	again, err := ParseDefinition(stored)
	require.NoError(t, err)
	restored, err := json.Marshal(again)
	require.NoError(t, err)
	require.JSONEq(t, string(stored), string(restored))
	require.Equal(t, string(stored), string(restored))
}

func TestParseDefinitionRefusals(t *testing.T) {
	t.Parallel()
	task := `{"kind": "TASK", "task": {"title": "Call", "assignee": {"kind": "OWNER"}}}`
	ms := func(steps string) string {
		return `{"trigger": {"kind": "MANUAL"}, "milestones": [{"key": "one", "name": "One", "target": "7d", "steps": [` + steps + `]}]}`
	}
	tests := []struct {
		name, raw, field, message string
	}{
		{"not an object", `[]`, "definition", "must be an object"},
		{"unknown key", `{"trigger": {"kind": "MANUAL"}, "goal": {}}`, "definition.goal", "is not a known key"},
		{"no trigger", `{"milestones": []}`, "definition.trigger", "is required"},
		{"schedule trigger", `{"trigger": {"kind": "SCHEDULE"}}`, "definition.trigger.kind", "must be one of MANUAL, EVENT, FIELD_CHANGE"},
		{"event trigger without event", `{"trigger": {"kind": "EVENT"}}`, "definition.trigger.event", "is required"},
		{"contact field trigger", `{"trigger": {"kind": "FIELD_CHANGE", "field": "contact.persona"}}`, "definition.trigger.field", ""},
		{"no milestones", `{"trigger": {"kind": "MANUAL"}, "milestones": []}`, "definition.milestones", "must hold at least one milestone"},
		{"bad stallAfter", `{"trigger": {"kind": "MANUAL"}, "stallAfter": "2 weeks"}`, "definition.stallAfter", ""},
		{"atRiskShare of 1", `{"trigger": {"kind": "MANUAL"}, "atRiskShare": 1}`, "definition.atRiskShare", "must be a number between 0 and 1 (exclusive)"},
		{"atRiskShare as text", `{"trigger": {"kind": "MANUAL"}, "atRiskShare": "0.5"}`, "definition.atRiskShare", ""},
		{"cooldown without COOLDOWN", `{"trigger": {"kind": "MANUAL"}, "reentry": {"policy": "ONCE", "cooldown": "3d"}}`, "definition.reentry.cooldown", "is only used with the COOLDOWN policy"},
		{"bad milestone key", `{"milestones": [{"key": "Kick Off", "name": "x"}]}`, "definition.milestones[0].key", keyHint},
		{"duplicate milestone key", `{"milestones": [{"key": "a", "name": "x"}, {"key": "a", "name": "y"}]}`, "definition.milestones[1].key", "is already the key of definition.milestones[0]"},
		{"parallel first", `{"milestones": [{"name": "x", "parallel": true}]}`, "definition.milestones[0].parallel", ""},
		{"bad target", `{"milestones": [{"name": "x", "target": "7 days"}]}`, "definition.milestones[0].target", ""},
		{"zero target", `{"milestones": [{"name": "x", "target": "0d"}]}`, "definition.milestones[0].target", ""},
		{"no target", `{"trigger": {"kind": "MANUAL"}, "milestones": [{"name": "x", "steps": [` + task + `]}]}`, "definition.milestones[0].target", "is required"},
		{"no name", `{"trigger": {"kind": "MANUAL"}, "milestones": [{"key": "x", "target": "1d", "steps": [` + task + `]}]}`, "definition.milestones[0].name", "is required"},
		{"nothing completes it", ms(`{"kind": "SEND_EMAIL", "email": {"to": "OWNER", "subject": "Hi", "body": "Hello"}}`), "definition.milestones[0].steps", ""},
		{"optional task only", ms(`{"kind": "TASK", "required": false, "task": {"title": "Call", "assignee": {"kind": "OWNER"}}}`), "definition.milestones[0].steps", ""},
		{"bad completeWhen", `{"milestones": [{"name": "x", "completeWhen": {"field": "account.nope", "op": "eq", "value": 1}}]}`, "definition.milestones[0].completeWhen.field", ""},
		{"unknown step kind", ms(`{"kind": "WAIT"}`), "definition.milestones[0].steps[0].kind", "must be one of TASK, SEND_EMAIL, IN_APP_MESSAGE, LAUNCH_PLAY, CHECKPOINT"},
		{"step without kind", ms(`{"key": "x"}`), "definition.milestones[0].steps[0].kind", "is required"},
		{"task without title", ms(`{"kind": "TASK", "task": {"assignee": {"kind": "OWNER"}}}`), "definition.milestones[0].steps[0].task.title", "is required"},
		{"task without assignee", ms(`{"kind": "TASK", "task": {"title": "Call"}}`), "definition.milestones[0].steps[0].task.assignee", "is required"},
		{"task with contact variable", ms(`{"kind": "TASK", "task": {"title": "Call {{contact.firstName}}", "assignee": {"kind": "OWNER"}}}`), "definition.milestones[0].steps[0].task.title", ""},
		{"task with bad dueIn", ms(`{"kind": "TASK", "task": {"title": "Call", "assignee": {"kind": "OWNER"}, "dueIn": "soon"}}`), "definition.milestones[0].steps[0].task.dueIn", ""},
		{"unknown task key", ms(`{"kind": "TASK", "task": {"title": "Call", "assignee": {"kind": "OWNER"}, "when": "now"}}`), "definition.milestones[0].steps[0].task.when", "is not a known key of tasks"},
		{"task missing", ms(`{"kind": "TASK"}`), "definition.milestones[0].steps[0].task", "is required"},
		{"email on a task", ms(`{"kind": "TASK", "email": {"to": "OWNER"}}`), "definition.milestones[0].steps[0].email", "is not a known key of TASK steps"},
		{"checkpoint without condition", ms(`{"kind": "CHECKPOINT"}`), "definition.milestones[0].steps[0].condition", "is required"},
		{"checkpoint with contact condition", ms(`{"kind": "CHECKPOINT", "condition": {"field": "contact.persona", "op": "eq", "value": "x"}}`), "definition.milestones[0].steps[0].condition.field", ""},
		{"required email", ms(task + `, {"kind": "SEND_EMAIL", "required": true, "email": {"to": "OWNER", "subject": "Hi"}}`), "definition.milestones[0].steps[1].required", ""},
		{"email to CONTACT", ms(task + `, {"kind": "SEND_EMAIL", "email": {"to": "CONTACT", "subject": "Hi"}}`), "definition.milestones[0].steps[1].email.to", ""},
		{"message without title", ms(task + `, {"kind": "IN_APP_MESSAGE", "message": {"to": "CONTACTS"}}`), "definition.milestones[0].steps[1].message.title", "is required"},
		{"launch bad play id", ms(task + `, {"kind": "LAUNCH_PLAY", "playId": "nope"}`), "definition.milestones[0].steps[1].playId", "must be a play id"},
		{"bad step key", ms(`{"key": "-x", "kind": "CHECKPOINT"}`), "definition.milestones[0].steps[0].key", keyHint},
		{"duplicate step key across milestones", `{"milestones": [{"name": "a", "steps": [{"key": "s", "kind": "CHECKPOINT"}]}, {"name": "b", "steps": [{"key": "s", "kind": "TASK"}]}]}`,
			"definition.milestones[1].steps[0].key", "is already the key of definition.milestones[0].steps[0]"},
		{"repeated JSON key", `{"milestones": [], "milestones": []}`, "definition.milestones", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			parse := ParseDefinition
			if !strings.Contains(tt.raw, `"trigger"`) && tt.name != "no trigger" {
				parse = ParseDraft // the case is about something a draft refuses too
			}
			_, err := parse([]byte(tt.raw))
			if tt.message == "is not a known key" {
				tt.message = ""
			}
			requireInvalid(t, err, tt.field, tt.message)
		})
	}
}

func TestParseDraftIsLenient(t *testing.T) {
	t.Parallel()
	d, err := ParseDraft([]byte(`{"milestones": [{"name": "Kickoff"}, {"name": "Kickoff", "steps": [{"kind": "TASK"}, {"kind": "TASK", "task": {"title": "Call the CEO!"}}]}]}`))
	require.NoError(t, err)
	require.Nil(t, d.Trigger)
	require.Equal(t, "kickoff", d.Milestones[0].Key)
	require.Equal(t, "kickoff-2", d.Milestones[1].Key)
	require.Equal(t, "task", d.Milestones[1].Steps[0].Key)
	require.Equal(t, "call-the-ceo", d.Milestones[1].Steps[1].Key)

	// A draft still refuses what is present and wrong.
	_, err = ParseDraft([]byte(`{"milestones": [{"name": "x", "target": "soon"}]}`))
	requireInvalid(t, err, "definition.milestones[0].target", "")
	_, err = ParseDefinition([]byte(`{"milestones": [{"name": "Kickoff"}]}`))
	requireInvalid(t, err, "definition.trigger", "is required")
}

func TestExplicitKeysWinOverGenerated(t *testing.T) {
	t.Parallel()
	d, err := ParseDraft([]byte(`{"milestones": [{"name": "Setup"}, {"key": "setup", "name": "Other"}]}`))
	require.NoError(t, err)
	require.Equal(t, "setup-2", d.Milestones[0].Key)
	require.Equal(t, "setup", d.Milestones[1].Key)
}

func TestGroupsAndLookups(t *testing.T) {
	t.Parallel()
	d, err := ParseDraft([]byte(`{"milestones": [
		{"key": "a", "name": "A"}, {"key": "b", "name": "B"}, {"key": "c", "name": "C", "parallel": true},
		{"key": "d", "name": "D", "parallel": true}, {"key": "e", "name": "E", "steps": [{"key": "s", "kind": "CHECKPOINT"}]}]}`))
	require.NoError(t, err)
	require.Equal(t, [][]int{{0}, {1, 2, 3}, {4}}, d.Groups())
	require.Equal(t, []int{0, 1, 1, 1, 2}, []int{d.GroupOf(0), d.GroupOf(1), d.GroupOf(2), d.GroupOf(3), d.GroupOf(4)})
	m, i, ok := d.Milestone("d")
	require.True(t, ok)
	require.Equal(t, 3, i)
	require.Equal(t, "D", m.Name)
	_, _, ok = d.Milestone("z")
	require.False(t, ok)
	s, in, ok := d.Step("s")
	require.True(t, ok)
	require.Equal(t, StepCheckpoint, s.Kind)
	require.True(t, s.Required)
	require.Equal(t, "e", in.Key)
}

func TestSlug(t *testing.T) {
	t.Parallel()
	require.Equal(t, "onboarding-add-on", Slug("Onboarding — Add-on", "x"))
	require.Equal(t, "x", Slug("  ¡¿ ", "x"))
	require.Equal(t, "kick-off-2026", Slug("Kick off, 2026!", "x"))
	require.LessOrEqual(t, len(Slug(string(make([]byte, 0))+"a very long name that goes on and on and on and on and on", "x")), 50)
}
