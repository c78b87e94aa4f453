package play

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
)

// manual wraps steps (JSON objects separated by commas) in a complete MANUAL definition.
func manual(steps string) string {
	return `{"trigger": {"kind": "MANUAL"}, "steps": [` + steps + `]}`
}

// withTrigger is a complete definition with one WAIT step and trigger.
func withTrigger(trigger string) string {
	return `{"trigger": ` + trigger + `, "steps": [{"kind": "WAIT", "duration": "1d"}]}`
}

// top is a complete MANUAL definition with one WAIT step and the given top-level members.
func top(members string) string {
	return `{"trigger": {"kind": "MANUAL"}, "steps": [` + wait + `], ` + members + `}`
}

const wait = `{"kind": "WAIT", "duration": "1d"}`

const durationHint = "must be a duration such as 30s, 15m, 12h, 14d, 2w or 3mo"

func TestParseDefinitionRefusesBadInput(t *testing.T) {
	t.Parallel()
	const A, C = condition.ScopeAccount, condition.ScopeContact
	tests := []struct {
		name    string
		scope   condition.Scope
		raw     string
		field   string
		message string
	}{
		// Documents.
		{"not JSON", A, `{"trigger": `, "definition", "must be valid JSON (error near byte 11)"},
		{"not an object", A, `[]`, "definition", "must be an object"},
		{"trailing data", A, manual(wait) + ` {}`, "definition", "must be a single JSON value"},
		{"unknown key", A, `{"trigger": {"kind": "MANUAL"}, "stepz": []}`, "definition.stepz", "is not a known key"},
		{"repeated key", A, `{"steps": [], "steps": []}`, "definition.steps", "is repeated"},
		{"no trigger", A, `{"steps": [` + wait + `]}`, "definition.trigger", "is required"},
		{"no steps", A, `{"trigger": {"kind": "MANUAL"}}`, "definition.steps", "must hold at least one step"},
		{"empty steps", A, manual(``), "definition.steps", "must hold at least one step"},
		{"steps not a list", A, `{"trigger": {"kind": "MANUAL"}, "steps": {}}`, "definition.steps", "must be a list of steps"},

		// Triggers.
		{"trigger without kind", A, withTrigger(`{}`), "definition.trigger.kind", "is required"},
		{"unknown trigger", A, withTrigger(`{"kind": "WEBHOOK"}`), "definition.trigger.kind", "must be one of MANUAL, EVENT, FIELD_CHANGE, SCHEDULE, JOURNEY"},
		{"journey trigger without its journey", A, withTrigger(`{"kind": "JOURNEY"}`), "definition.trigger.journey", "is required"},
		{"trigger kind of wrong type", A, withTrigger(`{"kind": 1}`), "definition.trigger.kind", "must be a string"},
		{"manual with an event", A, withTrigger(`{"kind": "MANUAL", "event": "login"}`), "definition.trigger.event", "is not a known key of MANUAL triggers"},
		{"event without a name", A, withTrigger(`{"kind": "EVENT"}`), "definition.trigger.event", "is required"},
		{"event name with spaces around", A, withTrigger(`{"kind": "EVENT", "event": " login"}`), "definition.trigger.event", "must not start or end with spaces"},
		{"event property of wrong type", A, withTrigger(`{"kind": "EVENT", "event": "report_viewed", "properties": {"filters": {"a": 1}}}`),
			"definition.trigger.properties.filters", "must be a string, a number or a boolean"},
		{"event properties not an object", A, withTrigger(`{"kind": "EVENT", "event": "x", "properties": ["a"]}`), "definition.trigger.properties", "must be an object"},
		{"field change without a field", A, withTrigger(`{"kind": "FIELD_CHANGE", "to": "GROWTH"}`), "definition.trigger.field", "is required"},
		{"field change on an unknown field", A, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.lastLoginAt"}`), "definition.trigger.field",
			"must be a field a change can start a play on: account.name, account.domain, account.stage, account.healthScore, account.arrMinor, " +
				"account.arrCurrency, account.renewalDate, account.owner, account.tags, contact.name, contact.email, contact.title, " +
				"contact.persona, contact.emailOptOut, account.custom.<key> or contact.custom.<key>"},
		{"contact field in an ACCOUNT play", A, withTrigger(`{"kind": "FIELD_CHANGE", "field": "contact.persona"}`), "definition.trigger.field",
			"is a contact field, which an ACCOUNT play cannot use"},
		{"from of the wrong type", A, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.healthScore", "from": "high"}`), "definition.trigger.from",
			"must be a whole number between -9007199254740991 and 9007199254740991"},
		{"to of the wrong type", C, withTrigger(`{"kind": "FIELD_CHANGE", "field": "contact.emailOptOut", "to": "yes"}`), "definition.trigger.to",
			"must be true or false"},
		{"to on tags", A, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.tags", "to": "vip"}`), "definition.trigger.to", "is not supported on account.tags"},
		{"custom key with spaces around", A, withTrigger(`{"kind": "FIELD_CHANGE", "field": "account.custom. plan"}`), "definition.trigger.field",
			"custom attribute key must not start or end with spaces"},
		{"schedule without a condition", A, withTrigger(`{"kind": "SCHEDULE"}`), "definition.trigger.condition", "is required"},
		{"schedule with a bad duration", A,
			withTrigger(`{"kind": "SCHEDULE", "condition": {"all": [{"event": "login", "op": "notWithin", "duration": "14 days"}]}}`),
			"definition.trigger.condition.all[0].duration", durationHint},

		// Entry, re-entry, goal and exit.
		{"entry on a contact field in an ACCOUNT play", A, top(`"entry": {"field": "contact.persona", "op": "eq", "value": "admin"}`),
			"definition.entry.field", "is a contact field, which an ACCOUNT condition cannot use"},
		{"entry with an unknown key", A, top(`"entry": {"field": "account.stage", "op": "eq", "value": "GROWTH", "extra": 1}`),
			"definition.entry.extra", "is not a known key"},
		{"cooldown without its duration", A, top(`"reentry": {"policy": "COOLDOWN"}`), "definition.reentry.cooldown", "is required"},
		{"cooldown with another policy", A, top(`"reentry": {"policy": "ONCE", "cooldown": "1d"}`), "definition.reentry.cooldown",
			"is only used with the COOLDOWN policy"},
		{"bad cooldown", A, top(`"reentry": {"policy": "COOLDOWN", "cooldown": "0d"}`), "definition.reentry.cooldown", durationHint},
		{"cooldown of wrong type", A, top(`"reentry": {"policy": "COOLDOWN", "cooldown": 30}`), "definition.reentry.cooldown", durationHint},
		{"unknown policy", A, top(`"reentry": {"policy": "ALWAYS"}`), "definition.reentry.policy", "must be one of ONCE, NOT_WHILE_ACTIVE, COOLDOWN"},
		{"eventSinceStart with more keys", A, top(`"goal": {"eventSinceStart": "login", "op": "exists"}`), "definition.goal.op",
			"cannot be combined with eventSinceStart"},
		{"eventSinceStart of wrong type", A, top(`"goal": {"eventSinceStart": 1}`), "definition.goal.eventSinceStart", "must be a string"},
		{"empty eventSinceStart", A, top(`"goal": {"eventSinceStart": ""}`), "definition.goal.eventSinceStart", "must not be empty"},
		{"exit with a bad condition", A, top(`"exit": {"timeline": "LUNCH", "op": "exists"}`), "definition.exit.timeline",
			"must be one of NOTE, CALL, MEETING, EMAIL, BUSINESS_REVIEW, SYSTEM"},

		// Steps in general.
		{"step not an object", A, manual(`"wait"`), "definition.steps[0]", "must be an object"},
		{"step without a kind", A, manual(`{"id": "a"}`), "definition.steps[0].kind", "is required"},
		{"unknown step kind", A, manual(`{"kind": "SEND_SMS"}`), "definition.steps[0].kind",
			"must be one of SEND_EMAIL, IN_APP_MESSAGE, CREATE_TASK, UPDATE_ACCOUNT, ADD_TIMELINE_NOTE, WAIT, WAIT_UNTIL, BRANCH, REPEAT_UNTIL, SEND_WEBHOOK, ENROLL_IN_JOURNEY"},
		{"journey step without its journey", A, manual(`{"kind": "ENROLL_IN_JOURNEY"}`), "definition.steps[0].journey", "is required"},
		{"journey step with a bad key", C, manual(`{"kind": "ENROLL_IN_JOURNEY", "journey": "Onboarding"}`), "definition.steps[0].journey",
			"must be a journey key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{"journey step with another kind's key", A, manual(`{"kind": "ENROLL_IN_JOURNEY", "journey": "onboarding", "title": "x"}`),
			"definition.steps[0].title", "is not a known key of ENROLL_IN_JOURNEY steps"},
		{"key of another kind", A, manual(`{"kind": "WAIT", "duration": "1d", "subject": "Hi"}`), "definition.steps[0].subject",
			"is not a known key of WAIT steps"},
		{"bad id", A, manual(`{"id": "Call Them", "kind": "WAIT", "duration": "1d"}`), "definition.steps[0].id",
			"must be 1 to 41 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{"id too long", A, manual(`{"id": "` + strings.Repeat("a", 42) + `", "kind": "WAIT", "duration": "1d"}`), "definition.steps[0].id",
			"must be 1 to 41 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{"repeated id in a nested list", A, manual(`{"id": "a", "kind": "WAIT", "duration": "1d"},
			{"kind": "BRANCH", "if": {"field": "account.stage", "op": "eq", "value": "GROWTH"}, "then": [{"id": "a", "kind": "WAIT", "duration": "1d"}]}`),
			"definition.steps[1].then[0].id", "is already the id of definition.steps[0]"},
		{"name too long", A, manual(`{"kind": "WAIT", "duration": "1d", "name": "` + strings.Repeat("x", 201) + `"}`), "definition.steps[0].name",
			"must be at most 200 characters"},
		{"wait without a duration", A, manual(`{"kind": "WAIT"}`), "definition.steps[0].duration", "is required"},
		{"wait of a number", A, manual(`{"kind": "WAIT", "duration": 3}`), "definition.steps[0].duration", durationHint},
		{"wait too long", A, manual(`{"kind": "WAIT", "duration": "3651d"}`), "definition.steps[0].duration", "must be at most 10 years (3650d)"},

		// Emails and messages.
		{"unknown variable", A, manual(wait + `, ` + wait + `, {"kind": "SEND_EMAIL", "to": "CONTACTS", "subject": "Hi {{contact.lastName}}", "body": "b"}`),
			"definition.steps[2].subject",
			"uses the unknown variable {{contact.lastName}}; the variables are contact.firstName, contact.name, account.name, owner.name, owner.email"},
		{"unclosed variable", A, manual(`{"kind": "SEND_EMAIL", "to": "CONTACTS", "subject": "s", "body": "Hi {{contact.firstName"}`),
			"definition.steps[0].body", "has a {{ without a closing }}"},
		{"contact variable in an email to the owner of an ACCOUNT play", A,
			manual(`{"kind": "SEND_EMAIL", "to": "OWNER", "subject": "{{contact.firstName}} went quiet", "body": "b"}`), "definition.steps[0].subject",
			"uses {{contact.firstName}}, but this step of an ACCOUNT play has no contact (only messages to contacts do)"},
		{"contact variable in a task of an ACCOUNT play", A,
			manual(`{"kind": "CREATE_TASK", "title": "Call {{contact.name}}", "assignee": {"kind": "OWNER"}}`), "definition.steps[0].title",
			"uses {{contact.name}}, but this step of an ACCOUNT play has no contact (only messages to contacts do)"},
		{"email to the contact of an ACCOUNT play", A, manual(`{"kind": "SEND_EMAIL", "to": "CONTACT", "subject": "s", "body": "b"}`),
			"definition.steps[0].to", "is CONTACT, which only a CONTACT play has; use CONTACTS or CONTACTS_WITH_PERSONA"},
		{"email without recipients", A, manual(`{"kind": "SEND_EMAIL", "subject": "s", "body": "b"}`), "definition.steps[0].to", "is required"},
		{"email without a subject", A, manual(`{"kind": "SEND_EMAIL", "to": "OWNER", "subject": "  ", "body": "b"}`), "definition.steps[0].subject",
			"is required"},
		{"multi-line subject", A, manual(`{"kind": "SEND_EMAIL", "to": "OWNER", "subject": "a\nb", "body": "b"}`), "definition.steps[0].subject",
			"must be a single line"},
		{"personas without the persona recipient", A, manual(`{"kind": "SEND_EMAIL", "to": "CONTACTS", "personas": ["admin"], "subject": "s", "body": "b"}`),
			"definition.steps[0].personas", "is only used with CONTACTS_WITH_PERSONA"},
		{"persona recipient without personas", A, manual(`{"kind": "SEND_EMAIL", "to": "CONTACTS_WITH_PERSONA", "subject": "s", "body": "b"}`),
			"definition.steps[0].personas", "is required"},
		{"blank persona", A, manual(`{"kind": "SEND_EMAIL", "to": "CONTACTS_WITH_PERSONA", "personas": ["admin", ""], "subject": "s", "body": "b"}`),
			"definition.steps[0].personas[1]", "must be 1 to 100 characters, without spaces around"},
		{"in-app message to the owner", A, manual(`{"kind": "IN_APP_MESSAGE", "to": "OWNER", "title": "t", "body": "b"}`), "definition.steps[0].to",
			"must be one of CONTACT, CONTACTS, CONTACTS_WITH_PERSONA"},
		{"unknown style", A, manual(`{"kind": "IN_APP_MESSAGE", "to": "CONTACTS", "title": "t", "body": "b", "style": "POPUP"}`),
			"definition.steps[0].style", "must be one of BANNER, MODAL, TOAST"},

		// Tasks.
		{"task without an assignee", A, manual(`{"kind": "CREATE_TASK", "title": "t"}`), "definition.steps[0].assignee", "is required"},
		{"unknown assignee kind", A, manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": {"kind": "TEAM"}}`), "definition.steps[0].assignee.kind",
			"must be one of OWNER, TEAM_ROLE, USER"},
		{"team role assignee without a role", A, manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": {"kind": "TEAM_ROLE"}}`),
			"definition.steps[0].assignee.teamRole", "is required"},
		{"owner assignee with a user", A, manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": {"kind": "OWNER", "userId": "x"}}`),
			"definition.steps[0].assignee.userId", "is not a known key of OWNER assignees"},
		{"user assignee with a bad id", A, manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": {"kind": "USER", "userId": "bob"}}`),
			"definition.steps[0].assignee.userId", "must be a user id"},
		{"bad due", A, manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": {"kind": "OWNER"}, "dueIn": "3 days"}`), "definition.steps[0].dueIn",
			durationHint},
		{"bad priority", A, manual(`{"kind": "CREATE_TASK", "title": "t", "assignee": {"kind": "OWNER"}, "priority": "P1"}`), "definition.steps[0].priority",
			"must be one of LOW, NORMAL, HIGH, URGENT"},

		// Account updates.
		{"update without operations", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": []}`), "definition.steps[0].operations",
			"must hold at least one operation"},
		{"unknown operation", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setStage"}]}`), "definition.steps[0].operations[0].op",
			"must be one of setField, setCustom, addTag, removeTag"},
		{"unknown field to set", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField", "field": "name", "value": "x"}]}`),
			"definition.steps[0].operations[0].field", "must be one of stage, healthScore, renewalDate, owner"},
		{"unknown stage", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField", "field": "stage", "value": "LOST"}]}`),
			"definition.steps[0].operations[0].value", "must be one of ONBOARDING, ADOPTION, GROWTH, RENEWAL, AT_RISK, CHURNED"},
		{"health score out of range", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "addTag", "tag": "x"}, {"op": "setField", "field": "healthScore", "value": 101}]}`),
			"definition.steps[0].operations[1].value", "must be a whole number from 0 to 100, or null"},
		{"health score as text", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField", "field": "healthScore", "value": "80"}]}`),
			"definition.steps[0].operations[0].value", "must be a whole number from 0 to 100, or null"},
		{"bad renewal date", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField", "field": "renewalDate", "value": "2026-02-30"}]}`),
			"definition.steps[0].operations[0].value", "must be a date such as 2026-01-31, or null"},
		{"set field without a value", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField", "field": "owner"}]}`),
			"definition.steps[0].operations[0].value", "is required"},
		{"empty custom key", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setCustom", "key": "", "value": 1}]}`),
			"definition.steps[0].operations[0].key", "must not be empty"},
		{"tag with a value", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "addTag", "tag": "x", "value": 1}]}`),
			"definition.steps[0].operations[0].value", "is not a known key of addTag operations"},
		{"tag too long", A, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "removeTag", "tag": "` + strings.Repeat("t", 65) + `"}]}`),
			"definition.steps[0].operations[0].tag", "must be 1 to 64 characters, without spaces around"},

		// Waiting, branching and repeating.
		{"wait until without a timeout", A, manual(`{"kind": "WAIT_UNTIL", "until": {"eventSinceStart": "login"}}`), "definition.steps[0].timeout",
			"is required"},
		{"wait until with a bad action", A, manual(`{"kind": "WAIT_UNTIL", "until": {"eventSinceStart": "login"}, "timeout": "1d", "onTimeout": "FAIL"}`),
			"definition.steps[0].onTimeout", "must be one of CONTINUE, EXIT"},
		{"branch without a condition", A, manual(`{"kind": "BRANCH", "then": [` + wait + `]}`), "definition.steps[0].if", "is required"},
		{"branch without steps", A, manual(`{"kind": "BRANCH", "if": {"eventSinceStart": "login"}, "then": [], "else": []}`), "definition.steps[0].then",
			"must hold at least one step when else holds none"},
		{"bad step inside a branch", A, manual(`{"kind": "BRANCH", "if": {"eventSinceStart": "login"}, "else": [{"kind": "WAIT", "duration": "1y"}]}`),
			"definition.steps[0].else[0].duration", durationHint},
		{"repeat zero times", A, manual(`{"kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1d", "maxTimes": 0, "steps": [` + wait + `]}`),
			"definition.steps[0].maxTimes", "must be a whole number from 1 to 100"},
		{"repeat too often", A, manual(`{"kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1d", "maxTimes": 101, "steps": [` + wait + `]}`),
			"definition.steps[0].maxTimes", "must be a whole number from 1 to 100"},
		{"repeat times as text", A, manual(`{"kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1d", "maxTimes": "3", "steps": [` + wait + `]}`),
			"definition.steps[0].maxTimes", "must be a whole number from 1 to 100"},
		{"repeat without steps", A, manual(`{"kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1d", "maxTimes": 3}`),
			"definition.steps[0].steps", "must hold at least one step"},
		{"bad duration deep in a repeat's condition", A, manual(wait + `, {"kind": "REPEAT_UNTIL", "interval": "1d", "maxTimes": 3, "steps": [` + wait + `],
			"until": {"any": [{"event": "login", "op": "within", "duration": "2x"}]}}`),
			"definition.steps[1].until.any[0].duration", durationHint},

		// Webhooks.
		{"webhook without a URL", A, manual(`{"kind": "SEND_WEBHOOK"}`), "definition.steps[0].url", "is required"},
		{"webhook to ftp", A, manual(`{"kind": "SEND_WEBHOOK", "url": "ftp://example.com/hook"}`), "definition.steps[0].url",
			"must be an absolute http or https URL"},
		{"webhook with a relative URL", A, manual(`{"kind": "SEND_WEBHOOK", "url": "/hook"}`), "definition.steps[0].url",
			"must be an absolute http or https URL"},
		{"webhook with credentials", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://bob:secret@example.com/hook"}`), "definition.steps[0].url",
			"must not contain a user name or password: deliveries are signed instead"},
		{"webhook body not an object", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "body": [1]}`), "definition.steps[0].body",
			"must be a JSON object"},
		{"unknown variable in a webhook body", A,
			manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "body": {"customer": {"names": ["{{account.name}}", "{{account.id}}"]}}}`),
			"definition.steps[0].body.customer.names[1]",
			"uses the unknown variable {{account.id}}; the variables are contact.firstName, contact.name, account.name, owner.name, owner.email"},
		{"authorization header", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "headers": {"authorization": "Bearer x"}}`),
			"definition.steps[0].headers.authorization", "cannot be set: deliveries are authenticated by their Steward-Signature HMAC"},
		{"signature header", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "headers": {"X-Steward-Signature": "x"}}`),
			"definition.steps[0].headers.X-Steward-Signature", "is set by Steward and cannot be overridden"},
		{"delivery id header", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "headers": {"steward-delivery-id": "x"}}`),
			"definition.steps[0].headers.steward-delivery-id", "is set by Steward and cannot be overridden"},
		{"user agent header", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "headers": {"User-Agent": "x"}}`),
			"definition.steps[0].headers.User-Agent", "is set by Steward and cannot be overridden"},
		{"header twice", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "headers": {"X-Team": "a", "x-team": "b"}}`),
			"definition.steps[0].headers.x-team", "is the same header as X-Team"},
		{"header value with a newline", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "headers": {"X-Team": "a\r\nHost: evil"}}`),
			"definition.steps[0].headers.X-Team", "must be at most 1000 characters without control characters"},
		{"too many retries", A, manual(`{"kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "retries": 11}`), "definition.steps[0].retries",
			"must be a whole number from 0 to 10"},

		// Limits.
		{"too many steps", A, manual(strings.TrimSuffix(strings.Repeat(wait+",", MaxSteps+1), ",")), "definition.steps[50]",
			"is beyond the limit of 50 steps in one play"},
		{"too many nested steps", A, manual(`{"kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1d", "maxTimes": 2,
			"steps": [` + strings.TrimSuffix(strings.Repeat(wait+",", MaxSteps), ",") + `]}`), "definition.steps[0].steps[49]",
			"is beyond the limit of 50 steps in one play"},
		{"nested too deeply", A, manual(nestedBranches(MaxNesting)), "definition.steps[0].then[0].then[0].then[0].then[0].then",
			"nests steps deeper than 5 levels"},
		{"too large", A, manual(`{"kind": "WAIT", "duration": "1d", "name": "` + strings.Repeat(" ", MaxDefinitionBytes) + `"}`), "definition",
			"must be at most 256 KiB of JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDefinition([]byte(tt.raw), tt.scope)
			requireInvalid(t, err, tt.field, tt.message)
		})
	}
}

