package play

import (
	"encoding/json"

	"github.com/stewardhq/steward/condition"
)

// The demo plays below are complete, valid definitions of the situations plays were made for.
// The demo seed creates and publishes them, and the README shows them; tests keep them valid.

// InactiveFourteenDays is an ACCOUNT play for accounts nobody has logged in to for 14 days: it
// emails the account's contacts, waits three days and asks the owner to call, and repeats that
// every four days (at most four rounds) until someone logs in, which is also its goal.
func InactiveFourteenDays() NewPlay {
	return NewPlay{
		Name:        "Inactive 14 days",
		Description: "Nudge accounts with no login in 14 days by email, then by phone, until they log in again.",
		Scope:       condition.ScopeAccount,
		Definition: json.RawMessage(`{
  "trigger": {"kind": "SCHEDULE", "condition": {"all": [
    {"event": "login", "op": "notWithin", "duration": "14d"},
    {"not": {"field": "account.stage", "op": "in", "value": ["ONBOARDING", "CHURNED"]}}
  ]}},
  "reentry": {"policy": "COOLDOWN", "cooldown": "30d"},
  "goal": {"eventSinceStart": "login"},
  "exit": {"field": "account.stage", "op": "eq", "value": "CHURNED"},
  "steps": [
    {"id": "nudge-until-login", "kind": "REPEAT_UNTIL", "name": "Email, then call, until they log in",
     "until": {"eventSinceStart": "login"}, "interval": "4d", "maxTimes": 4,
     "steps": [
       {"id": "nudge-email", "kind": "SEND_EMAIL", "to": "CONTACTS",
        "subject": "{{contact.firstName}}, a few ideas for your team at {{account.name}}",
        "body": "Hi {{contact.firstName}},\n\nWe have not seen your team sign in for a couple of weeks, so here are three things other teams get a lot out of, each a few minutes to set up.\n\nReply to this email if anything is in your way; I am happy to help.\n\n{{owner.name}}"},
       {"id": "wait-before-call", "kind": "WAIT", "duration": "3d"},
       {"id": "call-task", "kind": "CREATE_TASK", "title": "Call {{account.name}}: no login for two weeks",
        "description": "They were emailed three days ago. Ask what is blocking them and offer a short walkthrough.",
        "assignee": {"kind": "OWNER"}, "dueIn": "1d", "priority": "HIGH"}
     ]}
  ]
}`),
	}
}

// BusinessReviewCadence is an ACCOUNT play that fires when an account has gone more than 90
// days without a business review: the CSM gets a task to hold one, and if none is logged within
// three weeks the owner gets an urgent reminder. Logging the review meets the goal.
func BusinessReviewCadence() NewPlay {
	return NewPlay{
		Name:        "Business review cadence",
		Description: "Never let more than 90 days pass without a business review.",
		Scope:       condition.ScopeAccount,
		Definition: json.RawMessage(`{
  "trigger": {"kind": "SCHEDULE", "condition": {"all": [
    {"timeline": "BUSINESS_REVIEW", "op": "olderThan", "duration": "90d"},
    {"not": {"field": "account.stage", "op": "in", "value": ["ONBOARDING", "CHURNED"]}}
  ]}},
  "reentry": {"policy": "COOLDOWN", "cooldown": "14d"},
  "goal": {"timeline": "BUSINESS_REVIEW", "op": "within", "duration": "30d"},
  "steps": [
    {"id": "schedule-review", "kind": "CREATE_TASK", "title": "Hold a business review with {{account.name}}",
     "description": "It has been more than 90 days since the last one. Book it and log it on the timeline as a business review.",
     "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "2w", "priority": "HIGH"},
    {"id": "wait-for-review", "kind": "WAIT_UNTIL",
     "until": {"timeline": "BUSINESS_REVIEW", "op": "within", "duration": "30d"},
     "timeout": "3w", "onTimeout": "CONTINUE"},
    {"id": "escalate", "kind": "CREATE_TASK", "title": "Business review with {{account.name}} is overdue",
     "assignee": {"kind": "OWNER"}, "dueIn": "2d", "priority": "URGENT"}
  ]
}`),
	}
}

