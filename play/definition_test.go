package play

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

// everything is a definition that uses every kind of step, trigger option and default.
const everything = `{
  "trigger": {"kind": "EVENT", "event": "report_viewed", "properties": {"plan": "pro", "seats": 10, "beta": true}},
  "entry": {"field": "contact.persona", "op": "in", "value": ["champion", "admin"]},
  "goal": {"eventSinceStart": "login"},
  "exit": {"any": [{"field": "account.stage", "op": "eq", "value": "CHURNED"}, {"field": "contact.emailOptOut", "op": "eq", "value": true}]},
  "steps": [
    {"kind": "SEND_EMAIL", "to": "CONTACT", "subject": "Hi {{ contact.firstName }}", "body": "From {{owner.name}} <{{owner.email}}>"},
    {"id": "in-app", "kind": "IN_APP_MESSAGE", "to": "CONTACTS_WITH_PERSONA", "personas": ["admin"], "title": "New for {{account.name}}", "body": "b", "style": "MODAL"},
    {"kind": "CREATE_TASK", "title": "Call {{contact.name}}", "assignee": {"kind": "USER", "userId": "6F9619FF-8B86-D011-B42D-00C04FC964FF"}},
    {"kind": "UPDATE_ACCOUNT", "operations": [
      {"op": "setField", "field": "stage", "value": "AT_RISK"},
      {"op": "setField", "field": "renewalDate", "value": "2027-01-31"},
      {"op": "setField", "field": "owner", "value": null},
      {"op": "setCustom", "key": "playbook", "value": {"z": 1, "a": [1.50, "x"]}},
      {"op": "addTag", "tag": "nudged"},
      {"op": "removeTag", "tag": "healthy"}]},
    {"kind": "ADD_TIMELINE_NOTE", "body": "Nudged {{contact.name}}"},
    {"id": "wait-1", "kind": "WAIT", "duration": "90s"},
    {"kind": "WAIT_UNTIL", "until": {"event": "login", "op": "within", "duration": "1d"}, "timeout": "2w", "onTimeout": "EXIT"},
    {"kind": "BRANCH", "if": {"field": "account.healthScore", "op": "lt", "value": 50},
     "then": [{"kind": "WAIT", "duration": "1h"}],
     "else": [{"kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "report_scheduled"}, "interval": "3mo", "maxTimes": 2,
               "steps": [{"kind": "SEND_WEBHOOK", "url": "https://hooks.example.com/steward?x=1",
                          "body": {"who": "{{contact.name}}", "n": 12345678901234567890, "nested": {"b": [true, null], "a": "<&>"}},
                          "headers": {"X-Team": "cs"}, "retries": 0}]}]}
  ]
}`

func TestDefinitionRoundTrip(t *testing.T) {
	t.Parallel()
	docs := map[string]condition.Scope{everything: condition.ScopeContact}
	for _, ex := range Examples() {
		docs[string(ex.Definition)] = ex.Scope
	}
	for raw, scope := range docs {
		d1 := mustParse(t, raw, scope)
		j1 := marshal(t, d1)
		d2 := mustParse(t, j1, scope)
		j2 := marshal(t, d2)
		require.Equal(t, j1, j2, "marshal, parse and marshal again gives the same bytes")
		require.Equal(t, d1.Steps[0].ID, d2.Steps[0].ID)

		// jsonb reorders keys and respaces; the definition reads back the same.
		var fromDB string
		require.NoError(t, dbtest.DB(t).Bun.QueryRowContext(t.Context(), "SELECT ?::jsonb::text", j1).Scan(&fromDB))
		require.NotEqual(t, j1, fromDB)
		require.Equal(t, j1, marshal(t, mustParse(t, fromDB, scope)))
	}
}

func TestDefinitionNormalForm(t *testing.T) {
	t.Parallel()
	d := mustParse(t, everything, condition.ScopeContact)
	var ids []string
	var paths []string
	require.NoError(t, d.Walk(func(path string, s *Step) error {
		ids = append(ids, s.ID)
		paths = append(paths, path)
		return nil
	}))
	// Missing ids are the first free "<kind>-<n>"; "wait-1" was taken by the client.
	require.Equal(t, []string{"send-email-1", "in-app", "create-task-1", "update-account-1", "add-timeline-note-1", "wait-1",
		"wait-until-1", "branch-1", "wait-2", "repeat-until-1", "send-webhook-1"}, ids)
	require.Equal(t, "definition.steps[7].else[0].steps[0]", paths[10])

	// Defaults are written out, values normalised.
	require.Equal(t, Reentry{Policy: ReentryNotWhileActive}, d.Reentry)
	require.Equal(t, PriorityNormal, d.Steps[2].Task.Priority)
	require.Equal(t, "6f9619ff-8b86-d011-b42d-00c04fc964ff", d.Steps[2].Task.Assignee.UserID.String())
	ops := d.Steps[3].Update.Operations
	require.Equal(t, `"AT_RISK"`, string(ops[0].Value))
	require.Equal(t, `null`, string(ops[2].Value))
	require.Equal(t, `{"a":[1.50,"x"],"z":1}`, string(ops[3].Value))
	require.Equal(t, 90*time.Second, d.Steps[5].Wait.Duration.Length())
	require.Equal(t, OnTimeoutExit, d.Steps[6].WaitUntil.OnTimeout)
	hook := d.Steps[7].Branch.Else[0].Repeat.Steps[0].Webhook
	require.Equal(t, `{"n":12345678901234567890,"nested":{"a":"\u003c\u0026\u003e","b":[true,null]},"who":"{{contact.name}}"}`, string(hook.Body))
	require.Equal(t, 0, hook.Retries)
	require.Equal(t, 90*24*time.Hour, d.Steps[7].Branch.Else[0].Repeat.Interval.Length())
	require.Equal(t, map[string]any{"plan": "pro", "seats": json.Number("10"), "beta": true}, d.Trigger.Properties)

	// Defaults of a webhook.
	d = mustParse(t, manual(`{"kind": "SEND_WEBHOOK", "url": "http://example.com"}`), condition.ScopeAccount)
	require.JSONEq(t, `{"id": "send-webhook-1", "kind": "SEND_WEBHOOK", "url": "http://example.com", "body": {}, "retries": 3}`, marshal(t, d.Steps[0]))
}