// nestedBranches returns a BRANCH whose then list holds a BRANCH, levels deep, the innermost
// holding a WAIT: steps at level levels+1.
func nestedBranches(levels int) string {
	s := wait
	for range levels {
		s = fmt.Sprintf(`{"kind": "BRANCH", "if": {"eventSinceStart": "login"}, "then": [%s]}`, s)
	}
	return s
}

func TestParseDefinitionAcceptsTheDeepestNesting(t *testing.T) {
	t.Parallel()
	d := mustParse(t, manual(nestedBranches(MaxNesting-1)), condition.ScopeAccount)
	pos, ok := d.Locate("wait-1")
	require.True(t, ok)
	require.Equal(t, "branch-4", pos.Parent.ID)
}

func TestDraftsMayBeIncomplete(t *testing.T) {
	t.Parallel()
	const A = condition.ScopeAccount
	incomplete := []string{
		`{}`,
		`{"steps": []}`,
		`{"trigger": {"kind": "EVENT"}}`,
		`{"trigger": {"kind": "SCHEDULE"}, "reentry": {"policy": "COOLDOWN"}}`,
		manual(`{"kind": "SEND_EMAIL"}, {"kind": "SEND_EMAIL", "to": "CONTACTS_WITH_PERSONA"}, {"kind": "WAIT"}`),
		manual(`{"kind": "CREATE_TASK", "title": "Call {{account.name}}", "assignee": {"kind": "TEAM_ROLE"}}`),
		manual(`{"kind": "BRANCH", "then": [{"kind": "REPEAT_UNTIL"}]}, {"kind": "SEND_WEBHOOK"}, {"kind": "UPDATE_ACCOUNT"}`),
		manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField"}, {"op": "addTag"}]}`),
		manual(`{"kind": "SEND_EMAIL", "subject": "Hi {{contact.firstName}}"}`), // recipients not chosen yet
	}
	for _, raw := range incomplete {
		_, err := ParseDraft([]byte(raw), A)
		require.NoError(t, err, raw)
		_, err = ParseDefinition([]byte(raw), A)
		require.Error(t, err, raw)
	}

	// Values that are present are validated in drafts as in complete definitions.
	_, err := ParseDraft([]byte(manual(`{"kind": "WAIT", "duration": "soon"}`)), A)
	requireInvalid(t, err, "definition.steps[0].duration", durationHint)
	_, err = ParseDraft([]byte(`{"steps": [{"kind": "SEND_EMAIL", "subject": "Hi {{contact.nickname}}"}]}`), A)
	requireInvalid(t, err, "definition.steps[0].subject",
		"uses the unknown variable {{contact.nickname}}; the variables are contact.firstName, contact.name, account.name, owner.name, owner.email")
	_, err = ParseDraft([]byte(`{"steps": [{"subject": "Hi"}]}`), A)
	requireInvalid(t, err, "definition.steps[0].kind", "is required")
	_, err = ParseDraft([]byte(`{"goal": {"field": "account.stage"}}`), A)
	requireInvalid(t, err, "definition.goal.op", "is required")
}

func TestNullIsAbsent(t *testing.T) {
	t.Parallel()
	d, err := ParseDraft([]byte(`{"trigger": null, "entry": null, "steps": [{"id": null, "kind": "WAIT", "duration": null}]}`), condition.ScopeAccount)
	require.NoError(t, err)
	require.Nil(t, d.Trigger)
	require.Nil(t, d.Entry)
	require.Equal(t, "wait-1", d.Steps[0].ID)

	// In an operation, null is a value: it clears the field.
	d = mustParse(t, manual(`{"kind": "UPDATE_ACCOUNT", "operations": [{"op": "setField", "field": "healthScore", "value": null}]}`), condition.ScopeAccount)
	require.JSONEq(t, `null`, string(d.Steps[0].Update.Operations[0].Value))
}
