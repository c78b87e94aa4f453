package seed

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/journey"
)

// The demo journeys, by key.
const (
	JourneyOnboarding      = "onboarding"
	JourneyOnboardingAddOn = "onboarding-analytics"
	JourneyAdoption        = "adoption"
	JourneyRenewal         = "renewal"
	JourneyRelaunch        = "relaunch"
)

// demoJourney is one demo journey as created through the journey service.
type demoJourney struct {
	key, name, stage, description string
	definition                    string
}

// onboardingDefinition: a closed deal enrols the account. Kickoff has tasks for the CSM and the
// Sales person; technical setup waits for the integration to be connected; training (in
// parallel with setup) engages several roles; go-live closes the journey.
const onboardingDefinition = `{
  "trigger": {"kind": "EVENT", "event": "deal_closed"},
  "reentry": {"policy": "NOT_WHILE_ACTIVE"},
  "stallAfter": "14d",
  "atRiskShare": 0.75,
  "milestones": [
    {"key": "kickoff", "name": "Kickoff", "target": "7d",
     "description": "Meet the customer, confirm goals and hand the deal over from Sales.",
     "steps": [
       {"key": "kickoff-call", "kind": "TASK", "task": {"title": "Hold the kickoff call",
         "description": "Confirm goals, timeline and who is involved on the customer's side.",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "5d", "priority": "HIGH"}},
       {"key": "sales-handover", "kind": "TASK", "task": {"title": "Hand the deal notes over to the CSM",
         "description": "What was promised, who signed, which add-ons were bought.",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "SALES"}, "dueIn": "3d"}},
       {"key": "welcome-email", "kind": "SEND_EMAIL", "email": {"to": "CONTACTS_WITH_PERSONA",
         "personas": ["champion", "decision-maker"], "subject": "Welcome to Acme Cloud, {{contact.firstName}}",
         "body": "Hi {{contact.firstName}},\n\nWelcome aboard! Your CSM will reach out this week to plan the kickoff for {{account.name}}.\n\nThe Acme Cloud team"}}
     ]},
    {"key": "technical-setup", "name": "Technical setup", "target": "14d",
     "description": "Connect the customer's data: nothing else works until the integration is live.",
     "steps": [
       {"key": "integration-connected", "kind": "CHECKPOINT",
        "condition": {"event": "integration_connected", "op": "exists"}},
       {"key": "setup-check-in", "kind": "TASK", "required": false, "task": {"title": "Check in on the integration",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}, "dueIn": "7d"}},
       {"key": "connect-reminder", "kind": "IN_APP_MESSAGE", "message": {"to": "CONTACTS_WITH_PERSONA",
         "personas": ["admin", "champion"], "title": "Connect your first data source",
         "body": "Connect a data source to see your own numbers in Acme Cloud.", "style": "BANNER"}}
     ]},
    {"key": "training", "name": "Training", "target": "21d", "parallel": true,
     "description": "Train admins and end users, and align with the executive sponsor.",
     "steps": [
       {"key": "admin-training", "kind": "TASK", "task": {"title": "Run the admin training",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}, "dueIn": "10d"}},
       {"key": "user-training", "kind": "TASK", "task": {"title": "Run the end-user training",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "14d"}},
       {"key": "sponsor-alignment", "kind": "TASK", "task": {"title": "Align on success goals with the executive sponsor",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "EXECUTIVE_SPONSOR"}, "dueIn": "14d"}}
     ]},
    {"key": "go-live", "name": "Go live", "target": "14d",
     "description": "The customer works in Acme Cloud every day.",
     "steps": [
       {"key": "go-live-review", "kind": "TASK", "task": {"title": "Confirm go-live with the customer",
         "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "10d"}},
       {"key": "go-live-note", "kind": "SEND_EMAIL", "email": {"to": "OWNER",
         "subject": "{{account.name}} is going live", "body": "{{account.name}} reached the go-live milestone."}}
     ]}
  ]
}`

