package play

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

func TestTriggerMatchesEvent(t *testing.T) {
	t.Parallel()
	trig := mustParse(t, withTrigger(`{"kind": "EVENT", "event": "feature_used", "properties": {"feature": "reports", "seats": 2, "beta": false}}`),
		condition.ScopeAccount).Trigger
	for _, tt := range []struct {
		name  string
		event string
		props string
		want  bool
	}{
		{"all properties equal", "feature_used", `{"feature": "reports", "seats": 2, "beta": false, "other": [1]}`, true},
		{"a number written differently", "feature_used", `{"feature": "reports", "seats": 2.0e0, "beta": false}`, true},
		{"another event", "login", `{"feature": "reports", "seats": 2, "beta": false}`, false},
		{"a property missing", "feature_used", `{"feature": "reports", "seats": 2}`, false},
		{"a number as text", "feature_used", `{"feature": "reports", "seats": "2", "beta": false}`, false},
		{"a different value", "feature_used", `{"feature": "Reports", "seats": 2, "beta": false}`, false},
		{"a null value", "feature_used", `{"feature": "reports", "seats": 2, "beta": null}`, false},
		{"no properties", "feature_used", ``, false},
	} {
		got, err := trig.MatchesEvent(tt.event, json.RawMessage(tt.props))
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, got, tt.name)
	}
	_, err := trig.MatchesEvent("feature_used", json.RawMessage(`[1]`))
	require.Error(t, err)

	anyEvent := mustParse(t, withTrigger(`{"kind": "EVENT", "event": "login"}`), condition.ScopeAccount).Trigger
	ok, err := anyEvent.MatchesEvent("login", nil)
	require.NoError(t, err)
	require.True(t, ok)
	byHand := mustParse(t, withTrigger(`{"kind": "MANUAL"}`), condition.ScopeAccount).Trigger
	ok, err = byHand.MatchesEvent("login", nil)
	require.NoError(t, err)
	require.False(t, ok)
}

func TestTriggerMatchesChange(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	acc := func(stage string) condition.Subject {
		return condition.Subject{Account: &db.Account{ID: uuid.New(), Stage: stage, Custom: json.RawMessage(`{}`)}}
	}
	for _, tt := range []struct {
		name, trigger, before, after string
		want                         bool
	}{
		{"any change", `{"kind": "FIELD_CHANGE", "field": "account.stage"}`, "ONBOARDING", "ADOPTION", true},
		{"to the value", `{"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"}`, "GROWTH", "AT_RISK", true},
		{"to another value", `{"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"}`, "GROWTH", "RENEWAL", false},
		{"from and to", `{"kind": "FIELD_CHANGE", "field": "account.stage", "from": "ONBOARDING", "to": "ADOPTION"}`, "ONBOARDING", "ADOPTION", true},
		{"from another value", `{"kind": "FIELD_CHANGE", "field": "account.stage", "from": "ONBOARDING", "to": "ADOPTION"}`, "GROWTH", "ADOPTION", false},
	} {
		trig := mustParse(t, withTrigger(tt.trigger), condition.ScopeAccount).Trigger
		got, err := trig.MatchesChange(acc(tt.before), acc(tt.after), now)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, got, tt.name)
	}

	// A contact field in a CONTACT play compares the contact.
	trig := mustParse(t, withTrigger(`{"kind": "FIELD_CHANGE", "field": "contact.persona", "to": "champion"}`), condition.ScopeContact).Trigger
	a := &db.Account{ID: uuid.New(), Custom: json.RawMessage(`{}`)}
	contact := func(persona string) condition.Subject {
		return condition.Subject{Account: a, Contact: &db.Contact{AccountID: a.ID, Persona: &persona, Custom: json.RawMessage(`{}`)}}
	}
	got, err := trig.MatchesChange(contact("end-user"), contact("champion"), now)
	require.NoError(t, err)
	require.True(t, got)

	// An account field in a CONTACT play needs only the account.
	trig = mustParse(t, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.healthScore", "from": 80}`), condition.ScopeContact).Trigger
	require.Equal(t, int64(80), trig.From)
	score := 80
	got, err = trig.MatchesChange(condition.Subject{Account: &db.Account{HealthScore: &score}}, condition.Subject{Account: &db.Account{}}, now)
	require.NoError(t, err)
	require.True(t, got)
}

func TestTriggerValuesAreNormalised(t *testing.T) {
	t.Parallel()
	trig := mustParse(t, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.owner", "to": "6F9619FF-8B86-D011-B42D-00C04FC964FF"}`),
		condition.ScopeAccount).Trigger
	require.Equal(t, "6f9619ff-8b86-d011-b42d-00c04fc964ff", trig.To)
	trig = mustParse(t, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.custom.plan", "from": false}`), condition.ScopeAccount).Trigger
	require.Equal(t, false, trig.From)
	require.JSONEq(t, `{"kind": "FIELD_CHANGE", "field": "account.custom.plan", "from": false}`, marshal(t, trig))
}