func TestLocate(t *testing.T) {
	t.Parallel()
	d := mustParse(t, everything, condition.ScopeContact)

	pos, ok := d.Locate("in-app")
	require.True(t, ok)
	require.Nil(t, pos.Parent)
	require.Equal(t, 1, pos.Index)
	require.Equal(t, "create-task-1", pos.List[pos.Index+1].ID)

	pos, ok = d.Locate("send-webhook-1")
	require.True(t, ok)
	require.Equal(t, "repeat-until-1", pos.Parent.ID)
	require.Len(t, pos.List, 1)
	parent, ok := d.Locate(pos.Parent.ID)
	require.True(t, ok)
	require.Equal(t, "branch-1", parent.Parent.ID)
	require.Same(t, &parent.Parent.Branch.Else[0], parent.Step)

	_, ok = d.Locate("nope")
	require.False(t, ok)
}

// activity is an in-memory condition.Activity.
type activity map[string]time.Time

func (a activity) LastEvent(name string) (time.Time, bool) {
	t, ok := a[name]
	return t, ok
}
func (a activity) EventCount(string, time.Time) int        { return 0 }
func (a activity) LastTimeline(string) (time.Time, bool)   { return time.Time{}, false }
func (a activity) with(name string, at time.Time) activity { a[name] = at; return a }
func subject(acc *db.Account, act condition.Activity) condition.Subject {
	return condition.Subject{Account: acc, Activity: act}
}

func (a activity) PlayRuns(uuid.UUID) condition.PlayRunFacts {
	return condition.PlayRunFacts{}
}

func (a activity) Journey(string) condition.JourneyFacts { return condition.JourneyFacts{} }

func TestCheckEventSinceStart(t *testing.T) {
	t.Parallel()
	d := mustParse(t, top(`"goal": {"eventSinceStart": "login"}`), condition.ScopeAccount)
	goal := d.Goal
	require.Equal(t, condition.Needs{Events: []string{"login"}}, goal.Needs(time.Now()))

	started := time.Date(2026, 6, 1, 9, 0, 0, 123_456_789, time.UTC)
	now := started.Add(72 * time.Hour)
	acc := &db.Account{ID: uuid.New()}
	for _, tt := range []struct {
		name string
		act  activity
		want bool
	}{
		{"never logged in", activity{}, false},
		{"last login before the start", activity{}.with("login", started.Add(-time.Hour)), false},
		{"login at the start, to the microsecond", activity{}.with("login", started.Truncate(time.Microsecond)), true},
		{"login after the start", activity{}.with("login", started.Add(time.Minute)), true},
		{"another event after the start", activity{}.with("export", started.Add(time.Minute)), false},
	} {
		got, err := goal.Eval(subject(acc, tt.act), started, now)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, got, tt.name)
	}
	_, err := goal.Eval(condition.Subject{Account: acc}, started, now)
	require.Error(t, err)

	// A condition check evaluates the condition.
	d = mustParse(t, top(`"exit": {"field": "account.stage", "op": "eq", "value": "CHURNED"}`), condition.ScopeAccount)
	got, err := d.Exit.Eval(subject(&db.Account{Stage: "CHURNED"}, nil), started, now)
	require.NoError(t, err)
	require.True(t, got)
}

func TestCheckEventSinceStartOnStoredEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc := &db.Account{Name: "Acme", Stage: "GROWTH", ARRCurrency: "USD", Tags: []string{}, Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InsertAccount(b.ctx, b.db.Bun, b.tenant, acc))
	started := b.clock.Now()
	_, err := db.InsertEvents(b.ctx, b.db.Bun, b.tenant, []*db.Event{{ClientEventID: uuid.NewString(), AccountID: acc.ID, Name: "login",
		OccurredAt: started.Add(-time.Hour), Properties: json.RawMessage(`{}`)}})
	require.NoError(t, err)

	goal := mustParse(t, top(`"goal": {"eventSinceStart": "login"}`), condition.ScopeAccount).Goal
	holds := func() bool {
		now := b.clock.Now()
		s, err := condition.LoadSubject(b.ctx, b.db.Bun, b.tenant, condition.ScopeAccount, acc.ID, goal.Needs(now))
		require.NoError(t, err)
		ok, err := goal.Eval(s, started, now)
		require.NoError(t, err)
		return ok
	}
	require.False(t, holds())
	b.clock.Advance(2 * time.Hour)
	_, err = db.InsertEvents(b.ctx, b.db.Bun, b.tenant, []*db.Event{{ClientEventID: uuid.NewString(), AccountID: acc.ID, Name: "login",
		OccurredAt: started.Add(time.Hour), Properties: json.RawMessage(`{}`)}})
	require.NoError(t, err)
	require.True(t, holds())
}
