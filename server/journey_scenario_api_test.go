package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

// Journey scenario tests: the seed's journeys end to end through the API with River running
// (the harness runs the journey status job every second), their durations cut to seconds. Each
// runs on a database of its own, so its status changes and play steps are worked by its own
// server, not by other tests' servers.

// newJourneyScn is newScn on an isolated database.
func newJourneyScn(t *testing.T) *scn {
	t.Helper()
	env := servertest.New(t, servertest.WithIsolatedDB())
	ws := env.NewWorkspace(t)
	owner, _ := ws.AddUser(t, db.RoleCSM)
	return &scn{t: t, env: env, ws: ws, ownerID: nodeID("User", owner)}
}

type jStep struct {
	Key    string
	Kind   string
	Status string
	Task   *struct {
		ID       string
		Title    string
		Status   string
		Assignee *struct{ ID string }
	}
}

type jMilestone struct {
	Key    string
	Name   string
	Status string
	Steps  []jStep
}

type jEnrollment struct {
	ID         string
	Status     string
	Version    int
	Attempt    int
	Source     string
	RestartOf  *struct{ ID string }
	Journey    struct{ ID, Key string }
	Account    struct{ ID string }
	Milestones []jMilestone
}

const jEnrollmentFields = `id status version attempt source restartOf { id } journey { id key } account { id }
  milestones { key name status steps { key kind status task { id title status assignee { id } } } }`

func (e jEnrollment) milestone(t *testing.T, key string) jMilestone {
	t.Helper()
	for _, m := range e.Milestones {
		if m.Key == key {
			return m
		}
	}
	t.Fatalf("no milestone %q in %+v", key, e.Milestones)
	return jMilestone{}
}