// addOnMilestones are what the add-on onboarding adds to its copy of Onboarding.
var addOnMilestones = []struct {
	in    journey.MilestoneInput
	after string
	steps []journey.StepInput
}{
	{
		in:    journey.MilestoneInput{Key: "addon-configuration", Name: "Analytics add-on configuration", Target: "10d", Description: "Set up the analytics module on the connected data."},
		after: "training",
		steps: []journey.StepInput{
			{Key: "configure-analytics", Kind: journey.StepTask, Task: json.RawMessage(`{"title": "Configure the analytics module",
			  "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}, "dueIn": "7d"}`)},
			{Key: "first-dashboard", Kind: journey.StepCheckpoint, Condition: json.RawMessage(`{"event": "dashboard_created", "op": "exists"}`)},
		},
	},
	{
		in:    journey.MilestoneInput{Key: "consulting-workshop", Name: "Consulting workshop", Target: "14d", Description: "The consulting package: a workshop on the customer's own metrics."},
		after: "addon-configuration",
		steps: []journey.StepInput{
			{Key: "run-workshop", Kind: journey.StepTask, Task: json.RawMessage(`{"title": "Run the analytics workshop",
			  "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "10d"}`)},
			{Key: "workshop-outcomes", Kind: journey.StepTask, Task: json.RawMessage(`{"title": "Review the workshop outcomes",
			  "assignee": {"kind": "TEAM_ROLE", "teamRole": "EXECUTIVE_SPONSOR"}, "dueIn": "14d"}`)},
		},
	},
}

var demoJourneys = []demoJourney{
	{
		key: JourneyOnboarding, name: "Onboarding", stage: "ONBOARDING", definition: onboardingDefinition,
		description: "From a closed deal to a customer live on Acme Cloud.",
	},
	{
		key: JourneyAdoption, name: "Adoption", stage: "ADOPTION",
		description: "After onboarding: from first value to daily habits and a success plan.",
		definition: `{
  "trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "ADOPTION"},
  "milestones": [
    {"key": "first-value", "name": "First value", "target": "30d", "steps": [
      {"key": "first-report", "kind": "CHECKPOINT", "condition": {"event": "report_viewed", "op": "within", "duration": "14d"}},
      {"key": "usage-review", "kind": "TASK", "task": {"title": "Review usage with the champion",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "21d"}}]},
    {"key": "habits", "name": "Daily habits", "target": "30d",
     "completeWhen": {"eventCount": {"name": "workflow_run", "within": "14d"}, "op": "gte", "value": 10},
     "steps": [
      {"key": "best-practices", "kind": "TASK", "task": {"title": "Share best practices for workflows",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "14d"}},
      {"key": "habits-tip", "kind": "IN_APP_MESSAGE", "message": {"to": "CONTACTS", "title": "Automate it",
        "body": "Workflows run your weekly reports for you.", "style": "TOAST"}}]},
    {"key": "success-plan", "name": "Success plan", "target": "30d", "steps": [
      {"key": "agree-plan", "kind": "TASK", "task": {"title": "Agree the success plan",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "21d"}},
      {"key": "sponsor-check-in", "kind": "TASK", "task": {"title": "Executive check-in on the success plan",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "EXECUTIVE_SPONSOR"}, "dueIn": "28d"}}]}
  ]
}`,
	},
	{
		key: JourneyRenewal, name: "Renewal", stage: "RENEWAL",
		description: "The run-up to the renewal: value review, next year's goals, the commercial agreement.",
		definition: `{
  "trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "RENEWAL"},
  "reentry": {"policy": "COOLDOWN", "cooldown": "6mo"},
  "milestones": [
    {"key": "value-review", "name": "Value review", "target": "21d", "steps": [
      {"key": "prepare-review", "kind": "TASK", "task": {"title": "Prepare the value review",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "10d"}},
      {"key": "review-invite", "kind": "SEND_EMAIL", "email": {"to": "CONTACTS_WITH_PERSONA", "personas": ["decision-maker"],
        "subject": "Your year with Acme Cloud", "body": "Hi {{contact.firstName}}, could we find 30 minutes to look back at the year?"}}]},
    {"key": "goals", "name": "Goals for next year", "target": "21d", "steps": [
      {"key": "goals-discussion", "kind": "TASK", "task": {"title": "Hold the goals discussion",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "14d"}}]},
    {"key": "commercial", "name": "Commercial agreement", "target": "30d", "steps": [
      {"key": "renewal-quote", "kind": "TASK", "task": {"title": "Send the renewal quote",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "SALES"}, "dueIn": "10d", "priority": "HIGH"}},
      {"key": "order-form", "kind": "TASK", "task": {"title": "Get the order form signed",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "SALES"}, "dueIn": "25d", "priority": "HIGH"}}]}
  ]
}`,
	},
	{
		key: JourneyRelaunch, name: "Relaunch", stage: "RELAUNCH",
		description: "Restart a customer that never got off the ground or went through a big change.",
		definition: `{
  "trigger": {"kind": "MANUAL"},
  "milestones": [
    {"key": "rediscovery", "name": "Rediscovery", "target": "14d", "steps": [
      {"key": "what-changed", "kind": "TASK", "task": {"title": "Find out what changed (acquisition, process, people)",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "7d", "priority": "HIGH"}},
      {"key": "new-stakeholders", "kind": "TASK", "task": {"title": "Meet the new stakeholders",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "EXECUTIVE_SPONSOR"}, "dueIn": "10d"}}]},
    {"key": "reset-plan", "name": "Reset the plan", "target": "14d", "steps": [
      {"key": "relaunch-plan", "kind": "TASK", "task": {"title": "Agree a relaunch plan",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "10d"}},
      {"key": "configuration-audit", "kind": "TASK", "task": {"title": "Audit the configuration",
        "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}, "dueIn": "10d"}}]},
    {"key": "running-again", "name": "Up and running again", "target": "21d", "steps": [
      {"key": "active-again", "kind": "CHECKPOINT", "condition": {"event": "login", "op": "within", "duration": "7d"}},
      {"key": "relaunch-email", "kind": "SEND_EMAIL", "email": {"to": "CONTACTS",
        "subject": "A fresh start with Acme Cloud", "body": "Hi {{contact.firstName}}, here is what changes for {{account.name}} from today."}}]}
  ]
}`,
	},
}

