package condition

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/invalid"
)

func TestParseRejects(t *testing.T) {
	t.Parallel()
	acc, con := ScopeAccount, ScopeContact
	deep := `{"field":"account.stage","op":"eq","value":"X"}`
	for range MaxDepth {
		deep = `{"not":` + deep + `}`
	}
	many := make([]string, MaxNodes)
	for i := range many {
		many[i] = `{"field":"account.stage","op":"eq","value":"X"}`
	}
	long := strings.Repeat("é", MaxStringLen+1)
	list := make([]string, MaxListLen+1)
	for i := range list {
		list[i] = fmt.Sprint(i)
	}

	tests := []struct {
		name  string
		scope Scope
		raw   string
		field string
		msg   string
	}{
		{"not JSON", acc, `{"all":[`, "condition", "must be valid JSON"},
		{"trailing data", acc, `{"event":"login","op":"exists"} {}`, "condition", "must be a single JSON value"},
		{"not an object", acc, `[1]`, "condition", "must be an object"},
		{"empty object", acc, `{}`, "condition", "must have one of all, any, not, field, event, eventCount, timeline, playRun or journey"},
		{"unknown key", acc, `{"all":[{"event":"login","op":"exists","extra":1}]}`, "condition.all[0].extra", "is not a known key"},
		{"repeated key", acc, `{"event":"login","op":"exists","op":"notExists"}`, "condition.op", "is repeated"},
		{"two kinds", acc, `{"field":"account.stage","event":"login","op":"exists"}`, "condition.event", "cannot be combined with field in one node"},
		{"group with op", acc, `{"all":[{"event":"login","op":"exists"}],"op":"eq"}`, "condition.op", "is not used by a group"},
		{"empty group", acc, `{"any":[]}`, "condition.any", "must hold at least one condition"},
		{"group not a list", acc, `{"all":{"event":"login","op":"exists"}}`, "condition.all", "must be a list of conditions"},
		{"not not an object", acc, `{"not":[]}`, "condition.not", "must be an object"},
		{"field not a string", acc, `{"field":5,"op":"eq","value":1}`, "condition.field", "must be a string"},
		{"empty op", acc, `{"field":"account.stage","op":"","value":"X"}`, "condition.op", "must not be empty"},
		{"null value", acc, `{"field":"account.stage","op":"eq","value":null}`, "condition.value", "must not be null"},
		{"too deep", acc, deep, "condition" + strings.Repeat(".not", MaxDepth), "is nested deeper than 10 levels"},
		{"too many nodes", acc, `{"all":[` + strings.Join(many, ",") + `]}`, "condition.all[99]", "is beyond the limit of 100 conditions in one tree"},
		{"JSON too deep", acc, strings.Repeat(`{"not":`, 40) + `{}` + strings.Repeat(`}`, 40), "condition" + strings.Repeat(".not", maxJSONDepth), "is nested too deeply"},

		{"playRun not a UUID", acc, `{"all":[{"playRun":"onboarding","op":"exists"}]}`, "condition.all[0].playRun", "must be a play id (a UUID)"},
		{"playRun not a string", con, `{"not":{"playRun":5,"op":"exists"}}`, "condition.not.playRun", "must be a string"},
		{"playRun empty", acc, `{"playRun":"","op":"exists"}`, "condition.playRun", "must not be empty"},
		{"playRun op", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"olderThan","duration":"1d"}`, "condition.op", "must be one of exists, notExists, within for a play run"},
		{"playRun without op", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`, "condition.op", "is required"},
		{"playRun within without duration", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"within"}`, "condition.duration", "is required by op within"},
		{"playRun exists with duration", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"exists","duration":"1d"}`, "condition.duration", "is not used by op exists"},
		{"playRun with value", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"exists","value":true}`, "condition.value", "is not used by op exists"},
		{"playRun bad duration", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"within","duration":"0d"}`, "condition.duration", "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"},
		{"playRun with event", acc, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","event":"login","op":"exists"}`, "condition.playRun", "cannot be combined with event in one node"},

		{"unknown field", acc, `{"all":[{"event":"login","op":"exists"},{"field":"account.mood","op":"eq","value":1}]}`, "condition.all[1].field", "is not a known field"},
		{"contact field in account scope", acc, `{"any":[{"field":"contact.persona","op":"exists"}]}`, "condition.any[0].field", "is a contact field, which an ACCOUNT condition cannot use"},
		{"empty custom key", acc, `{"field":"account.custom.","op":"exists"}`, "condition.field", "custom attribute key must not be empty"},
		{"missing op", acc, `{"field":"account.stage","value":"X"}`, "condition.op", "is required"},
		{"op for another type", acc, `{"field":"account.healthScore","op":"contains","value":5}`, "condition.op", "must be one of eq, neq, in, notIn, lt, lte, gt, gte, exists, notExists for account.healthScore"},
		{"exists on a required field", acc, `{"field":"account.stage","op":"exists"}`, "condition.op", "must be one of eq, neq, in, notIn, contains for account.stage"},
		{"missing value", acc, `{"field":"account.healthScore","op":"lt"}`, "condition.value", "is required by op lt"},
		{"value on exists", acc, `{"field":"account.owner","op":"exists","value":true}`, "condition.value", "is not used by op exists"},
		{"duration on eq", acc, `{"field":"account.stage","op":"eq","value":"X","duration":"1d"}`, "condition.duration", "is not used by op eq"},
		{"missing duration", acc, `{"field":"account.renewalDate","op":"withinNext"}`, "condition.duration", "is required by op withinNext"},
		{"wrong type", acc, `{"all":[{"event":"login","op":"exists"},{"event":"login","op":"exists"},{"field":"account.healthScore","op":"lt","value":"50"}]}`, "condition.all[2].value", wholeNumberMsg},
		{"fraction", acc, `{"field":"account.healthScore","op":"lt","value":49.5}`, "condition.value", wholeNumberMsg},
		{"too big", acc, `{"field":"account.arrMinor","op":"lt","value":9007199254740992}`, "condition.value", wholeNumberMsg},
		{"not a bool", con, `{"field":"contact.emailOptOut","op":"eq","value":"false"}`, "condition.value", "must be true or false"},
		{"not a user id", acc, `{"field":"account.owner","op":"eq","value":"bob"}`, "condition.value", "must be a user id"},
		{"not a date", acc, `{"field":"account.renewalDate","op":"lt","value":"2026-2-1"}`, "condition.value", "must be a date such as 2026-01-31"},
		{"not a time", acc, `{"field":"account.lastLoginAt","op":"lt","value":"yesterday"}`, "condition.value", "must be a time such as 2026-01-31T09:00:00Z"},
		{"nanoseconds", acc, `{"field":"account.lastLoginAt","op":"lt","value":"2026-01-31T09:00:00.1234567Z"}`, "condition.value", "must not be more precise than microseconds"},
		{"string too long", acc, `{"field":"account.stage","op":"eq","value":"` + long + `"}`, "condition.value", "must be at most 200 characters"},
		{"NUL", acc, `{"field":"account.stage","op":"eq","value":"a\u0000b"}`, "condition.value", "must not contain NUL characters"},
		{"empty contains", acc, `{"field":"account.name","op":"contains","value":""}`, "condition.value", "must not be empty"},
		{"in not a list", acc, `{"field":"account.stage","op":"in","value":"X"}`, "condition.value", "must be a list"},
		{"in empty", acc, `{"field":"account.stage","op":"in","value":[]}`, "condition.value", "must hold at least one value"},
		{"in too long", acc, `{"field":"account.healthScore","op":"in","value":[` + strings.Join(list, ",") + `]}`, "condition.value", "must hold at most 100 values"},
		{"in element", con, `{"field":"contact.persona","op":"in","value":["champion",7]}`, "condition.value[1]", "must be a string"},
		{"custom list mixed", acc, `{"field":"account.custom.plan","op":"in","value":["pro",7]}`, "condition.value[1]", "must be a string like the first value"},
		{"custom list of bools", acc, `{"field":"account.custom.plan","op":"in","value":[true]}`, "condition.value[0]", "must be a string or a whole number"},
		{"custom object", acc, `{"field":"account.custom.plan","op":"eq","value":{"a":1}}`, "condition.value", "must be a string, a whole number or a boolean"},
		{"custom lt string", acc, `{"field":"account.custom.plan","op":"lt","value":"b"}`, "condition.value", wholeNumberMsg},

		{"bad duration", acc, `{"event":"login","op":"notWithin","duration":"14 days"}`, "condition.duration", "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"},
		{"zero duration", acc, `{"event":"login","op":"notWithin","duration":"0d"}`, "condition.duration", "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"},
		{"leading zero", acc, `{"event":"login","op":"notWithin","duration":"014d"}`, "condition.duration", "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"},
		{"compound duration", acc, `{"event":"login","op":"notWithin","duration":"1h30m"}`, "condition.duration", "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"},
		{"duration too long", acc, `{"event":"login","op":"notWithin","duration":"122mo"}`, "condition.duration", "must be at most 10 years (3650d)"},
		{"huge duration", acc, `{"event":"login","op":"notWithin","duration":"99999999999s"}`, "condition.duration", "must be at most 10 years (3650d)"},
		{"hours on a date", acc, `{"field":"account.renewalDate","op":"withinNext","duration":"36h"}`, "condition.duration", "must be whole days (d, w or mo) for a date field"},

		{"event name spaces", acc, `{"event":" login","op":"exists"}`, "condition.event", "must not start or end with spaces"},
		{"event op", acc, `{"event":"login","op":"gt","value":3}`, "condition.op", "must be one of within, notWithin, olderThan, exists, notExists for an event"},
		{"timeline kind", acc, `{"timeline":"QBR","op":"exists"}`, "condition.timeline", "must be one of NOTE, CALL, MEETING, EMAIL, BUSINESS_REVIEW, SYSTEM"},
		{"eventCount not an object", acc, `{"eventCount":"login","op":"gt","value":1}`, "condition.eventCount", "must be an object with name and within"},
		{"eventCount unknown key", acc, `{"eventCount":{"name":"login","within":"7d","by":"contact"},"op":"gt","value":1}`, "condition.eventCount.by", "is not a known key"},
		{"eventCount without within", acc, `{"eventCount":{"name":"login"},"op":"gt","value":1}`, "condition.eventCount.within", "is required"},
		{"eventCount bad within", acc, `{"eventCount":{"name":"login","within":"7"},"op":"gt","value":1}`, "condition.eventCount.within", "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"},
		{"eventCount negative", acc, `{"eventCount":{"name":"login","within":"7d"},"op":"gt","value":-1}`, "condition.value", "must not be negative"},
		{"eventCount duration", acc, `{"eventCount":{"name":"login","within":"7d"},"op":"gt","value":1,"duration":"7d"}`, "condition.duration", "is not used by op gt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.raw), tt.scope)
			require.Nil(t, c)
			ie, ok := invalid.As(err)
			require.True(t, ok, "want *invalid.Error, got %v", err)
			require.Equal(t, tt.field, ie.Field)
			require.True(t, strings.HasPrefix(ie.Message, tt.msg), "message %q, want %q", ie.Message, tt.msg)
		})
	}
}

