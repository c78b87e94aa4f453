// Package journey holds Steward's journeys: the documented process of one stage of a customer's
// life cycle (onboarding, adoption, renewal...), as milestones with target durations, each
// with steps for people (tasks, checkpoints) and automated steps (emails, in-app messages,
// plays). This part owns definitions and their versions (Definitions, ParseDefinition); the
// enrolment engine builds on it in this package.
//
// # Journeys, drafts, versions and copies
//
// A journey has a key (a stable handle triggers and conditions use), a name, a description, a
// life-cycle stage and a status. Its definition is edited as a draft, one operation at a time
// (add, change, move or delete a milestone or a step; change the settings), each validated as a
// draft and saved in one transaction. Publish validates the draft completely, checks what it
// refers to (team roles, users, plays) and freezes it as the next version (1, 2, ...), which the
// database refuses to update; enrolments pin the version they run on. Editing a published
// journey edits its draft (started from the latest version) and changes nothing that runs until
// the next Publish. Statuses move as for plays:
//
//	DRAFT --Publish--> ACTIVE <--Pause/Resume--> PAUSED
//	  \                  |                          |
//	   `------------ Archive (final) ---------------'--> ARCHIVED
//
// Copy makes a new DRAFT journey from another one's draft (or latest version); the copy keeps
// the milestone and step keys and records where it came from, and from then on the two are
// independent.
//
// # Format
//
// A definition is a JSON object:
//
//	{
//	  "trigger": {"kind": "EVENT", "event": "deal_closed"},
//	  "reentry": {"policy": "NOT_WHILE_ACTIVE"},
//	  "stallAfter": "14d",
//	  "atRiskShare": 0.75,
//	  "milestones": [
//	    {"key": "kickoff", "name": "Kickoff", "target": "7d", "steps": [
//	      {"key": "kickoff-call", "kind": "TASK", "task": {"title": "Hold the kickoff call",
//	        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "5d"}},
//	      {"key": "welcome", "kind": "SEND_EMAIL", "email": {"to": "CONTACTS", "subject": "Welcome", "body": "..."}}]},
//	    {"key": "setup", "name": "Technical setup", "target": "14d", "steps": [
//	      {"key": "connected", "kind": "CHECKPOINT",
//	       "condition": {"event": "integration_connected", "op": "exists"}}]},
//	    {"key": "training", "name": "Training", "target": "14d", "parallel": true, ...}
//	  ]
//	}
//
// The trigger is a play trigger of kind MANUAL, EVENT or FIELD_CHANGE (on an account field);
// reentry is a play's re-entry policy. stallAfter (default 14d) is how long an ACTIVE enrolment
// may go without progress before it is STALLED; atRiskShare (default 0.75, strictly between 0
// and 1) is the share of a milestone's target after which an ON_TRACK milestone is AT_RISK.
//
// Milestones run in order; a milestone with "parallel": true starts together with the one
// before it (Groups), so the first cannot be parallel. target is the target duration from the
// milestone's start. A milestone completes when its completeWhen condition holds or when all
// its required steps are done; a published milestone must have one or the other.
//
// Steps: TASK (a play task: title, description, assignee, dueIn after the milestone's start,
// priority), CHECKPOINT (a condition, done when it holds), SEND_EMAIL (email), IN_APP_MESSAGE
// (message) and LAUNCH_PLAY (playId of an ACCOUNT-scope play). TASK and CHECKPOINT are
// required unless "required": false; automated steps are never required. Milestone keys are
// unique among milestones and step keys across the whole definition, both
// ^[a-z0-9][a-z0-9_-]{0,62}$; a milestone or step written without a key gets one made from its
// name (or its task's title, or its kind) the first time it is parsed, and keeps it.
package journey