// StickyFeatureBestPractices is a MANUAL CONTACT play, launched on a person who asked about a
// feature they are not using yet: they get a best-practices email, and the owner gets two call
// reminders a week apart. The goal is met once the account schedules a report.
func StickyFeatureBestPractices() NewPlay {
	return NewPlay{
		Name:        "Sticky feature best practices",
		Description: "Launch on a contact who wants to learn about scheduled reports: best practices, then two check-in calls.",
		Scope:       condition.ScopeContact,
		Definition: json.RawMessage(`{
  "trigger": {"kind": "MANUAL"},
  "reentry": {"policy": "NOT_WHILE_ACTIVE"},
  "goal": {"eventSinceStart": "report_scheduled"},
  "steps": [
    {"id": "best-practices", "kind": "SEND_EMAIL", "to": "CONTACT",
     "subject": "Scheduled reports: how teams like yours use them",
     "body": "Hi {{contact.firstName}},\n\nThanks for asking about scheduled reports. The teams that get the most from them start with one weekly report for their own team, then share it with their manager.\n\nI will check in with you in a few days.\n\n{{owner.name}}\n{{owner.email}}"},
    {"id": "first-call", "kind": "CREATE_TASK", "title": "Call {{contact.name}} ({{account.name}}) about scheduled reports",
     "assignee": {"kind": "OWNER"}, "dueIn": "3d", "priority": "NORMAL"},
    {"id": "wait-a-week", "kind": "WAIT", "duration": "1w"},
    {"id": "second-call", "kind": "CREATE_TASK", "title": "Check in with {{contact.name}}: are reports running?",
     "assignee": {"kind": "OWNER"}, "dueIn": "2d", "priority": "NORMAL"},
    {"id": "log-it", "kind": "ADD_TIMELINE_NOTE", "body": "Best-practices play for {{contact.name}} finished its check-in calls."}
  ]
}`),
	}
}

// RenewalGoals is an ACCOUNT play for accounts renewing within 120 days: an in-app message and,
// three days later, an email invite the decision makers to a goals-and-renewal conversation,
// and the owner gets a task to follow up.
func RenewalGoals() NewPlay {
	return NewPlay{
		Name:        "Renewal goals",
		Description: "Four months before renewal, ask the decision makers for a conversation about next year's goals.",
		Scope:       condition.ScopeAccount,
		Definition: json.RawMessage(`{
  "trigger": {"kind": "SCHEDULE", "condition": {"all": [
    {"field": "account.renewalDate", "op": "withinNext", "duration": "120d"},
    {"not": {"field": "account.stage", "op": "eq", "value": "CHURNED"}}
  ]}},
  "reentry": {"policy": "COOLDOWN", "cooldown": "180d"},
  "exit": {"field": "account.stage", "op": "eq", "value": "CHURNED"},
  "steps": [
    {"id": "goals-in-app", "kind": "IN_APP_MESSAGE", "to": "CONTACTS_WITH_PERSONA", "personas": ["decision-maker"],
     "title": "Planning next year?", "body": "{{owner.name}} would like 30 minutes with you to talk about your goals for the year ahead.",
     "style": "BANNER"},
    {"id": "wait-after-in-app", "kind": "WAIT", "duration": "3d"},
    {"id": "goals-email", "kind": "SEND_EMAIL", "to": "CONTACTS_WITH_PERSONA", "personas": ["decision-maker"],
     "subject": "Your goals for the coming year at {{account.name}}",
     "body": "Hi {{contact.firstName}},\n\nYour renewal is a few months away, which makes this a good moment to look at what you want to achieve next year and how we can help. Could we find 30 minutes in the next couple of weeks?\n\n{{owner.name}}"},
    {"id": "follow-up", "kind": "CREATE_TASK", "title": "Book the goals conversation with {{account.name}}",
     "assignee": {"kind": "OWNER"}, "dueIn": "1w", "priority": "HIGH"}
  ]
}`),
	}
}

// Examples returns the demo plays, in the order above.
func Examples() []NewPlay {
	return []NewPlay{InactiveFourteenDays(), BusinessReviewCadence(), StickyFeatureBestPractices(), RenewalGoals()}
}