// createDemoJourneys creates and publishes the demo journeys (Onboarding, its analytics add-on
// copy with extra milestones, Adoption, Renewal and Relaunch) and returns them by key. It does
// nothing and returns nil when the workspace already has journeys.
func createDemoJourneys(ctx context.Context, defs *journey.Definitions, t db.Tenant, by uuid.UUID) (map[string]*db.Journey, error) {
	existing, err := defs.List(ctx, t, journey.ListFilter{})
	if err != nil || len(existing) > 0 {
		return nil, err
	}
	out := map[string]*db.Journey{}
	publish := func(j *db.Journey) error {
		p, err := defs.Publish(ctx, t, j.ID, by)
		if err != nil {
			return fmt.Errorf("publish demo journey %q: %w", j.Name, err)
		}
		out[p.Key] = p
		return nil
	}
	for _, dj := range demoJourneys {
		j, err := defs.Create(ctx, t, by, journey.NewJourney{
			Key: dj.key, Name: dj.name, Description: dj.description, Stage: dj.stage, Definition: json.RawMessage(dj.definition),
		})
		if err != nil {
			return nil, fmt.Errorf("create demo journey %q: %w", dj.name, err)
		}
		if err := publish(j); err != nil {
			return nil, err
		}
		if dj.key != JourneyOnboarding {
			continue
		}
		// The add-on variant: a copy of Onboarding with its own milestones, enrolled by hand.
		cp, err := defs.Copy(ctx, t, j.ID, "Onboarding — Analytics add-on", JourneyOnboardingAddOn, by)
		if err != nil {
			return nil, fmt.Errorf("copy demo onboarding: %w", err)
		}
		if _, err := defs.Update(ctx, t, cp.ID, journey.Patch{Description: ptr("Onboarding for customers who bought the analytics module and its consulting package.")}); err != nil {
			return nil, err
		}
		if _, err := defs.UpdateSettings(ctx, t, cp.ID, journey.Settings{Trigger: json.RawMessage(`{"kind": "MANUAL"}`)}); err != nil {
			return nil, err
		}
		for _, m := range addOnMilestones {
			d, err := journey.Draft(cp)
			if err != nil {
				return nil, err
			}
			_, at, _ := d.Milestone(m.after)
			if cp, err = defs.AddMilestone(ctx, t, cp.ID, m.in, ptr(at+1)); err != nil {
				return nil, fmt.Errorf("add demo milestone %q: %w", m.in.Name, err)
			}
			for _, s := range m.steps {
				if cp, err = defs.AddStep(ctx, t, cp.ID, m.in.Key, s, nil); err != nil {
					return nil, fmt.Errorf("add demo step %q: %w", s.Key, err)
				}
			}
		}
		if err := publish(cp); err != nil {
			return nil, err
		}
	}
	return out, nil
}
