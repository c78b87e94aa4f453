package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/server/servertest"
)

// Scenario tests: the demo plays, and small custom ones, end to end through the API with River
// running (the harness sweeps SCHEDULE plays every second), their durations cut to seconds.

// scn is one scenario's world: a server, a workspace and its admin, and an owner.
type scn struct {
	t       *testing.T
	env     *servertest.Env
	ws      *servertest.Workspace
	ownerID string
}

func newScn(t *testing.T) *scn {
	t.Helper()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	owner, _ := ws.AddUser(t, db.RoleCSM)
	return &scn{t: t, env: env, ws: ws, ownerID: nodeID("User", owner)}
}

// do runs one operation as the admin and decodes its data into out (nil: discard).
func (s *scn) do(query string, vars map[string]any, out any) {
	s.t.Helper()
	resp := s.env.Do(s.t, s.ws.AdminToken, query, vars)
	if out == nil {
		require.Empty(s.t, resp.Errors)
		return
	}
	resp.Decode(s.t, out)
}

// account creates an account owned by the scenario's owner; input adds or overrides fields.
func (s *scn) account(name string, input map[string]any) string {
	s.t.Helper()
	in := map[string]any{"name": name, "ownerId": s.ownerID, "stage": "GROWTH"}
	for k, v := range input {
		in[k] = v
	}
	var out struct{ CreateAccount struct{ ID string } }
	s.do(`mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateAccount.ID
}

// contact creates a contact of accountID; input adds fields (persona, emailOptOut).
func (s *scn) contact(accountID, name, email string, input map[string]any) string {
	s.t.Helper()
	in := map[string]any{"accountId": accountID, "name": name, "email": email}
	for k, v := range input {
		in[k] = v
	}
	var out struct{ CreateContact struct{ ID string } }
	s.do(`mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateContact.ID
}

// event records one event of accountID at when.
func (s *scn) event(accountID, name string, at time.Time) {
	s.t.Helper()
	var out struct{ RecordEvents struct{ Accepted int } }
	s.do(`mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{{
		"clientEventId": uuid.NewString(), "accountId": accountID, "name": name, "occurredAt": at.UTC().Format(time.RFC3339Nano)}}}, &out)
	require.Equal(s.t, 1, out.RecordEvents.Accepted)
}

// timeline adds a timeline entry of kind to accountID that occurred at.
func (s *scn) timeline(accountID, kind string, at time.Time) {
	s.t.Helper()
	s.do(`mutation($in: TimelineEntryInput!) { addTimelineEntry(input: $in) { id } }`, map[string]any{"in": map[string]any{
		"accountId": accountID, "kind": kind, "body": "logged by the test", "occurredAt": at.UTC().Format(time.RFC3339Nano)}}, nil)
}

type scnTask struct {
	Title    string
	Priority string
	Assignee *struct{ ID string }
}

func (s *scn) tasks(accountID string) []scnTask {
	s.t.Helper()
	var out struct {
		Tasks struct{ Edges []struct{ Node scnTask } }
	}
	s.do(`query($a: ID) { tasks(first: 100, filter: {accountId: $a}) { edges { node { title priority assignee { id } } } } }`,
		map[string]any{"a": accountID}, &out)
	var tasks []scnTask
	for _, e := range out.Tasks.Edges {
		tasks = append(tasks, e.Node)
	}
	return tasks
}

type scnMail struct{ To, Subject string }

func (s *scn) mailbox(to string) []scnMail {
	s.t.Helper()
	var out struct{ Mailbox []scnMail }
	s.do(`query($to: String) { mailbox(to: $to, first: 200) { to subject } }`, map[string]any{"to": to}, &out)
	return out.Mailbox
}

func (s *scn) inApp(contactID string) []string {
	s.t.Helper()
	var out struct{ InAppMessages []struct{ Title string } }
	s.do(`query($c: ID!) { inAppMessages(contactId: $c) { title } }`, map[string]any{"c": contactID}, &out)
	var titles []string
	for _, m := range out.InAppMessages {
		titles = append(titles, m.Title)
	}
	return titles
}

type scnStep struct {
	StepID    string
	Iteration int
	Status    string
	Outcome   *string
}

type scnRun struct {
	ID      string
	Status  string
	Outcome *string
	Account struct{ ID string }
	Steps   []scnStep
}

func (s *scn) runs(playID string) []scnRun {
	s.t.Helper()
	var out struct {
		PlayRuns struct{ Edges []struct{ Node scnRun } }
	}
	s.do(`query($p: ID) { playRuns(first: 100, filter: {playId: $p}) { edges { node { id status outcome account { id } steps { stepId iteration status outcome } } } } }`,
		map[string]any{"p": playID}, &out)
	var runs []scnRun
	for _, e := range out.PlayRuns.Edges {
		runs = append(runs, e.Node)
	}
	return runs
}

// waitRun waits until playID has a run of accountID for which ok holds, and returns it.
func (s *scn) waitRun(playID, accountID string, within time.Duration, what string, ok func(scnRun) bool) scnRun {
	s.t.Helper()
	var got scnRun
	require.Eventually(s.t, func() bool {
		for _, r := range s.runs(playID) {
			if r.Account.ID == accountID && ok(r) {
				got = r
				return true
			}
		}
		return false
	}, within, 200*time.Millisecond, what)
	return got
}

func (r scnRun) step(id string) (scnStep, bool) {
	for _, st := range r.Steps {
		if st.StepID == id {
			return st, true
		}
	}
	return scnStep{}, false
}

// shorten rewrites a demo play's durations (quoted, so "4d" does not touch "14d").
func shorten(def string, pairs ...string) string {
	for i := 0; i < len(pairs); i += 2 {
		from, to := `"`+pairs[i]+`"`, `"`+pairs[i+1]+`"`
		if !strings.Contains(def, from) {
			panic(fmt.Sprintf("shorten: %s not in the definition", from))
		}
		def = strings.ReplaceAll(def, from, to)
	}
	return def
}

func TestScenarioInactiveFourteenDays(t *testing.T) {
	t.Parallel()
	s := newScn(t)
	p := play.InactiveFourteenDays()
	playID := publishPlay(t, s.env, s.ws.AdminToken, p.Name, string(p.Scope), shorten(string(p.Definition), "4d", "1s", "3d", "1s"))

	lapsed := s.account("Lapsed Ltd", nil)
	s.contact(lapsed, "Lee Lapsed", "lee@lapsed.example", nil)
	s.event(lapsed, "login", time.Now().Add(-20*24*time.Hour))
	active := s.account("Active Ltd", nil)
	s.event(active, "login", time.Now().Add(-time.Hour))

	// The sweep starts the run; it emails the contact, waits, creates the call task, and goes round again.
	s.waitRun(playID, lapsed, 30*time.Second, "no run for the lapsed account", func(scnRun) bool { return true })
	require.Eventually(t, func() bool { return len(s.tasks(lapsed)) >= 2 }, 30*time.Second, 200*time.Millisecond, "two rounds of call tasks")
	require.Eventually(t, func() bool { return len(s.mailbox("lee@lapsed.example")) >= 2 }, 30*time.Second, 200*time.Millisecond, "two nudge emails")
	mail := s.mailbox("lee@lapsed.example")[0]
	require.Contains(t, mail.Subject, "Lee, a few ideas for your team at Lapsed Ltd")
	require.Equal(t, "Call Lapsed Ltd: no login for two weeks", s.tasks(lapsed)[0].Title)

	// A login ends the run as GOAL_MET at once, and nothing follows.
	s.event(lapsed, "login", time.Now())
	runs := s.runs(playID)
	require.Len(t, runs, 1, "only the lapsed account ran")
	require.Equal(t, "GOAL_MET", runs[0].Status)
	n := len(s.tasks(lapsed))
	// Watched synchronously: require.Never leaves its last check running after it returns, and
	// this check goes through s.do, which must not fail the test after it has ended.
	for until := time.Now().Add(3 * time.Second); time.Now().Before(until); time.Sleep(250 * time.Millisecond) {
		require.Len(t, s.tasks(lapsed), n, "a task after the goal was met")
	}
	require.Empty(t, s.tasks(active))
}

func TestScenarioBusinessReviewCadence(t *testing.T) {
	t.Parallel()
	s := newScn(t)
	csm, _ := s.ws.AddUser(t, db.RoleCSM)
	p := play.BusinessReviewCadence()
	// The three-week timeout becomes ten seconds: long enough to log the review first.
	playID := publishPlay(t, s.env, s.ws.AdminToken, p.Name, string(p.Scope), shorten(string(p.Definition), "3w", "10s"))

	overdue := s.account("Overdue Inc", nil)
	var roles struct{ TeamRoles []struct{ ID, Key string } }
	s.do(`{ teamRoles { id key } }`, nil, &roles)
	var csmRole string
	for _, r := range roles.TeamRoles {
		if r.Key == "CSM" {
			csmRole = r.ID
		}
	}
	require.NotEmpty(t, csmRole)
	s.do(`mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
		map[string]any{"a": overdue, "m": []map[string]any{{"teamRoleId": csmRole, "userId": nodeID("User", csm)}}}, nil)
	s.timeline(overdue, "BUSINESS_REVIEW", time.Now().Add(-100*24*time.Hour))
	recent := s.account("Recent Inc", nil)
	s.timeline(recent, "BUSINESS_REVIEW", time.Now().Add(-10*24*time.Hour))

	// 90 days without a review: a run, and a task for the account's CSM.
	s.waitRun(playID, overdue, 30*time.Second, "no run for the overdue account", func(r scnRun) bool {
		st, ok := r.step("wait-for-review")
		return ok && st.Status == "RUNNING"
	})
	tasks := s.tasks(overdue)
	require.Len(t, tasks, 1)
	require.Equal(t, "Hold a business review with Overdue Inc", tasks[0].Title)
	require.NotNil(t, tasks[0].Assignee)
	require.Equal(t, nodeID("User", csm), tasks[0].Assignee.ID)

	// Logging the review meets the goal (a review within 30 days) in the same request.
	s.timeline(overdue, "BUSINESS_REVIEW", time.Now())
	for _, r := range s.runs(playID) {
		if r.Account.ID == overdue {
			require.Equal(t, "GOAL_MET", r.Status, "the logged review ended the run when it was written")
		}
	}
	require.Len(t, s.tasks(overdue), 1, "no escalation")
	require.Len(t, s.runs(playID), 1, "the recent review keeps the other account out")
}

func TestScenarioRenewalGoals(t *testing.T) {
	t.Parallel()
	s := newScn(t)
	p := play.RenewalGoals()
	playID := publishPlay(t, s.env, s.ws.AdminToken, p.Name, string(p.Scope), shorten(string(p.Definition), "3d", "1s"))

	renewing := s.account("Renewing Co", map[string]any{"renewalDate": time.Now().AddDate(0, 0, 60).Format(time.DateOnly)})
	dm := s.contact(renewing, "Dina Maker", "dina@renewing.example", map[string]any{"persona": "decision-maker"})
	champion := s.contact(renewing, "Cham Pion", "champ@renewing.example", map[string]any{"persona": "champion"})
	optedOut := s.contact(renewing, "Otto Out", "otto@renewing.example", map[string]any{"persona": "decision-maker", "emailOptOut": true})
	later := s.account("Later Co", map[string]any{"renewalDate": time.Now().AddDate(0, 0, 200).Format(time.DateOnly)})

	run := s.waitRun(playID, renewing, 30*time.Second, "the run never completed", func(r scnRun) bool { return r.Status == "COMPLETED" })
	require.Equal(t, []string{"Planning next year?"}, s.inApp(dm))
	require.Empty(t, s.inApp(champion), "not a decision maker")
	require.Equal(t, []string{"Planning next year?"}, s.inApp(optedOut), "the email opt-out is about email only")

	require.Eventually(t, func() bool { return len(s.mailbox("dina@renewing.example")) == 1 }, 30*time.Second, 200*time.Millisecond)
	require.Equal(t, "Your goals for the coming year at Renewing Co", s.mailbox("dina@renewing.example")[0].Subject)
	require.Empty(t, s.mailbox("champ@renewing.example"))
	require.Empty(t, s.mailbox("otto@renewing.example"), "opted out")
	email, ok := run.step("goals-email")
	require.True(t, ok)
	require.Equal(t, "1 of 2 emails queued; skipped: otto@renewing.example (contact opted out)", *email.Outcome, "the step log records why the opted-out decision maker got nothing")
	require.Len(t, s.tasks(renewing), 1)
	require.Empty(t, s.runs(playID)[1:], "the account renewing in 200 days did not enter")
	require.Empty(t, s.tasks(later))
}

func TestScenarioBranchWaitUntilAndReentry(t *testing.T) {
	t.Parallel()
	s := newScn(t)
	branch := publishPlay(t, s.env, s.ws.AdminToken, "Branch", "ACCOUNT", `{"trigger": {"kind": "EVENT", "event": "branch_me"}, "steps": [
		{"id": "which", "kind": "BRANCH", "if": {"field": "account.stage", "op": "eq", "value": "AT_RISK"},
		 "then": [{"id": "rescue", "kind": "CREATE_TASK", "title": "Rescue {{account.name}}", "assignee": {"kind": "OWNER"}}],
		 "else": [{"id": "grow", "kind": "CREATE_TASK", "title": "Grow {{account.name}}", "assignee": {"kind": "OWNER"}}]}]}`)
	wait := publishPlay(t, s.env, s.ws.AdminToken, "Wait", "ACCOUNT", `{"trigger": {"kind": "EVENT", "event": "wait_me"}, "steps": [
		{"id": "hold", "kind": "WAIT_UNTIL", "until": {"eventSinceStart": "login"}, "timeout": "2s", "onTimeout": "CONTINUE"},
		{"id": "after", "kind": "CREATE_TASK", "title": "Waited for {{account.name}}", "assignee": {"kind": "OWNER"}}]}`)
	once := publishPlay(t, s.env, s.ws.AdminToken, "Once", "ACCOUNT", `{"trigger": {"kind": "EVENT", "event": "once_me"},
		"reentry": {"policy": "ONCE"}, "steps": [{"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "once"}]}`)

	risky := s.account("Risky", map[string]any{"stage": "AT_RISK"})
	fine := s.account("Fine", nil)
	s.event(risky, "branch_me", time.Now())
	s.event(fine, "branch_me", time.Now())
	r := s.waitRun(branch, risky, 20*time.Second, "risky", func(r scnRun) bool { return r.Status == "COMPLETED" })
	which, _ := r.step("which")
	require.Equal(t, "then", *which.Outcome)
	r = s.waitRun(branch, fine, 20*time.Second, "fine", func(r scnRun) bool { return r.Status == "COMPLETED" })
	which, _ = r.step("which")
	require.Equal(t, "else", *which.Outcome)
	require.Equal(t, "Rescue Risky", s.tasks(risky)[0].Title)
	require.Equal(t, "Grow Fine", s.tasks(fine)[0].Title)

	// WAIT_UNTIL that never holds times out and continues.
	waiter := s.account("Waiter", nil)
	s.event(waiter, "wait_me", time.Now())
	r = s.waitRun(wait, waiter, 20*time.Second, "the wait never timed out", func(r scnRun) bool { return r.Status == "COMPLETED" })
	hold, _ := r.step("hold")
	require.Equal(t, "timed out", *hold.Outcome)
	require.Len(t, s.tasks(waiter), 1)

	// ONCE: a second event, after the first run ended, starts nothing.
	one := s.account("One", nil)
	s.event(one, "once_me", time.Now())
	s.waitRun(once, one, 20*time.Second, "the once run never completed", func(r scnRun) bool { return r.Status == "COMPLETED" })
	s.event(one, "once_me", time.Now())
	require.Len(t, s.runs(once), 1)
}

func TestPreviewPlayThroughAPI(t *testing.T) {
	t.Parallel()
	s := newScn(t)
	lapsed := s.account("Lapsed", nil)
	s.event(lapsed, "login", time.Now().Add(-20*24*time.Hour))
	s.account("Onboarding", map[string]any{"stage": "ONBOARDING"})
	recent := s.account("Recent", nil)
	s.event(recent, "login", time.Now().Add(-time.Hour))

	type result struct {
		PreviewPlay struct {
			MatchCount int
			Subjects   []struct {
				Account    struct{ ID, Name string }
				Contact    *struct{ ID string }
				Enters     bool
				RefusedBy  *string
				Predicates []struct {
					Path      string
					Predicate map[string]any
					Seen      any
					Held      bool
				}
			}
		}
	}
	const q = `query($p: ID, $d: JSON, $s: PlayScope, $f: Int) { previewPlay(playId: $p, definition: $d, scope: $s, first: $f) {
		matchCount subjects { account { id name } contact { id } enters refusedBy predicates { path predicate seen held } } } }`
	def := play.InactiveFourteenDays().Definition
	var out result
	s.do(q, map[string]any{"d": def, "s": "ACCOUNT"}, &out)
	require.Equal(t, 1, out.PreviewPlay.MatchCount)
	sub := out.PreviewPlay.Subjects[0]
	require.Equal(t, lapsed, sub.Account.ID)
	require.True(t, sub.Enters)
	require.Nil(t, sub.RefusedBy)
	require.Len(t, sub.Predicates, 2)
	require.Equal(t, "definition.trigger.condition.all[0]", sub.Predicates[0].Path)
	require.Equal(t, "login", sub.Predicates[0].Predicate["event"])
	seen, err := time.Parse(time.RFC3339Nano, sub.Predicates[0].Seen.(string))
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(-20*24*time.Hour), seen, time.Minute)
	require.Equal(t, "definition.trigger.condition.all[1].not", sub.Predicates[1].Path)
	require.Equal(t, "GROWTH", sub.Predicates[1].Seen, "a scalar seen value")
	require.False(t, sub.Predicates[1].Held)

	// By play id: a stored play with a run is refused by re-entry.
	manual := publishPlay(t, s.env, s.ws.AdminToken, "Manual once", "ACCOUNT", `{"trigger": {"kind": "MANUAL"}, "reentry": {"policy": "ONCE"},
		"entry": {"field": "account.name", "op": "eq", "value": "Recent"}, "steps": [{"id": "w", "kind": "WAIT", "duration": "1h"}]}`)
	s.do(`mutation($p: ID!, $s: [ID!]!) { launchPlay(playId: $p, subjectIds: $s) { id } }`, map[string]any{"p": manual, "s": []string{recent}}, nil)
	out = result{}
	s.do(q, map[string]any{"p": manual}, &out)
	require.Equal(t, 1, out.PreviewPlay.MatchCount)
	require.False(t, out.PreviewPlay.Subjects[0].Enters)
	require.Equal(t, "reentry ONCE: the subject already ran the play", *out.PreviewPlay.Subjects[0].RefusedBy)
	require.Len(t, s.runs(manual), 1, "the preview started nothing")

	// Bad input.
	for _, c := range []struct {
		vars        map[string]any
		code, field string
	}{
		{map[string]any{}, "BAD_USER_INPUT", "playId"},
		{map[string]any{"p": manual, "d": def, "s": "ACCOUNT"}, "BAD_USER_INPUT", "playId"},
		{map[string]any{"d": def}, "BAD_USER_INPUT", "scope"},
		{map[string]any{"d": rawJSON(`{"entry": {"field": "account.stage", "op": "eq", "value": 3}}`), "s": "ACCOUNT"}, "BAD_USER_INPUT", "definition.entry.value"},
		{map[string]any{"p": manual, "f": 201}, "BAD_USER_INPUT", "first"},
	} {
		resp := s.env.Do(t, s.ws.AdminToken, q, c.vars)
		require.Equal(t, c.code, resp.Code(), "%v: %+v", c.vars, resp.Errors)
		require.Equal(t, c.field, resp.Field(), "%v", c.vars)
	}
	// Another workspace's play is not found.
	other := s.env.NewWorkspace(t)
	resp := s.env.Do(t, other.AdminToken, q, map[string]any{"p": manual})
	require.Equal(t, "NOT_FOUND", resp.Code(), "%+v", resp.Errors)
}