func TestParseLimitsAreInclusive(t *testing.T) {
	t.Parallel()
	deep := `{"field":"account.stage","op":"eq","value":"X"}`
	for range MaxDepth - 1 {
		deep = `{"not":` + deep + `}`
	}
	mustParse(t, deep, ScopeAccount)
	many := make([]string, MaxNodes-1)
	for i := range many {
		many[i] = `{"event":"login","op":"exists"}`
	}
	mustParse(t, `{"any":[`+strings.Join(many, ",")+`]}`, ScopeAccount)
	mustParse(t, `{"field":"account.stage","op":"eq","value":"`+strings.Repeat("é", MaxStringLen)+`"}`, ScopeAccount)
	mustParse(t, `{"event":"login","op":"within","duration":"3650d"}`, ScopeAccount)
	mustParse(t, `{"event":"login","op":"within","duration":"121mo"}`, ScopeAccount)
}

func TestParseNormalises(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, want string }{
		{`{"field":"account.healthScore","op":"lt","value":5.0e1}`, `{"field":"account.healthScore","op":"lt","value":50}`},
		{`{"field":"account.owner","op":"in","value":["6BA7B810-9DAD-11D1-80B4-00C04FD430C8"]}`,
			`{"field":"account.owner","op":"in","value":["6ba7b810-9dad-11d1-80b4-00c04fd430c8"]}`},
		{`{"field":"account.lastLoginAt","op":"gte","value":"2026-01-31T10:00:00.500+01:00"}`,
			`{"field":"account.lastLoginAt","op":"gte","value":"2026-01-31T09:00:00.5Z"}`},
		{`{"field":"account.custom.seats","op":"in","value":[1,2e0]}`, `{"field":"account.custom.seats","op":"in","value":[1,2]}`},
		{` { "not" : { "event" : "login" , "op" : "within" , "duration" : "2w" } } `, `{"not":{"event":"login","op":"within","duration":"2w"}}`},
		{`{"field":"contact.emailOptOut","op":"eq","value":false}`, `{"field":"contact.emailOptOut","op":"eq","value":false}`},
		{`{"field":"account.stage","op":"eq","value":""}`, `{"field":"account.stage","op":"eq","value":""}`},
		{`{"playRun":"6BA7B810-9DAD-11D1-80B4-00C04FD430C8","op":"exists"}`, `{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"exists"}`},
		{`{"op":"within","duration":"30d","playRun":"{6ba7b810-9dad-11d1-80b4-00c04fd430c8}"}`,
			`{"playRun":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","op":"within","duration":"30d"}`},
		{`{"eventCount":{"within":"30d","name":"report_viewed"},"op":"gte","value":5}`,
			`{"eventCount":{"name":"report_viewed","within":"30d"},"op":"gte","value":5}`},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.raw, ScopeContact)
		out, err := json.Marshal(c)
		require.NoError(t, err)
		require.JSONEq(t, tt.want, string(out))
		require.Equal(t, tt.want, string(out), "stored form is stable")
		again := mustParse(t, string(out), ScopeContact)
		require.Equal(t, c.Root(), again.Root())
	}
}

