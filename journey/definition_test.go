package journey

import (
	"encoding/json"
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
