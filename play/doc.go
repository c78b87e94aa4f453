// Package play holds Steward's plays: situational automations that run for one account or one
// contact at a time, launched by hand or started by an event, a field change, a timer or a
// change in the account's journey. This
// part owns definitions and their versions (Definitions, ParseDefinition); the executor (runs,
// River workers, delivery) builds on it in this package with its own service.
//
// # Plays, drafts and versions
//
// A play has a name, a description, a scope (ACCOUNT or CONTACT: what one run is about) and a
// status. Its definition is edited as a draft, validated on every save for what it contains;
// Publish validates it completely and freezes it as the next version (1, 2, ...), which the
// database refuses to update. Runs pin the version they started on. Editing a published play
// starts a new draft and changes nothing that runs until the next Publish. Name and description
// are not versioned.
//
//	DRAFT --Publish--> ACTIVE <--Pause/Resume--> PAUSED
//	  \                  |                          |
//	   `------------ Archive (final) ---------------'--> ARCHIVED
//
// Pause and Resume are no-ops in the status they lead to; pausing or resuming a DRAFT, and any
// change of an ARCHIVED play but archiving it again, is refused with ErrTransition (which also
// wraps db.ErrConflict and an *invalid.Error on "status"). Publishing a PAUSED play keeps it
// paused. Names are unique among a workspace's plays that are not archived, ignoring case.
//
// # Format
//
// A definition is a JSON object. The scope is not in it (it is stored on the play):
//
//	{
//	  "trigger": {"kind": "SCHEDULE", "condition": {"event": "login", "op": "notWithin", "duration": "14d"}},
//	  "entry":   {"not": {"field": "account.stage", "op": "eq", "value": "CHURNED"}},
//	  "reentry": {"policy": "COOLDOWN", "cooldown": "30d"},
//	  "goal":    {"eventSinceStart": "login"},
//	  "exit":    {"field": "account.stage", "op": "eq", "value": "CHURNED"},
//	  "steps": [
//	    {"id": "nudge", "kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"},
//	     "interval": "4d", "maxTimes": 4, "steps": [
//	      {"id": "email", "kind": "SEND_EMAIL", "to": "CONTACTS",
//	       "subject": "Hi {{contact.firstName}}", "body": "..."},
//	      {"id": "pause", "kind": "WAIT", "duration": "3d"},
//	      {"id": "call", "kind": "CREATE_TASK", "title": "Call {{account.name}}",
//	       "assignee": {"kind": "OWNER"}, "dueIn": "1d", "priority": "HIGH"}
//	    ]}
//	  ]
//	}
//
// Triggers:
//
//	{"kind": "MANUAL"}                                          launched through the API
//	{"kind": "EVENT", "event": "feature_used", "properties": {"feature": "reports"}}
//	{"kind": "FIELD_CHANGE", "field": "account.stage", "from": "GROWTH", "to": "AT_RISK"}
//	{"kind": "SCHEDULE", "condition": <condition>}              checked on a timer
//	{"kind": "JOURNEY", "journey": "onboarding", "on": ["AT_RISK", "BEHIND"], "milestone": "setup"}
//
// properties (optional) are top-level event properties that must be equal (strings and bools
// exactly, numbers by value). FIELD_CHANGE watches a field a mutation can change, named as in
// conditions (account.stage, account.healthScore, account.owner, account.renewalDate,
// account.custom.<key>, contact.persona, ...; not account.tags' values); from and to are
// optional and typed like a condition's value. In a CONTACT play an account field change
// concerns every live contact of the account; a contact field in an ACCOUNT play is refused.
// JOURNEY names a journey by key and lists the journey events that start the play (on: one or
// more of ENTERED, COMPLETED, CANCELLED, STALLED, MILESTONE_STARTED, MILESTONE_COMPLETED,
// MILESTONE_SKIPPED, AT_RISK, BEHIND, each once); milestone (optional) narrows them to one
// milestone's events, so every kind listed must then be a milestone kind. The journey engine
// reports its changes through Engine.OnJourneyEvent inside its own transaction; an ACCOUNT play
// starts for the account, a CONTACT play for every live contact of it. Publishing requires the
// journey to exist and not be archived (a DRAFT journey will do).
//
// entry (a condition) must hold when a run would start, whatever the trigger. reentry is ONCE
// (at most one run per subject, ever), NOT_WHILE_ACTIVE (the default: not while a run of the
// subject is active) or COOLDOWN with "cooldown" (also not until that long after the previous
// run ended). goal ends a run as GOAL_MET when it holds, exit as EXITED.
//
// Steps run in order. Every step has "id" and "kind", and may have "name" (a label):
//
//	SEND_EMAIL        to (CONTACT | CONTACTS | CONTACTS_WITH_PERSONA | OWNER), personas, subject, body
//	IN_APP_MESSAGE    to (CONTACT | CONTACTS | CONTACTS_WITH_PERSONA), personas, title, body,
//	                  style (BANNER | MODAL | TOAST; default BANNER)
//	CREATE_TASK       title, description, assignee, dueIn, priority (LOW | NORMAL | HIGH | URGENT;
//	                  default NORMAL); assignee {"kind": "OWNER"}, {"kind": "TEAM_ROLE",
//	                  "teamRole": "CSM"} or {"kind": "USER", "userId": <uuid>}
//	UPDATE_ACCOUNT    operations: {"op": "setField", "field": stage|healthScore|renewalDate|owner,
//	                  "value": ...}, {"op": "setCustom", "key": ..., "value": <any JSON; null
//	                  removes>}, {"op": "addTag", "tag": ...}, {"op": "removeTag", "tag": ...}
//	ADD_TIMELINE_NOTE body
//	WAIT              duration
//	WAIT_UNTIL        until, timeout, onTimeout (CONTINUE | EXIT; default CONTINUE)
//	BRANCH            if, then [steps], else [steps]
//	REPEAT_UNTIL      until, interval, maxTimes (1 to 100), steps [steps]
//	SEND_WEBHOOK      url (http or https), body (a JSON object), headers, retries (0 to 10; default 3)
//	ENROLL_IN_JOURNEY journey (a journey key): enrols the account (a CONTACT play's contact's)
//
// ENROLL_IN_JOURNEY goes through Engine.Journeys (the journey engine, wired in by the server)
// in the step's transaction; the journey's own rules (one live enrolment per account, its
// re-entry policy) may refuse, and the step log says so ("not enrolled in onboarding: ...") or
// names the enrolment. Publishing requires the journey to exist and not be archived; at run
// time it must be ACTIVE. Without a journey engine, or when no active journey has the key,
// the step fails at once, without River's retries (RetryRun resumes the run once fixed).
//
// CONTACT recipients exist in CONTACT plays only; personas go with CONTACTS_WITH_PERSONA only.
// A REPEAT_UNTIL checks until before each round and ends as soon as it holds; after a round
// that is not the last it waits interval. A null setField value clears healthScore,
// renewalDate or owner. Webhook headers cannot set Authorization, Content-Type, Content-Length,
// Host, User-Agent, Steward-* or X-Steward-*: package delivery signs each request with the
// workspace's secret (Steward-Signature, an HMAC of timestamp and body) and sends a
// Steward-Delivery-Id that is stable across retries (the outbox row's; the executor derives the
// row's idempotency key from run, step and round), so receivers can drop repeats.
//
// Durations are written as in conditions, from seconds to years: "30s", "15m", "12h", "14d",
// "2w", "3mo" (30 days), at most 3650d (see condition.ParseDuration). Short ones let tests run a
// whole play in seconds.
//
// # Checks and "since the run started"
//
// goal, exit and the until/if of WAIT_UNTIL, REPEAT_UNTIL and BRANCH are checks: a condition
// in the play's scope, or {"eventSinceStart": "login"}, which holds once the account has an
// event of that name that occurred at or after the run started. A condition alone cannot say
// that ("within 14d" is relative to now, not to the run), and an event predicate with a
// duration computed from the start would need a duration per run and truncate it to whole
// units; so the one relative notion a play needs is a check of its own, evaluated from the
// same activity facts as conditions (Check.Needs, Check.Eval) or in SQL as an EXISTS over
// events with occurred_at >= the run's start. It is a whole check, not a node inside a
// condition tree: "logged in since the start and not churned" is a goal plus an exit. As in
// conditions, activity is the account's, whichever contact it came from. The trigger and entry
// are plain conditions: there is no run yet.
//
// # Templates
//
// Subjects, bodies, titles, task descriptions, notes and every string inside a webhook body are
// templates with the variables {{contact.firstName}}, {{contact.name}}, {{account.name}},
// {{owner.name}} and {{owner.email}} (spaces inside the braces allowed, no escape for "{{").
// Any other variable is refused on save, naming the field ("definition.steps[2].subject"). In
// messages to contacts, contact variables are each recipient's; elsewhere they are the run's
// contact's, so they are refused in the other steps of ACCOUNT plays. Template.Render fills them
// in (failing with ErrMissingValue when the contact or owner is missing) and escapes nothing.
//
// # Validation and normal form
//
// Decoding is strict: unknown or repeated keys, wrong JSON types, bad durations, unknown
// variables and values of the wrong kind are refused with an *invalid.Error (BAD_USER_INPUT)
// whose field is a path rooted at "definition", such as "definition.steps[1].until.any[0].duration".
// The first problem in document order is reported. A JSON null counts as absent, except for
// the value of setField and setCustom. Drafts may leave out what a run needs (the trigger,
// steps, a subject, a duration...); Publish then requires it, and also that the team roles and
// users named exist in the workspace. Limits: MaxSteps steps in the whole tree, MaxNesting
// levels of steps, MaxRepeatTimes rounds, MaxDefinitionBytes of JSON.
//
// Step ids are what runs record as their position, so they must stay put across edits: a client
// sends its own ids (^[a-z0-9][a-z0-9_-]{0,40}$, unique in the whole tree), and a step saved
// without one gets the first free "<kind>-<n>" ("send-email-1", "wait-2") in document order,
// stored with the draft so it is kept from then on. Defaults (reentry, style, priority,
// onTimeout, retries) are written out and values normalised (conditions as condition.Parse
// normalises them, user ids in canonical form, JSON bodies and custom values with sorted keys),
// so the stored document is explicit and marshalling a parsed definition, parsing and
// marshalling again gives the same bytes, whatever key order jsonb returns.
//
// # Runs (the executor)
//
// Engine runs published plays. A run (db.PlayRun) pins the version it started on and records
// its status (RUNNING, WAITING, then COMPLETED, GOAL_MET, EXITED, FAILED or CANCELLED), the
// step it is at, the round of each REPEAT_UNTIL, when it wakes up and why it started
// (TriggerInfo: the event, the field, the journey event, or the entry predicates with the
// values seen). Its step
// log (db.PlayStepRun) has one row per step and round, with the outcome, the error and the
// task, outbox message or in-app message it made.
//
// Runs start in the transaction of what caused them: Engine.Hooks plugs OnEventsRecorded and
// OnAccountChanged into account.Service, the journey engine calls OnJourneyEvent (which also
// ends runs whose goal or exit on journey state now holds), and Launch starts MANUAL plays; the first step's River
// job is inserted in that same transaction (queue.NewInserter, River on database/sql), so a
// rolled-back change starts nothing. A partial unique index allows one active run per subject
// and play. SCHEDULE plays are swept by a River periodic job (PeriodicSweep, every
// EngineConfig.SweepInterval): per play, one INSERT ... SELECT with the trigger, entry and
// re-entry conditions compiled to SQL, ON CONFLICT DO NOTHING, then one InsertManyTx of the
// first jobs; an advisory lock per play makes concurrent sweeps take turns.
//
// Each step is a StepArgs job (ids only). StepWorker locks the run, drops stale jobs, snoozes
// while the play is PAUSED, cancels runs of ARCHIVED plays, ends the run when exit (EXITED) or
// goal (GOAL_MET) holds, executes the step and inserts the next job, all in one transaction.
// Effects are keyed "play_run:<run>/step:<step>/iter:<round>" (tasks, outbox rows, in-app
// messages) and commit with the step's log row, so a retried job does not repeat them. WAIT,
// the interval of REPEAT_UNTIL and the polling of WAIT_UNTIL are scheduled jobs. A failing step
// is retried by River with backoff; on the last attempt the step and the run become FAILED with
// the error, and RetryRun resumes it. Events also end runs at once when they meet a goal.
package play