func (m jMilestone) step(t *testing.T, key string) jStep {
	t.Helper()
	for _, s := range m.Steps {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no step %q in milestone %s", key, m.Key)
	return jStep{}
}

// publishJourney creates a journey with a whole definition and publishes it.
func (s *scn) publishJourney(name, key, stage, def string) string {
	s.t.Helper()
	var created struct{ CreateJourney struct{ ID string } }
	s.do(`mutation($in: CreateJourneyInput!) { createJourney(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"name": name, "key": key, "stage": stage, "definition": json.RawMessage(def)}}, &created)
	s.publish(created.CreateJourney.ID)
	return created.CreateJourney.ID
}

func (s *scn) publish(journeyID string) int {
	s.t.Helper()
	var out struct{ PublishJourney struct{ LatestVersion int } }
	s.do(`mutation($id: ID!) { publishJourney(id: $id) { latestVersion } }`, map[string]any{"id": journeyID}, &out)
	return out.PublishJourney.LatestVersion
}

// enrollments lists accountID's enrolments (in journeyID when set), newest first.
func (s *scn) enrollments(journeyID, accountID string) []jEnrollment {
	s.t.Helper()
	var out struct {
		JourneyEnrollments struct{ Edges []struct{ Node jEnrollment } }
	}
	vars := map[string]any{"a": accountID}
	if journeyID != "" {
		vars["j"] = journeyID
	}
	s.do(`query($j: ID, $a: ID) { journeyEnrollments(journeyId: $j, accountId: $a, first: 50) { edges { node { `+jEnrollmentFields+` } } } }`, vars, &out)
	var list []jEnrollment
	for _, e := range out.JourneyEnrollments.Edges {
		list = append(list, e.Node)
	}
	return list
}

func (s *scn) enrollment(id string) jEnrollment {
	s.t.Helper()
	var out struct{ JourneyEnrollment jEnrollment }
	s.do(`query($id: ID!) { journeyEnrollment(id: $id) { `+jEnrollmentFields+` } }`, map[string]any{"id": id}, &out)
	return out.JourneyEnrollment
}

func (s *scn) completeTask(id string) {
	s.t.Helper()
	s.do(`mutation($id: ID!) { completeTask(id: $id) { id } }`, map[string]any{"id": id}, nil)
}

// team puts one new user per team role key on the account's team and returns their ids by key.
func (s *scn) team(accountID string, keys ...string) map[string]string {
	s.t.Helper()
	var roles struct{ TeamRoles []struct{ ID, Key string } }
	s.do(`{ teamRoles { id key } }`, nil, &roles)
	byKey := map[string]string{}
	for _, r := range roles.TeamRoles {
		byKey[r.Key] = r.ID
	}
	users := map[string]string{}
	var members []map[string]any
	for _, k := range keys {
		id, _ := s.ws.AddUser(s.t, db.RoleCSM)
		users[k] = nodeID("User", id)
		require.NotEmpty(s.t, byKey[k], k)
		members = append(members, map[string]any{"teamRoleId": byKey[k], "userId": users[k]})
	}
	s.do(`mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
		map[string]any{"a": accountID, "m": members}, nil)
	return users
}

// The seed's onboarding journey: kickoff with tasks for the CSM and Sales, technical setup
// with an integration_connected checkpoint, training with tasks for several roles, go-live.
const scnOnboarding = `{
  "trigger": {"kind": "EVENT", "event": "deal_closed"},
  "milestones": [
    {"key": "kickoff", "name": "Kickoff", "target": "1h", "steps": [
      {"key": "kickoff-call", "kind": "TASK", "task": {"title": "Kickoff call with {{account.name}}", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "30m"}},
      {"key": "sales-handover", "kind": "TASK", "task": {"title": "Sales handover for {{account.name}}", "assignee": {"kind": "TEAM_ROLE", "teamRole": "SALES"}, "dueIn": "30m"}}]},
    {"key": "setup", "name": "Technical setup", "target": "1h", "steps": [
      {"key": "integration", "kind": "CHECKPOINT", "condition": {"event": "integration_connected", "op": "exists"}}]},
    {"key": "training", "name": "Training", "target": "1h", "steps": [
      {"key": "train-admins", "kind": "TASK", "task": {"title": "Train the admins", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}}},
      {"key": "train-engineers", "kind": "TASK", "task": {"title": "Train the engineers", "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}}},
      {"key": "exec-briefing", "kind": "TASK", "task": {"title": "Executive briefing", "assignee": {"kind": "TEAM_ROLE", "teamRole": "EXECUTIVE_SPONSOR"}}}]},
    {"key": "go-live", "name": "Go-live", "target": "1h", "steps": [
      {"key": "go-live-call", "kind": "TASK", "task": {"title": "Go-live call", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}}}]}
  ]}`

func TestScenarioClosedDealOnboardingThenAdoption(t *testing.T) {
	t.Parallel()
	s := newJourneyScn(t)
	onboarding := s.publishJourney("Onboarding", "onboarding", "ONBOARDING", scnOnboarding)
	adoption := s.publishJourney("Adoption", "adoption", "ADOPTION", `{"trigger": {"kind": "MANUAL"}, "milestones": [
	  {"key": "first-value", "name": "First value", "target": "1h", "steps": [
	    {"key": "usage-review", "kind": "TASK", "task": {"title": "Review usage", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}}}]}]}`)
	// Adoption follows onboarding: a play listening for onboarding's completion enrols the account.
	publishPlay(t, s.env, s.ws.AdminToken, "Adoption follows onboarding", "ACCOUNT", `{
	  "trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["COMPLETED"]},
	  "steps": [{"id": "enrol", "kind": "ENROLL_IN_JOURNEY", "journey": "adoption"}]}`)

	acme := s.account("Acme Corp", nil)
	team := s.team(acme, "CSM", "SALES", "IMPLEMENTATION", "EXECUTIVE_SPONSOR")
	other := s.account("Bystander Inc", nil)

	// Sales just closed a deal: the account is enrolled and its kickoff tasks go to the CSM and Sales.
	s.event(acme, "deal_closed", time.Now())
	list := s.enrollments(onboarding, acme)
	require.Len(t, list, 1)
	enr := list[0]
	require.Equal(t, "ACTIVE", enr.Status)
	require.Equal(t, "TRIGGER", enr.Source)
	kickoff := enr.milestone(t, "kickoff")
	require.Equal(t, "ON_TRACK", kickoff.Status)
	call, handover := kickoff.step(t, "kickoff-call"), kickoff.step(t, "sales-handover")
	require.Equal(t, "Kickoff call with Acme Corp", call.Task.Title)
	require.Equal(t, team["CSM"], call.Task.Assignee.ID)
	require.Equal(t, "Sales handover for Acme Corp", handover.Task.Title)
	require.Equal(t, team["SALES"], handover.Task.Assignee.ID)
	require.Equal(t, "NOT_STARTED", enr.milestone(t, "setup").Status)
	require.Empty(t, s.enrollments(onboarding, other))

	// Completing the kickoff tasks starts the technical setup.
	s.completeTask(call.Task.ID)
	require.Equal(t, "ON_TRACK", s.enrollment(enr.ID).milestone(t, "kickoff").Status)
	s.completeTask(handover.Task.ID)
	enr = s.enrollment(enr.ID)
	require.Equal(t, "DONE", enr.milestone(t, "kickoff").Status)
	require.Equal(t, "ON_TRACK", enr.milestone(t, "setup").Status)

	// The integration checkpoint completes when the event is recorded.
	s.event(acme, "integration_connected", time.Now())
	enr = s.enrollment(enr.ID)
	require.Equal(t, "DONE", enr.milestone(t, "setup").step(t, "integration").Status)
	require.Equal(t, "DONE", enr.milestone(t, "setup").Status)

	// Training tasks go to several roles.
	training := enr.milestone(t, "training")
	require.Equal(t, "ON_TRACK", training.Status)
	want := map[string]string{"train-admins": "CSM", "train-engineers": "IMPLEMENTATION", "exec-briefing": "EXECUTIVE_SPONSOR"}
	for key, role := range want {
		st := training.step(t, key)
		require.NotNil(t, st.Task, key)
		require.Equal(t, team[role], st.Task.Assignee.ID, key)
		s.completeTask(st.Task.ID)
	}
	enr = s.enrollment(enr.ID)
	require.Equal(t, "DONE", enr.milestone(t, "training").Status)
	s.completeTask(enr.milestone(t, "go-live").step(t, "go-live-call").Task.ID)
	require.Equal(t, "COMPLETED", s.enrollment(enr.ID).Status)

	// ... and adoption follows.
	require.Eventually(t, func() bool { return len(s.enrollments(adoption, acme)) == 1 }, 30*time.Second, 200*time.Millisecond,
		"the play did not enrol the account in adoption")
	next := s.enrollments(adoption, acme)[0]
	require.Equal(t, "PLAY", next.Source)
	require.Equal(t, "ON_TRACK", next.milestone(t, "first-value").Status)
	require.Empty(t, s.enrollments(adoption, other))
}

func TestScenarioCopiedJourneyRunsIndependently(t *testing.T) {
	t.Parallel()
	s := newJourneyScn(t)
	original := s.publishJourney("Onboarding", "onboarding", "ONBOARDING", scnOnboarding)
	// An add-on onboarding: a copy with an extra milestone, enrolled by hand.
	var copied struct{ CopyJourney struct{ ID string } }
	s.do(`mutation($id: ID!) { copyJourney(id: $id, name: "Onboarding with consulting", key: "onboarding-addon") { id } }`,
		map[string]any{"id": original}, &copied)
	addon := copied.CopyJourney.ID
	s.do(`mutation($j: ID!, $t: JSON) { updateJourneySettings(id: $j, input: {trigger: $t}) { id } }`,
		map[string]any{"j": addon, "t": json.RawMessage(`{"kind": "MANUAL"}`)}, nil)
	s.do(`mutation($j: ID!) { addMilestone(journeyId: $j, position: 1, input: {key: "consulting", name: "Consulting plan", targetDuration: "1h"}) { id } }`,
		map[string]any{"j": addon}, nil)
	s.do(`mutation($j: ID!, $task: JSON) { addJourneyStep(journeyId: $j, milestoneKey: "consulting", input: {key: "plan", kind: TASK, task: $task}) { id } }`,
		map[string]any{"j": addon, "task": json.RawMessage(`{"title": "Agree the consulting plan", "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}}`)}, nil)
	require.Equal(t, 1, s.publish(addon))

	acme := s.account("Acme Corp", nil)
	team := s.team(acme, "CSM", "SALES", "IMPLEMENTATION")
	var enrolled struct{ EnrollInJourney []jEnrollment }
	s.do(`mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { `+jEnrollmentFields+` } }`,
		map[string]any{"j": addon, "a": []string{acme}}, &enrolled)
	require.Len(t, enrolled.EnrollInJourney, 1)
	addonEnr := enrolled.EnrollInJourney[0]
	require.Equal(t, "onboarding-addon", addonEnr.Journey.Key)
	require.Len(t, addonEnr.Milestones, 5)
	// The closed deal enrols the account in the original too: two independent enrolments.
	s.event(acme, "deal_closed", time.Now())
	orig := s.enrollments(original, acme)
	require.Len(t, orig, 1)
	require.Len(t, orig[0].Milestones, 4)

	// Finishing the original's kickoff moves only the original.
	for _, st := range orig[0].milestone(t, "kickoff").Steps {
		s.completeTask(st.Task.ID)
	}
	require.Equal(t, "ON_TRACK", s.enrollment(orig[0].ID).milestone(t, "setup").Status)
	addonEnr = s.enrollment(addonEnr.ID)
	require.Equal(t, "ON_TRACK", addonEnr.milestone(t, "kickoff").Status)
	require.Equal(t, "NOT_STARTED", addonEnr.milestone(t, "consulting").Status)
	for _, st := range addonEnr.milestone(t, "kickoff").Steps {
		require.Equal(t, "OPEN", st.Task.Status)
		s.completeTask(st.Task.ID)
	}
	addonEnr = s.enrollment(addonEnr.ID)
	consulting := addonEnr.milestone(t, "consulting")
	require.Equal(t, "ON_TRACK", consulting.Status)
	require.Equal(t, team["IMPLEMENTATION"], consulting.step(t, "plan").Task.Assignee.ID)
	require.Equal(t, "NOT_STARTED", addonEnr.milestone(t, "setup").Status)
	require.Equal(t, "ON_TRACK", s.enrollment(orig[0].ID).milestone(t, "setup").Status)
}

func TestScenarioBehindMilestoneFiresPlay(t *testing.T) {
	t.Parallel()
	s := newJourneyScn(t)
	s.publishJourney("Onboarding", "onboarding", "ONBOARDING", `{"trigger": {"kind": "MANUAL"}, "milestones": [
	  {"key": "setup", "name": "Technical setup", "target": "3s", "steps": [
	    {"key": "integration", "kind": "CHECKPOINT", "condition": {"event": "integration_connected", "op": "exists"}}]}]}`)
	// Falling behind on the integration: an in-app message now, an email a little later.
	playID := publishPlay(t, s.env, s.ws.AdminToken, "Integration nudge", "ACCOUNT", `{
	  "trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"], "milestone": "setup"},
	  "steps": [
	    {"id": "banner", "kind": "IN_APP_MESSAGE", "to": "CONTACTS", "title": "Connect your integration", "body": "It takes five minutes."},
	    {"id": "pause", "kind": "WAIT", "duration": "4s"},
	    {"id": "mail", "kind": "SEND_EMAIL", "to": "CONTACTS", "subject": "Still need a hand with the integration?", "body": "Hi {{contact.firstName}}"}]}`)
	acme := s.account("Acme Corp", nil)
	dana := s.contact(acme, "Dana Admin", "dana@acme.example", nil)
	var journeys struct{ Journeys []struct{ ID, Key string } }
	s.do(`{ journeys { id key } }`, nil, &journeys)
	var enrolled struct{ EnrollInJourney []struct{ ID string } }
	s.do(`mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { id } }`,
		map[string]any{"j": journeys.Journeys[0].ID, "a": []string{acme}}, &enrolled)
	id := enrolled.EnrollInJourney[0].ID

	require.Empty(t, s.inApp(dana), "nothing while the milestone is on track")
	require.Eventually(t, func() bool { return s.enrollment(id).milestone(t, "setup").Status == "BEHIND" },
		15*time.Second, 100*time.Millisecond, "setup never fell behind")
	// It went through AT_RISK on the way (the status job may pass both thresholds in one go).
	var times struct {
		JourneyEnrollment struct {
			Milestones []struct{ StartedAt, AtRiskAt, BehindAt time.Time }
		}
	}
	s.do(`query($id: ID!) { journeyEnrollment(id: $id) { milestones { startedAt atRiskAt behindAt } } }`, map[string]any{"id": id}, &times)
	m := times.JourneyEnrollment.Milestones[0]
	require.Equal(t, 2250*time.Millisecond, m.AtRiskAt.Sub(m.StartedAt), "at risk after 75% of the 3s target")
	require.Equal(t, 3*time.Second, m.BehindAt.Sub(m.StartedAt))
	require.Eventually(t, func() bool { return len(s.inApp(dana)) == 1 }, 15*time.Second, 100*time.Millisecond, "no in-app message")
	require.Equal(t, []string{"Connect your integration"}, s.inApp(dana))
	require.Empty(t, s.mailbox("dana@acme.example"), "the email waits")
	require.Eventually(t, func() bool { return len(s.mailbox("dana@acme.example")) == 1 }, 20*time.Second, 200*time.Millisecond, "no email")
	require.Equal(t, "Still need a hand with the integration?", s.mailbox("dana@acme.example")[0].Subject)
	runs := s.runs(playID)
	require.Len(t, runs, 1)

	// Connecting the integration completes the milestone and the journey.
	s.event(acme, "integration_connected", time.Now())
	enr := s.enrollment(id)
	require.Equal(t, "DONE", enr.milestone(t, "setup").Status)
	require.Equal(t, "COMPLETED", enr.Status)
}

func TestScenarioRelaunchAndMigration(t *testing.T) {
	t.Parallel()
	s := newJourneyScn(t)
	journeyID := s.publishJourney("Relaunch", "relaunch", "ONBOARDING", `{"trigger": {"kind": "MANUAL"}, "milestones": [
	  {"key": "reset", "name": "Reset goals", "target": "1h", "steps": [
	    {"key": "goals", "kind": "TASK", "task": {"title": "Agree new goals", "assignee": {"kind": "OWNER"}}}]},
	  {"key": "restart", "name": "Back up and running", "target": "1h", "steps": [
	    {"key": "check", "kind": "TASK", "task": {"title": "Check usage", "assignee": {"kind": "OWNER"}}}]}]}`)
	acme := s.account("Acme Corp", nil)
	beta := s.account("Beta Corp", nil)
	var enrolled struct{ EnrollInJourney []jEnrollment }
	s.do(`mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { `+jEnrollmentFields+` } }`,
		map[string]any{"j": journeyID, "a": []string{acme, beta}}, &enrolled)
	require.Len(t, enrolled.EnrollInJourney, 2)
	first := enrolled.EnrollInJourney[0]
	require.Equal(t, s.ownerID, first.milestone(t, "reset").step(t, "goals").Task.Assignee.ID)

	// One live enrolment per journey and account.
	resp := s.env.Do(t, s.ws.AdminToken, `mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { id } }`,
		map[string]any{"j": journeyID, "a": []string{acme}})
	require.Equal(t, "CONFLICT", resp.Code())
	require.Equal(t, "accountIds[0]", resp.Field())

	// Relaunch: the attempt ends, a new one starts from the first milestone, history kept.
	s.completeTask(first.milestone(t, "reset").step(t, "goals").Task.ID)
	require.Equal(t, "ON_TRACK", s.enrollment(first.ID).milestone(t, "restart").Status)
	var restarted struct{ RestartEnrollment jEnrollment }
	s.do(`mutation($id: ID!) { restartEnrollment(id: $id) { `+jEnrollmentFields+` } }`, map[string]any{"id": first.ID}, &restarted)
	second := restarted.RestartEnrollment
	require.Equal(t, 2, second.Attempt)
	require.Equal(t, first.ID, second.RestartOf.ID)
	require.Equal(t, "ON_TRACK", second.milestone(t, "reset").Status)
	old := s.enrollment(first.ID)
	require.Equal(t, "CANCELLED", old.Status)
	require.Equal(t, "DONE", old.milestone(t, "reset").Status, "the earlier attempt keeps its history")
	require.Len(t, s.enrollments(journeyID, acme), 2)

	// Version 2 keeps both milestones and adds one: the live enrolments move.
	s.do(`mutation($j: ID!) { addMilestone(journeyId: $j, input: {key: "celebrate", name: "Celebrate", targetDuration: "1h"}) { id } }`,
		map[string]any{"j": journeyID}, nil)
	s.do(`mutation($j: ID!, $task: JSON) { addJourneyStep(journeyId: $j, milestoneKey: "celebrate", input: {key: "thanks", kind: TASK, task: $task}) { id } }`,
		map[string]any{"j": journeyID, "task": json.RawMessage(`{"title": "Send thanks", "assignee": {"kind": "OWNER"}}`)}, nil)
	require.Equal(t, 2, s.publish(journeyID))
	var migrated struct{ MigrateJourneyEnrollments int }
	s.do(`mutation($j: ID!) { migrateJourneyEnrollments(journeyId: $j, fromVersion: 1, toVersion: 2) }`, map[string]any{"j": journeyID}, &migrated)
	require.Equal(t, 2, migrated.MigrateJourneyEnrollments)
	second = s.enrollment(second.ID)
	require.Equal(t, 2, second.Version)
	require.Equal(t, "NOT_STARTED", second.milestone(t, "celebrate").Status)

	// Version 3 drops "reset": acme's attempt 2 and beta are in it, so the migration is refused.
	s.do(`mutation($j: ID!) { deleteMilestone(journeyId: $j, key: "reset") { id } }`, map[string]any{"j": journeyID}, nil)
	require.Equal(t, 3, s.publish(journeyID))
	resp = s.env.Do(t, s.ws.AdminToken, `mutation($j: ID!) { migrateJourneyEnrollments(journeyId: $j, fromVersion: 2, toVersion: 3) }`,
		map[string]any{"j": journeyID})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "toVersion", resp.Field())
	require.Contains(t, resp.Errors[0].Message, "reset")
	require.Equal(t, 2, s.enrollment(second.ID).Version, "nothing moved")
	require.Equal(t, 1, s.enrollment(first.ID).Version, "ended attempts stay on their version")
}