func TestNewFromGo(t *testing.T) {
	t.Parallel()
	root := Node{All: []Node{
		{Field: "account.healthScore", Op: OpIn, Value: []int{40, 50}},
		{Field: "contact.persona", Op: OpEq, Value: "champion"},
		{EventCount: &EventCount{Name: "login", Within: "7d"}, Op: OpGte, Value: 2.0},
	}}
	c, err := New(root, ScopeContact)
	require.NoError(t, err)
	got := c.Root()
	require.Equal(t, []int64{40, 50}, got.All[0].Value)
	require.Equal(t, int64(2), got.All[2].Value)

	// The condition keeps its own copy.
	root.All[1].Value = "changed"
	require.Equal(t, "champion", c.Root().All[1].Value)
	got.All[1].Value = "changed"
	require.Equal(t, "champion", c.Root().All[1].Value)

	_, err = New(root, ScopeAccount)
	ie, ok := invalid.As(err)
	require.True(t, ok)
	require.Equal(t, "condition.all[1].field", ie.Field)

	_, err = New(root, "TEAM")
	require.ErrorContains(t, err, "unknown scope")
	_, ok = invalid.As(err)
	require.False(t, ok, "a bad scope is the caller's bug, not user input")
}

func TestErrorsNestUnderACallerPath(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`{"all":[{"field":"account.nope","op":"eq","value":1}]}`), ScopeAccount)
	ie, ok := invalid.As(invalid.Prefix("input", err))
	require.True(t, ok)
	require.Equal(t, "input.condition.all[0].field", ie.Field)
}
