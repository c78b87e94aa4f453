// Package condition is Steward's condition language: a typed tree of predicates on an account,
// a contact and the account's activity, play runs and journeys, stored as JSON and sent by the SPA. A play starts when
// its condition becomes true; a goal is met when its condition holds.
//
// One validated tree has two evaluators that agree on every subject: SQL compiles it into one
// set-based query that finds every matching account or contact at once, and Eval decides it
// in Go for one subject (event-driven checks, goals, dry runs). A property test on random
// trees and data holds them to that.
//
// # Format
//
// A node is a JSON object with exactly one of these keys:
//
//	{"all": [node, ...]}     every node holds (at least one node)
//	{"any": [node, ...]}     some node holds (at least one node)
//	{"not": node}            the node does not hold
//	{"field": ..., "op": ..., "value" or "duration"}            a field of the account or contact
//	{"event": name, "op": ..., "duration"}                      the account's last event of a name
//	{"eventCount": {"name": ..., "within": ...}, "op": ..., "value"}  events of a name lately
//	{"timeline": kind, "op": ..., "duration"}                   the account's last timeline entry
//	{"playRun": play id, "op": ..., "duration"}                 the account's runs of a play
//	{"journey": {"key": ..., "status" or "milestone" and "milestoneStatus"}}  the account's journey
//
// Examples:
//
//	{"field": "account.healthScore", "op": "lt", "value": 50}
//	{"field": "account.renewalDate", "op": "withinNext", "duration": "120d"}
//	{"field": "account.custom.plan", "op": "eq", "value": "pro"}
//	{"field": "account.tags", "op": "contains", "value": "enterprise"}
//	{"field": "account.owner", "op": "exists"}
//	{"field": "contact.persona", "op": "in", "value": ["decision-maker", "champion"]}
//	{"field": "contact.emailOptOut", "op": "eq", "value": false}
//	{"event": "login", "op": "notWithin", "duration": "14d"}
//	{"eventCount": {"name": "report_viewed", "within": "30d"}, "op": "gte", "value": 5}
//	{"timeline": "BUSINESS_REVIEW", "op": "olderThan", "duration": "90d"}
//	{"playRun": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "op": "exists"}
//	{"playRun": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "op": "within", "duration": "30d"}
//	{"journey": {"key": "onboarding", "status": ["ACTIVE", "STALLED"]}}
//	{"journey": {"key": "onboarding", "milestone": "setup", "milestoneStatus": ["BEHIND", "AT_RISK"]}}
//
// and a whole tree, "an account with no login in 14 days, renewing within 120 days, unless it
// already churned":
//
//	{"all": [
//	  {"event": "login", "op": "notWithin", "duration": "14d"},
//	  {"field": "account.renewalDate", "op": "withinNext", "duration": "120d"},
//	  {"not": {"field": "account.stage", "op": "eq", "value": "CHURNED"}}
//	]}
//
// Decoding is strict: unknown or repeated keys, a key that does not belong to the node's kind
// or operator, trailing data and wrong JSON types are errors. Every error is an
// *invalid.Error (BAD_USER_INPUT) naming the path inside the tree, rooted at "condition":
// "condition.all[2].value" with "must be a whole number ...". Limits: MaxDepth levels,
// MaxNodes nodes, MaxStringLen characters per string value, MaxListLen values per list,
// MaxNameLen characters per event name or custom key, MaxJSONBytes of JSON.
//
// # Fields
//
// Account fields (usable in both scopes; in a CONTACT condition they are the contact's
// account's) and contact fields (CONTACT conditions only):
//
//	account.name, account.stage, account.arrCurrency   string
//	account.domain                                    string, may be missing
//	account.healthScore                               number, may be missing
//	account.arrMinor                                  number: ARR in minor units, whatever the currency
//	account.renewalDate                               date, may be missing
//	account.owner                                     user id, may be missing
//	account.tags                                      string list
//	account.lastLoginAt, account.lastActivityAt       time, may be missing
//	account.createdAt                                 time
//	account.custom.<key>                              custom attribute (JSON)
//	contact.name, contact.email                       string
//	contact.title, contact.persona                    string, may be missing
//	contact.lastSeenAt                                time, may be missing
//	contact.createdAt                                 time
//	contact.emailOptOut                               bool
//	contact.custom.<key>                              custom attribute (JSON)
//
// <key> is one top-level key of the custom attributes object, taken literally (a dot in it is
// part of the key, not a path).
//
// # Operators
//
// By type (exists and notExists only where the value may be missing):
//
//	string       eq, neq, in, notIn, contains
//	number       eq, neq, in, notIn, lt, lte, gt, gte
//	bool         eq, neq
//	user id      eq, neq, in, notIn
//	date         eq, neq, lt, lte, gt, gte (value "2026-01-31"); within, withinNext, olderThan
//	time         lt, lte, gt, gte (value "2026-01-31T09:00:00Z"); within, olderThan, notWithin
//	string list  contains (has the value), in (has any), notIn (has none), exists (not empty), notExists
//	custom       eq, neq, in, notIn, lt, lte, gt, gte, contains, exists, notExists
//	event, timeline  within, notWithin, olderThan, exists, notExists
//	eventCount       eq, neq, lt, lte, gt, gte (value: a count)
//	playRun          exists, notExists, within
//	journey          none: the lists of statuses say what holds
//
// eq and in compare strings exactly; contains on a string is a substring test that ignores the
// case of ASCII letters only (so both evaluators agree whatever the database collation); on a
// string list it tests for an exact element. Numbers are whole, within ±(2^53-1).
//
// Durations are a positive whole number and one unit: s, m (minutes), h, d, w, mo (a month is
// 30 days, so a duration means the same on every date), at most 3650d; "14d", "2w", "3mo".
// On a time, within d means at or after now-d, olderThan d before now-d, and notWithin d
// "missing, or before now-d". On a date (whole days only; "today" is now's UTC date), within
// d means from today-d to today, withinNext d from today to today+d, both inclusive, and
// olderThan d before today-d.
//
// # Missing values
//
// Logic is two-valued and identical in both evaluators: a predicate on a missing value (SQL
// NULL, an absent or null custom attribute) is false, and not negates that. The exceptions
// say so in their names: notExists and notWithin are true on a missing value, and on activity
// "never happened" makes notWithin and olderThan true (they are synonyms there: "no login in
// 14 days" includes accounts that never logged in) and exists false. neq and notIn on a missing
// value are false; write {"any": [neq, notExists]} to include it. A custom attribute compares
// by the JSON type of the condition's value: a string value only matches string attributes, a
// number only numbers (compared exactly, fractions included), a bool only booleans; any other
// type is false, for neq and notIn too.
//
// # Scope and activity
//
// A condition is validated for a Scope. ACCOUNT conditions may use account fields and
// activity; a contact field in one is an error naming its path. CONTACT conditions may use
// everything. Activity is always the account's: in a CONTACT condition, the events,
// timeline and play runs of the contact's account, whichever contact they came from or are for.
//
// # Play runs
//
// A playRun predicate names a play by its id (a UUID in any form uuid.Parse accepts, stored
// canonical; an unknown or deleted play is valid and simply has no runs) and asks about that
// play's runs for the subject's account:
//
//	exists       the account has an active run of the play: status RUNNING or WAITING
//	notExists    it has none (it never ran, or every run finished)
//	within d     a run of the play, of any status, started at or after now-d
//
// Like events and timeline entries, runs are the account's in both scopes: in a CONTACT
// condition a run counts whichever subject it is for, the account itself or any of its
// contacts. "Unless the account is already in the onboarding play" is
//
//	{"not": {"playRun": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "op": "exists"}}
//
// Explain reports as the value seen whether an active run exists (a bool) for exists and
// notExists, and the latest run's start (nil if none) for within.
//
// # Journeys
//
// A journey predicate names a journey by its key and asks about the account's latest
// enrolment in it (the latest enrolled_at, then the greatest id, among the enrolments in the
// journey of that key that is not archived; an archived journey whose key was taken over does
// not count). It takes no op, value or duration, and has either
//
//	status                      the enrolment's status is one of the list: ACTIVE, STALLED,
//	                            COMPLETED, CANCELLED, or NOT_ENROLLED (never enrolled)
//	milestone, milestoneStatus  the enrolment's milestone of that key has one of the statuses
//	                            NOT_STARTED, ON_TRACK, AT_RISK, BEHIND, DONE, SKIPPED
//
// never both in one predicate (write {"all": [...]} for both). A milestone predicate is false
// when the account was never enrolled or the enrolment has no such milestone, so NOT_ENROLLED
// is only a status. "Unless the account is in onboarding now or finished it" is
//
//	{"journey": {"key": "onboarding", "status": ["NOT_ENROLLED", "CANCELLED"]}}
//
// A key no journey has is valid and simply never enrolled. As with activity, a CONTACT
// condition asks about the contact's account. Explain reports the enrolment's status (a
// string, NOT_ENROLLED when there is none) or the milestone's status (nil when missing).
//
// # Evaluating
//
// SQL returns the WHERE expression over the aliases a (accounts) and c (contacts) for use in
// larger queries, e.g. INSERT ... SELECT of play runs; Matching runs it for a tenant's live
// subjects. For one subject, ask Needs which activity facts the condition reads, LoadSubject
// with them, then Eval or Explain at the same instant. Instants are truncated to microseconds,
// PostgreSQL's precision, in both evaluators.
package condition