func TestJourneyEnrollmentsAccessAndIsolation(t *testing.T) {
	t.Parallel()
	s := newJourneyScn(t)
	journeyID := s.publishJourney("Renewal", "renewal", "RENEWAL", `{"trigger": {"kind": "MANUAL"}, "milestones": [
	  {"key": "prepare", "name": "Prepare", "target": "30d", "steps": [
	    {"key": "review", "kind": "TASK", "task": {"title": "Prepare the renewal", "assignee": {"kind": "OWNER"}}}]}]}`)
	acme := s.account("Acme Corp", map[string]any{"stage": "RENEWAL"})
	beta := s.account("Beta Corp", map[string]any{"stage": "RENEWAL"})
	s.account("Gamma Corp", nil)
	_, viewerToken := s.ws.AddUser(t, db.RoleViewer)

	// A viewer reads but may not enrol.
	resp := s.env.Do(t, viewerToken, `mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { id } }`,
		map[string]any{"j": journeyID, "a": []string{acme}})
	require.Equal(t, "FORBIDDEN", resp.Code())

	// Enrol every account in RENEWAL by filter.
	var matched struct{ EnrollMatching int }
	s.do(`mutation($j: ID!) { enrollMatching(journeyId: $j, filter: {stage: [RENEWAL]}) }`, map[string]any{"j": journeyID}, &matched)
	require.Equal(t, 2, matched.EnrollMatching)
	s.do(`mutation($j: ID!) { enrollMatching(journeyId: $j, filter: {stage: [RENEWAL]}) }`, map[string]any{"j": journeyID}, &matched)
	require.Equal(t, 0, matched.EnrollMatching, "live enrolments are passed over")
	resp = s.env.Do(t, s.ws.AdminToken, `mutation($j: ID!, $c: JSON) { enrollMatching(journeyId: $j, condition: $c) }`,
		map[string]any{"j": journeyID, "c": json.RawMessage(`{"field": "account.nope", "op": "exists"}`)})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())

	// The account shows its enrolments; the viewer reads them.
	var acc struct {
		Account struct {
			JourneyEnrollments []struct {
				ID      string
				Status  string
				Journey struct{ Key string }
			}
		}
	}
	resp = s.env.Do(t, viewerToken, `query($id: ID!) { account(id: $id) { journeyEnrollments { id status journey { key } } } }`, map[string]any{"id": beta})
	resp.Decode(t, &acc)
	require.Len(t, acc.Account.JourneyEnrollments, 1)
	require.Equal(t, "renewal", acc.Account.JourneyEnrollments[0].Journey.Key)
	id := acc.Account.JourneyEnrollments[0].ID
	var node struct{ Node struct{ Status string } }
	s.do(`query($id: ID!) { node(id: $id) { ... on JourneyEnrollment { status } } }`, map[string]any{"id": id}, &node)
	require.Equal(t, "ACTIVE", node.Node.Status)

	// Another workspace sees nothing of it and cannot touch it.
	other := s.env.NewWorkspace(t)
	resp = s.env.Do(t, other.AdminToken, `query($id: ID!) { journeyEnrollment(id: $id) { id } }`, map[string]any{"id": id})
	require.Equal(t, "NOT_FOUND", resp.Code())
	resp = s.env.Do(t, other.AdminToken, `mutation($id: ID!) { cancelEnrollment(id: $id) { id } }`, map[string]any{"id": id})
	require.Equal(t, "NOT_FOUND", resp.Code())
	resp = s.env.Do(t, other.AdminToken, `mutation($j: ID!, $a: [ID!]!) { enrollInJourney(journeyId: $j, accountIds: $a) { id } }`,
		map[string]any{"j": journeyID, "a": []string{acme}})
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "journeyId", resp.Field())
	var list struct {
		JourneyEnrollments struct {
			Edges []struct{ Node struct{ ID string } }
		}
	}
	resp = s.env.Do(t, other.AdminToken, `{ journeyEnrollments { edges { node { id } } } }`, nil)
	resp.Decode(t, &list)
	require.Empty(t, list.JourneyEnrollments.Edges)

	// Cancel with a reason; a second cancel is a conflict.
	var cancelled struct {
		CancelEnrollment struct{ Status, CancelReason string }
	}
	s.do(`mutation($id: ID!) { cancelEnrollment(id: $id, reason: "customer churned") { status cancelReason } }`, map[string]any{"id": id}, &cancelled)
	require.Equal(t, "CANCELLED", cancelled.CancelEnrollment.Status)
	require.Equal(t, "customer churned", cancelled.CancelEnrollment.CancelReason)
	resp = s.env.Do(t, s.ws.AdminToken, `mutation($id: ID!) { cancelEnrollment(id: $id) { id } }`, map[string]any{"id": id})
	require.Equal(t, "CONFLICT", resp.Code())

	// Paging: two enrolments, one per page.
	var page struct {
		JourneyEnrollments struct {
			Edges    []struct{ Node struct{ ID string } }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	s.do(`query($j: ID) { journeyEnrollments(journeyId: $j, first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"j": journeyID}, &page)
	require.Len(t, page.JourneyEnrollments.Edges, 1)
	require.True(t, page.JourneyEnrollments.PageInfo.HasNextPage)
	firstID := page.JourneyEnrollments.Edges[0].Node.ID
	s.do(`query($j: ID, $after: String) { journeyEnrollments(journeyId: $j, first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"j": journeyID, "after": page.JourneyEnrollments.PageInfo.EndCursor}, &page)
	require.Len(t, page.JourneyEnrollments.Edges, 1)
	require.NotEqual(t, firstID, page.JourneyEnrollments.Edges[0].Node.ID)
	require.False(t, page.JourneyEnrollments.PageInfo.HasNextPage)
}
