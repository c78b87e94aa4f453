package journey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/queue"
	"github.com/stewardhq/steward/task"
)

// engineBundle is one engine test's world: a workspace with a CSM and a Sales member, an
// account whose team has them, and an engine on a clock the test moves. No River client
// works jobs here: automated steps are worked by calling WorkStep, time-driven changes by
// calling UpdateStatuses.
type engineBundle struct {
	ctx     context.Context
	db      *dbtest.Database
	eng     *Engine
	clock   *clocktest.Clock
	tenant  db.Tenant
	csm     uuid.UUID
	sales   uuid.UUID
	account uuid.UUID

	mu     sync.Mutex
	events []play.JourneyEvent
	// failAccount, when set, makes Observe fail for that account's events.
	failAccount uuid.UUID
}

func setupEngine(t *testing.T) *engineBundle {
	t.Helper()
	ctx := t.Context()
	// A database of its own: UpdateStatuses serves every workspace, with this test's clock.
	d := dbtest.Isolated(t)
	clock := clocktest.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Journeys "+uuid.NewString()[:8])
	require.NoError(t, err)
	ins, err := queue.NewInserter(d.Bun.DB)
	require.NoError(t, err)
	b := &engineBundle{ctx: ctx, db: d, clock: clock, tenant: db.Tenant{WorkspaceID: ws.ID}}
	defs := &Definitions{DB: d.Bun, Now: clock.Now}
	tasks := &task.Service{DB: d.Bun, Now: clock.Now}
	plays := &play.Engine{DB: d.Bun, Definitions: &play.Definitions{DB: d.Bun, Now: clock.Now}, Tasks: tasks,
		Delivery: &delivery.Service{DB: d.Bun}, Inserter: ins, Now: clock.Now}
	accounts := &account.Service{DB: d.Bun, Now: clock.Now}
	plays.Accounts = accounts
	b.eng = &Engine{DB: d.Bun, Definitions: defs, Plays: plays, Tasks: tasks, Accounts: accounts, Inserter: ins, Now: clock.Now,
		Observe: func(_ context.Context, _ bun.Tx, _ db.Tenant, ev play.JourneyEvent) error {
			b.mu.Lock()
			defer b.mu.Unlock()
			if ev.AccountID == b.failAccount {
				return errors.New("observer failed")
			}
			b.events = append(b.events, ev)
			return nil
		}}
	accounts.Hooks = b.eng.AccountHooks()
	tasks.Hooks = b.eng.TaskHooks()
	b.csm = b.member(t, "CSM")
	b.sales = b.member(t, "Sales")
	b.account = b.newAccount(t, "Acme")
	return b
}

// member adds a CSM-role workspace member.
func (b *engineBundle) member(t *testing.T, name string) uuid.UUID {
	t.Helper()
	u := &db.User{Email: "u-" + uuid.NewString() + "@example.com", Name: name}
	require.NoError(t, db.InsertUser(b.ctx, b.db.Bun, u))
	require.NoError(t, db.InsertMembership(b.ctx, b.db.Bun, b.tenant, &db.Membership{UserID: u.ID, Role: db.RoleCSM}))
	return u.ID
}

// newAccount creates an account whose team has the bundle's CSM and Sales members.
func (b *engineBundle) newAccount(t *testing.T, name string) uuid.UUID {
	t.Helper()
	a, err := b.eng.Accounts.Create(b.ctx, b.tenant, account.Patch{Name: &name})
	require.NoError(t, err)
	roles, err := db.ListTeamRoles(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	byKey := map[string]uuid.UUID{}
	for _, r := range roles {
		byKey[r.Key] = r.ID
	}
	_, err = b.eng.Accounts.SetTeam(b.ctx, b.tenant, a.ID, []account.TeamAssignment{
		{TeamRoleID: byKey["CSM"], UserID: b.csm}, {TeamRoleID: byKey["SALES"], UserID: b.sales},
	})
	require.NoError(t, err)
	return a.ID
}

// publish stores an ACTIVE journey whose version 1 is def.
func (b *engineBundle) publish(t *testing.T, key, def string) *db.Journey {
	t.Helper()
	d, err := ParseDefinition([]byte(def))
	require.NoError(t, err, def)
	j := &db.Journey{Key: key, Name: "Journey " + key, Stage: "ONBOARDING", Status: db.JourneyDraft}
	_, err = db.Insert(b.tenant, b.db.Bun, j).ExcludeColumn("draft").Returning("*").Exec(b.ctx)
	require.NoError(t, err)
	b.addVersion(t, j, d)
	return j
}

// addVersion publishes d as the journey's next version.
func (b *engineBundle) addVersion(t *testing.T, j *db.Journey, d *Definition) int {
	t.Helper()
	raw, err := json.Marshal(d)
	require.NoError(t, err)
	j.LatestVersion++
	v := &db.JourneyVersion{JourneyID: j.ID, Version: j.LatestVersion, Definition: raw, PublishedAt: b.clock.Now()}
	_, err = db.Insert(b.tenant, b.db.Bun, v).Exec(b.ctx)
	require.NoError(t, err)
	kind := string(d.Trigger.Kind)
	j.Status = db.JourneyActive
	j.TriggerKind, j.TriggerEvent, j.TriggerField = &kind, nil, nil
	if d.Trigger.Event != "" {
		j.TriggerEvent = &d.Trigger.Event
	}
	if d.Trigger.Field != "" {
		j.TriggerField = &d.Trigger.Field
	}
	_, err = b.tenant.Update(b.db.Bun, j).Column("status", "latest_version", "trigger_kind", "trigger_event", "trigger_field").WherePK().Exec(b.ctx)
	require.NoError(t, err)
	return j.LatestVersion
}

// progress loads an enrolment's milestones by key and step rows by key.
func (b *engineBundle) progress(t *testing.T, id uuid.UUID) (*db.JourneyEnrollment, map[string]db.JourneyMilestoneState, map[string]db.JourneyStepState) {
	t.Helper()
	enr, err := db.GetEnrollment(b.ctx, b.db.Bun, b.tenant, id)
	require.NoError(t, err)
	ms, err := db.MilestoneStates(b.ctx, b.db.Bun, b.tenant, id)
	require.NoError(t, err)
	steps, err := db.StepStates(b.ctx, b.db.Bun, b.tenant, []uuid.UUID{id})
	require.NoError(t, err)
	mm, sm := map[string]db.JourneyMilestoneState{}, map[string]db.JourneyStepState{}
	for _, m := range ms {
		mm[m.MilestoneKey] = m
	}
	for _, s := range steps {
		sm[s.StepKey] = s
	}
	return enr, mm, sm
}

// observed returns the kinds (with milestone) Observe received for an enrolment.
func (b *engineBundle) observed(id uuid.UUID) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, ev := range b.events {
		if ev.EnrollmentID == id {
			s := string(ev.Kind)
			if ev.Milestone != "" {
				s += ":" + ev.Milestone
			}
			out = append(out, s)
		}
	}
	return out
}

// changes returns the workspace's change log rows of the topics, in log order.
func (b *engineBundle) changes(t *testing.T, topics ...string) []db.Change {
	t.Helper()
	var rows []db.Change
	require.NoError(t, b.db.Bun.NewSelect().Model(&rows).
		Column("topic", "kind", "account_id", "contact_id", "subject_id", "journey_id", "payload").Where("workspace_id = ? AND topic IN (?)", b.tenant.WorkspaceID, bun.In(topics)).
		OrderExpr("txid, id").Scan(b.ctx))
	return rows
}

// topicKinds lists rows as "topic.kind".
func topicKinds(rows []db.Change) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Topic + "." + r.Kind
	}
	return out
}

func (b *engineBundle) complete(t *testing.T, taskID *uuid.UUID) {
	t.Helper()
	require.NotNil(t, taskID)
	_, err := b.eng.Tasks.Complete(b.ctx, b.tenant, *taskID, b.csm)
	require.NoError(t, err)
}

func (b *engineBundle) record(t *testing.T, accountID uuid.UUID, name string) {
	t.Helper()
	_, err := b.eng.Accounts.RecordEvents(b.ctx, b.tenant, []account.EventInput{{
		ClientEventID: uuid.NewString(), AccountID: &accountID, Name: name, OccurredAt: b.clock.Now(),
	}})
	require.NoError(t, err)
}

// onboarding is the seed's onboarding journey in hours.
const onboarding = `{
  "trigger": {"kind": "EVENT", "event": "deal_closed"},
  "stallAfter": "3d",
  "milestones": [
    {"key": "kickoff", "name": "Kickoff", "target": "10h", "steps": [
      {"key": "kickoff-call", "kind": "TASK", "task": {"title": "Kickoff call with {{account.name}}", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}, "dueIn": "5h"}},
      {"key": "handover", "kind": "TASK", "task": {"title": "Sales handover", "assignee": {"kind": "TEAM_ROLE", "teamRole": "SALES"}, "dueIn": "2h"}},
      {"key": "notes", "kind": "TASK", "required": false, "task": {"title": "Optional notes", "assignee": {"kind": "TEAM_ROLE", "teamRole": "IMPLEMENTATION"}}}
    ]},
    {"key": "setup", "name": "Technical setup", "target": "1d", "steps": [
      {"key": "connected", "kind": "CHECKPOINT", "condition": {"event": "integration_connected", "op": "exists"}}
    ]},
    {"key": "training", "name": "Training", "target": "1d", "steps": [
      {"key": "train-admins", "kind": "TASK", "task": {"title": "Train admins", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}}}
    ]},
    {"key": "exec", "name": "Executive check-in", "target": "1d", "parallel": true, "steps": [
      {"key": "exec-call", "kind": "TASK", "task": {"title": "Executive call", "assignee": {"kind": "TEAM_ROLE", "teamRole": "EXECUTIVE_SPONSOR"}}}
    ]}
  ]}`

func TestEnrollCreatesFirstMilestoneTasks(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "onboarding", onboarding)
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, b.csm)
	require.NoError(t, err)
	require.Len(t, enrs, 1)
	enr, ms, steps := b.progress(t, enrs[0].ID)
	require.Equal(t, db.EnrollmentActive, enr.Status)
	require.Equal(t, 1, enr.Attempt)
	require.Equal(t, db.MilestoneOnTrack, ms["kickoff"].Status)
	require.True(t, ms["kickoff"].DueAt.Equal(b.clock.Now().Add(10*time.Hour)))
	require.Equal(t, db.MilestoneNotStarted, ms["setup"].Status)
	require.Len(t, steps, 3, "only the first milestone's steps exist")

	call, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, *steps["kickoff-call"].TaskID)
	require.NoError(t, err)
	require.Equal(t, "Kickoff call with Acme", call.Title)
	require.Equal(t, b.csm, *call.AssigneeID)
	require.Equal(t, db.TaskSourceJourney, call.SourceKind)
	require.True(t, call.DueAt.Equal(b.clock.Now().Add(5*time.Hour)))
	handover, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, *steps["handover"].TaskID)
	require.NoError(t, err)
	require.Equal(t, b.sales, *handover.AssigneeID)
	notes, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, *steps["notes"].TaskID)
	require.NoError(t, err)
	require.Nil(t, notes.AssigneeID, "nobody in the role and no owner: unassigned")
	require.Equal(t, db.TaskFlagNoTeamMember, *notes.AssignmentFlag)
	require.False(t, steps["notes"].Required)

	require.Equal(t, []string{"ENTERED", "MILESTONE_STARTED:kickoff"}, b.observed(enr.ID))
	entries, _, err := db.TimelinePage(b.ctx, b.db.Bun, b.tenant, b.account, []string{db.TimelineSystem}, 10, nil)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	// Each change logs its timeline entry, then the journey row the feeds read (db.JourneyChange).
	rows := b.changes(t, db.TopicTimeline, db.TopicJourney)
	require.Equal(t, []string{"timeline.added", "journey.ENTERED", "timeline.added", "journey.MILESTONE_STARTED"}, topicKinds(rows))
	bodies := map[uuid.UUID]string{}
	for _, e := range entries {
		bodies[e.ID] = e.Body
	}
	require.Contains(t, bodies[*rows[0].SubjectID], "Enrolled in journey")
	require.Contains(t, bodies[*rows[2].SubjectID], `milestone "Kickoff" started`)
	for _, r := range []db.Change{rows[1], rows[3]} {
		require.Equal(t, enr.ID, *r.SubjectID)
		require.Equal(t, j.ID, *r.JourneyID)
		require.Equal(t, b.account, *r.AccountID)
	}
	require.JSONEq(t, fmt.Sprintf(`{"enrollmentId":%q,"status":"ACTIVE"}`, enr.ID), string(rows[1].Payload))
	require.JSONEq(t, fmt.Sprintf(`{"enrollmentId":%q,"milestone":"kickoff","status":"ON_TRACK"}`, enr.ID), string(rows[3].Payload))

	_, err = b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, b.csm)
	require.ErrorIs(t, err, db.ErrConflict)
	in, ok := invalid.As(err)
	require.True(t, ok)
	require.Equal(t, "accountIds[0]", in.Field)
}

func TestProgressThroughMilestones(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	b.publish(t, "onboarding", onboarding)
	b.record(t, b.account, "deal_closed")
	list, _, err := b.eng.List(b.ctx, b.tenant, db.EnrollmentFilter{AccountID: &b.account}, 10, nil)
	require.NoError(t, err)
	require.Len(t, list, 1, "the deal_closed event enrols the account")
	id := list[0].ID
	require.Equal(t, db.EnrollSourceTrigger, list[0].Source)

	_, _, steps := b.progress(t, id)
	b.clock.Advance(time.Hour)
	b.complete(t, steps["kickoff-call"].TaskID)
	_, ms, _ := b.progress(t, id)
	require.Equal(t, db.MilestoneOnTrack, ms["kickoff"].Status, "the handover is still open")
	b.complete(t, steps["handover"].TaskID)
	_, ms, steps = b.progress(t, id)
	require.Equal(t, db.MilestoneDone, ms["kickoff"].Status, "the optional task does not hold it back")
	require.Equal(t, db.MilestoneOnTrack, ms["setup"].Status)
	require.Equal(t, db.JourneyStepPending, steps["connected"].Status)

	b.record(t, b.account, "integration_connected")
	_, ms, steps = b.progress(t, id)
	require.Equal(t, db.JourneyStepDone, steps["connected"].Status)
	require.Equal(t, db.MilestoneDone, ms["setup"].Status)
	require.Equal(t, db.MilestoneOnTrack, ms["training"].Status, "training and the parallel exec check-in start together")
	require.Equal(t, db.MilestoneOnTrack, ms["exec"].Status)

	b.complete(t, steps["train-admins"].TaskID)
	enr, ms, _ := b.progress(t, id)
	require.Equal(t, db.MilestoneDone, ms["training"].Status)
	require.Equal(t, db.EnrollmentActive, enr.Status, "the parallel milestone is still open")
	_, err = b.eng.Tasks.Cancel(b.ctx, b.tenant, *steps["exec-call"].TaskID, b.csm)
	require.NoError(t, err)
	enr, _, _ = b.progress(t, id)
	require.Equal(t, db.EnrollmentCompleted, enr.Status)
	require.Equal(t, []string{"ENTERED", "MILESTONE_STARTED:kickoff", "MILESTONE_COMPLETED:kickoff", "MILESTONE_STARTED:setup",
		"MILESTONE_COMPLETED:setup", "MILESTONE_STARTED:training", "MILESTONE_STARTED:exec", "MILESTONE_COMPLETED:training",
		"MILESTONE_COMPLETED:exec", "COMPLETED"}, b.observed(id))

	// A second deal_closed while nothing is live enrols again (NOT_WHILE_ACTIVE).
	b.record(t, b.account, "deal_closed")
	list, _, err = b.eng.List(b.ctx, b.tenant, db.EnrollmentFilter{AccountID: &b.account}, 10, nil)
	require.NoError(t, err)
	require.Len(t, list, 2)
}

func TestStatusesMoveWithTime(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "onboarding", onboarding)
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, uuid.Nil)
	require.NoError(t, err)
	id := enrs[0].ID
	start := b.clock.Now()

	b.clock.Advance(7 * time.Hour) // 70% of 10h
	_, err = b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	_, ms, _ := b.progress(t, id)
	require.Equal(t, db.MilestoneOnTrack, ms["kickoff"].Status)

	b.clock.Advance(31 * time.Minute) // 75% is 7h30
	_, err = b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	_, ms, _ = b.progress(t, id)
	require.Equal(t, db.MilestoneAtRisk, ms["kickoff"].Status)
	require.True(t, ms["kickoff"].AtRiskAt.Equal(start.Add(450*time.Minute)))

	b.clock.Advance(3 * time.Hour)
	c, err := b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.Enrollments, 1)
	_, ms, _ = b.progress(t, id)
	require.Equal(t, db.MilestoneBehind, ms["kickoff"].Status)
	require.Nil(t, ms["kickoff"].NextStatusAt)
	// Nothing more to move: a second pass reports nothing new.
	_, err = b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"ENTERED", "MILESTONE_STARTED:kickoff", "AT_RISK:kickoff", "BEHIND:kickoff"}, b.observed(id))

	b.clock.Advance(3 * 24 * time.Hour) // stallAfter 3d since enrolment
	c, err = b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, c.Stalled, 1)
	enr, _, steps := b.progress(t, id)
	require.Equal(t, db.EnrollmentStalled, enr.Status)

	b.complete(t, steps["kickoff-call"].TaskID)
	enr, _, _ = b.progress(t, id)
	require.Equal(t, db.EnrollmentActive, enr.Status, "progress wakes a stalled enrolment")
	require.True(t, enr.StallAt.Equal(b.clock.Now().Add(3*24*time.Hour)))
}

func TestStatusJobsInParallelMoveEachMilestoneOnce(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "onboarding", onboarding)
	var ids []uuid.UUID
	for i := range 12 {
		enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.newAccount(t, fmt.Sprintf("A%d", i))}, uuid.Nil)
		require.NoError(t, err)
		ids = append(ids, enrs[0].ID)
	}
	b.clock.Advance(11 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = b.eng.UpdateStatuses(b.ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	for _, id := range ids {
		_, ms, _ := b.progress(t, id)
		require.Equal(t, db.MilestoneBehind, ms["kickoff"].Status)
		require.Equal(t, []string{"ENTERED", "MILESTONE_STARTED:kickoff", "AT_RISK:kickoff", "BEHIND:kickoff"}, b.observed(id))
	}
}

func TestSkipReopenCancelRestart(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "onboarding", onboarding)
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, uuid.Nil)
	require.NoError(t, err)
	id := enrs[0].ID
	_, _, steps := b.progress(t, id)

	_, err = b.eng.SkipMilestone(b.ctx, b.tenant, id, "kickoff")
	require.NoError(t, err)
	_, ms, after := b.progress(t, id)
	require.Equal(t, db.MilestoneSkipped, ms["kickoff"].Status)
	require.Equal(t, db.MilestoneOnTrack, ms["setup"].Status)
	require.Equal(t, db.JourneyStepSkipped, after["kickoff-call"].Status)
	tk, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, *steps["kickoff-call"].TaskID)
	require.NoError(t, err)
	require.Equal(t, db.TaskCancelled, tk.Status)
	_, err = b.eng.SkipMilestone(b.ctx, b.tenant, id, "kickoff")
	require.ErrorIs(t, err, db.ErrConflict)
	_, err = b.eng.SkipMilestone(b.ctx, b.tenant, id, "nope")
	in, ok := invalid.As(err)
	require.True(t, ok)
	require.Equal(t, "milestone", in.Field)

	// Every task the skip cancelled has its change row, as the task service writes them.
	taskRows := func() []db.Change {
		var rows []db.Change
		for _, r := range b.changes(t, db.TopicTask) {
			if r.Kind != db.KindCreated {
				rows = append(rows, r)
			}
		}
		return rows
	}
	cancelled := taskRows()
	require.Len(t, cancelled, 3, "kickoff call, handover and the optional notes")
	for _, r := range cancelled {
		require.Equal(t, db.KindCancelled, r.Kind)
		require.Equal(t, b.account, *r.AccountID)
		tk, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, *r.SubjectID)
		require.NoError(t, err)
		require.Equal(t, db.TaskCancelled, tk.Status)
		require.JSONEq(t, fmt.Sprintf(`{"taskId":%q,"title":%q,"status":"CANCELLED"}`, tk.ID, tk.Title), string(r.Payload))
	}

	b.clock.Advance(time.Hour)
	_, err = b.eng.ReopenMilestone(b.ctx, b.tenant, id, "kickoff")
	require.NoError(t, err)
	reopened := taskRows()[3:]
	require.Len(t, reopened, 2, "the required tasks reopen")
	got := map[uuid.UUID]string{}
	for _, r := range reopened {
		got[*r.SubjectID] = r.Kind
	}
	require.Equal(t, map[uuid.UUID]string{*steps["kickoff-call"].TaskID: db.KindReopened, *steps["handover"].TaskID: db.KindReopened}, got)
	_, ms, after = b.progress(t, id)
	require.Equal(t, db.MilestoneOnTrack, ms["kickoff"].Status)
	require.True(t, ms["kickoff"].StartedAt.Equal(b.clock.Now()))
	require.Equal(t, db.JourneyStepPending, after["kickoff-call"].Status)
	tk, err = db.GetTask(b.ctx, b.db.Bun, b.tenant, *steps["kickoff-call"].TaskID)
	require.NoError(t, err)
	require.Equal(t, db.TaskOpen, tk.Status)
	require.True(t, tk.DueAt.Equal(b.clock.Now().Add(5*time.Hour)))

	_, err = b.eng.CancelEnrollment(b.ctx, b.tenant, id, b.csm, "customer paused")
	require.NoError(t, err)
	enr, _, _ := b.progress(t, id)
	require.Equal(t, db.EnrollmentCancelled, enr.Status)
	require.Equal(t, "customer paused", *enr.CancelReason)
	_, err = b.eng.CancelEnrollment(b.ctx, b.tenant, id, b.csm, "")
	require.ErrorIs(t, err, db.ErrConflict)

	next, err := b.eng.RestartEnrollment(b.ctx, b.tenant, id, b.csm)
	require.NoError(t, err)
	require.Equal(t, 2, next.Attempt)
	require.Equal(t, id, *next.RestartOf)
	_, ms, _ = b.progress(t, next.ID)
	require.Equal(t, db.MilestoneOnTrack, ms["kickoff"].Status)
	_, err = b.eng.RestartEnrollment(b.ctx, b.tenant, id, b.csm)
	require.ErrorIs(t, err, db.ErrConflict, "an attempt is restarted once")

	// Restarting the live attempt cancels it and starts attempt 3.
	third, err := b.eng.RestartEnrollment(b.ctx, b.tenant, next.ID, b.csm)
	require.NoError(t, err)
	require.Equal(t, 3, third.Attempt)
	prev, _, _ := b.progress(t, next.ID)
	require.Equal(t, db.EnrollmentCancelled, prev.Status)
	require.Equal(t, "restarted", *prev.CancelReason)
}

func TestReentryOnce(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "once", `{"trigger": {"kind": "MANUAL"}, "reentry": {"policy": "ONCE"}, "milestones": [
	  {"key": "only", "name": "Only", "target": "1d", "steps": [{"key": "t", "kind": "TASK", "task": {"title": "Do it", "assignee": {"kind": "OWNER"}}}]}]}`)
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, uuid.Nil)
	require.NoError(t, err)
	_, err = b.eng.CancelEnrollment(b.ctx, b.tenant, enrs[0].ID, uuid.Nil, "")
	require.NoError(t, err)
	_, err = b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, uuid.Nil)
	require.ErrorIs(t, err, db.ErrConflict)
	require.Contains(t, err.Error(), "ONCE")
	n, err := b.eng.EnrollMatching(b.ctx, b.tenant, j.ID, db.AccountFilter{}, nil, uuid.Nil)
	require.NoError(t, err)
	require.Equal(t, 0, n, "the only account may not enter again")
	b.newAccount(t, "Other")
	n, err = b.eng.EnrollMatching(b.ctx, b.tenant, j.ID, db.AccountFilter{}, nil, uuid.Nil)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestMigrateEnrollments(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "onboarding", onboarding)
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, uuid.Nil)
	require.NoError(t, err)
	id := enrs[0].ID

	// Version 2 renames kickoff: the enrolment in kickoff cannot move.
	v1, err := ParseDefinition([]byte(onboarding))
	require.NoError(t, err)
	v2 := *v1
	v2.Milestones = append([]Milestone(nil), v1.Milestones...)
	v2.Milestones[0].Key = "welcome"
	for i := range v2.Milestones[0].Steps {
		v2.Milestones[0].Steps[i].Key += "-v2"
	}
	b.addVersion(t, j, &v2)
	_, err = b.eng.MigrateEnrollments(b.ctx, b.tenant, j.ID, 1, 2)
	var un *UnmappedError
	require.True(t, errors.As(err, &un), "got %v", err)
	require.Equal(t, []string{"kickoff"}, un.Milestones)
	in, ok := invalid.As(err)
	require.True(t, ok)
	require.Equal(t, "toVersion", in.Field)
	enr, _, _ := b.progress(t, id)
	require.Equal(t, 1, enr.Version, "nothing moved")

	// Version 3 keeps kickoff, adds a step to it and a milestone after it, drops training.
	v3 := *v1
	v3.Milestones = []Milestone{v1.Milestones[0], v1.Milestones[1],
		{Key: "go-live", Name: "Go-live", Target: "1d", Steps: []Step{{Key: "launch", Kind: StepTask, Required: true,
			Task: &play.Task{Title: "Go live", Assignee: &play.Assignee{Kind: play.AssignOwner}, Priority: play.PriorityNormal}}}}}
	v3.Milestones[0].Steps = append(append([]Step(nil), v1.Milestones[0].Steps...), Step{Key: "extra", Kind: StepTask, Required: true,
		Task: &play.Task{Title: "Extra kickoff work", Assignee: &play.Assignee{Kind: play.AssignOwner}, Priority: play.PriorityNormal}})
	b.addVersion(t, j, &v3)
	n, err := b.eng.MigrateEnrollments(b.ctx, b.tenant, j.ID, 1, 3)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	enr, ms, steps := b.progress(t, id)
	require.Equal(t, 3, enr.Version)
	require.Len(t, ms, 3)
	require.Equal(t, db.MilestoneNotStarted, ms["go-live"].Status)
	require.Equal(t, 2, ms["go-live"].Position)
	require.NotNil(t, steps["extra"].TaskID, "the added step of the current milestone started")
	_, gone := ms["training"]
	require.False(t, gone)

	_, err = b.eng.MigrateEnrollments(b.ctx, b.tenant, j.ID, 1, 9)
	in, ok = invalid.As(err)
	require.True(t, ok)
	require.Equal(t, "toVersion", in.Field)
}

func TestAutomatedStepsRunOnce(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	_, err := b.eng.Accounts.CreateContact(b.ctx, b.tenant, b.account, account.ContactPatch{Name: ptr("Dana Admin"), Email: ptr("dana@acme.test")})
	require.NoError(t, err)
	j := b.publish(t, "welcome", `{"trigger": {"kind": "MANUAL"}, "milestones": [
	  {"key": "hello", "name": "Hello", "target": "1d", "steps": [
	    {"key": "mail", "kind": "SEND_EMAIL", "email": {"to": "CONTACTS", "subject": "Welcome {{contact.firstName}}", "body": "Hi"}},
	    {"key": "banner", "kind": "IN_APP_MESSAGE", "message": {"to": "CONTACTS", "title": "Welcome", "body": "Start here"}},
	    {"key": "later", "kind": "SEND_EMAIL", "email": {"to": "CONTACTS", "subject": "Later", "body": "Hi"}},
	    {"key": "task", "kind": "TASK", "task": {"title": "Call", "assignee": {"kind": "OWNER"}}}]}]}`)
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account}, uuid.Nil)
	require.NoError(t, err)
	id := enrs[0].ID
	for range 2 {
		for _, key := range []string{"mail", "banner"} {
			require.NoError(t, b.eng.WorkStep(b.ctx, StepArgs{WorkspaceID: b.tenant.WorkspaceID, EnrollmentID: id, StepKey: key}, 1, 5))
		}
	}
	_, _, steps := b.progress(t, id)
	require.Equal(t, db.JourneyStepDone, steps["mail"].Status)
	require.Equal(t, db.JourneyStepPending, steps["later"].Status)
	require.NotNil(t, steps["mail"].OutboxID)
	require.Equal(t, db.JourneyStepDone, steps["banner"].Status)
	require.NotNil(t, steps["banner"].InAppMessageID)
	var outbox, inApp int64
	outbox, err = b.db.Bun.NewSelect().Table("outbox_messages").Where("workspace_id = ?", b.tenant.WorkspaceID).Count(b.ctx)
	require.NoError(t, err)
	inApp, err = b.db.Bun.NewSelect().Table("in_app_messages").Where("workspace_id = ?", b.tenant.WorkspaceID).Count(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, outbox, "one email for the one contact, once")
	require.EqualValues(t, 1, inApp)
	// The message reaches the contact's inAppMessages feed like a play's.
	rows := b.changes(t, db.TopicInApp)
	require.Len(t, rows, 1)
	require.Equal(t, db.KindCreated, rows[0].Kind)
	require.Equal(t, *steps["banner"].InAppMessageID, *rows[0].SubjectID)
	var facts map[string]any
	require.NoError(t, json.Unmarshal(rows[0].Payload, &facts))
	require.Equal(t, "Welcome", facts["title"])
	require.Equal(t, db.InAppPending, facts["status"])

	// A paused journey holds its automated steps; resumed, they run.
	setStatus := func(status string) {
		_, err := b.tenant.Update(b.db.Bun, (*db.Journey)(nil)).Set("status = ?", status).Where("j.id = ?", j.ID).Exec(b.ctx)
		require.NoError(t, err)
	}
	later := StepArgs{WorkspaceID: b.tenant.WorkspaceID, EnrollmentID: id, StepKey: "later"}
	setStatus(db.JourneyPaused)
	err = b.eng.WorkStep(b.ctx, later, 1, 5)
	var snoozed *river.JobSnoozeError
	require.ErrorAs(t, err, &snoozed)
	_, _, steps = b.progress(t, id)
	require.Equal(t, db.JourneyStepPending, steps["later"].Status)
	setStatus(db.JourneyActive)
	require.NoError(t, b.eng.WorkStep(b.ctx, later, 2, 5))
	_, _, steps = b.progress(t, id)
	require.Equal(t, db.JourneyStepDone, steps["later"].Status)
}

func TestEnrollFromPlayAndFieldTrigger(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	b.publish(t, "adoption", `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "ADOPTION"}, "milestones": [
	  {"key": "use", "name": "Use", "target": "1d", "steps": [{"key": "t", "kind": "TASK", "task": {"title": "Check usage", "assignee": {"kind": "OWNER"}}}]}]}`)
	stage := "ADOPTION"
	_, err := b.eng.Accounts.Update(b.ctx, b.tenant, b.account, account.Patch{Stage: &stage})
	require.NoError(t, err)
	list, _, err := b.eng.List(b.ctx, b.tenant, db.EnrollmentFilter{AccountID: &b.account}, 10, nil)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "field:account.stage", *list[0].SourceRef)

	other := b.newAccount(t, "Other")
	err = db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		id, err := b.eng.EnrollFromPlay(ctx, tx, b.tenant, "adoption", other, "play_run:x/step:y")
		require.NotNil(t, id)
		return err
	})
	require.NoError(t, err)
	err = db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		id, err := b.eng.EnrollFromPlay(ctx, tx, b.tenant, "adoption", other, "again")
		require.Nil(t, id, "a live enrolment refuses without an error")
		return err
	})
	require.NoError(t, err)
	err = db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		_, err := b.eng.EnrollFromPlay(ctx, tx, b.tenant, "missing", other, "x")
		return err
	})
	require.ErrorIs(t, err, db.ErrNotFound)

	// Archiving the account cancels its live enrolment and its open tasks.
	_, err = b.eng.Accounts.Archive(b.ctx, b.tenant, other)
	require.NoError(t, err)
	list, _, err = b.eng.List(b.ctx, b.tenant, db.EnrollmentFilter{AccountID: &other}, 10, nil)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, db.EnrollmentCancelled, list[0].Status)
	require.Equal(t, "account archived", *list[0].CancelReason)
	_, _, steps := b.progress(t, list[0].ID)
	tk, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, *steps["t"].TaskID)
	require.NoError(t, err)
	require.Equal(t, db.TaskCancelled, tk.Status)
}

func TestStatusJobPostponesAFailingEnrollment(t *testing.T) {
	t.Parallel()
	b := setupEngine(t)
	j := b.publish(t, "onboarding", onboarding)
	bad := b.newAccount(t, "Bad")
	enrs, err := b.eng.Enroll(b.ctx, b.tenant, j.ID, []uuid.UUID{b.account, bad}, uuid.Nil)
	require.NoError(t, err)
	b.mu.Lock()
	b.failAccount = bad
	b.mu.Unlock()

	b.clock.Advance(11 * time.Hour)
	c, err := b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, c.Failed)
	_, good, _ := b.progress(t, enrs[0].ID)
	require.Equal(t, db.MilestoneBehind, good["kickoff"].Status, "the other enrolment moved")
	_, failed, _ := b.progress(t, enrs[1].ID)
	require.Equal(t, db.MilestoneOnTrack, failed["kickoff"].Status, "the failing one rolled back")
	require.True(t, failed["kickoff"].NextStatusAt.Equal(b.clock.Now().Add(DefaultCheckInterval)), "and was postponed")

	b.mu.Lock()
	b.failAccount = uuid.Nil
	b.mu.Unlock()
	b.clock.Advance(DefaultCheckInterval)
	c, err = b.eng.UpdateStatuses(b.ctx)
	require.NoError(t, err)
	require.Zero(t, c.Failed)
	_, failed, _ = b.progress(t, enrs[1].ID)
	require.Equal(t, db.MilestoneBehind, failed["kickoff"].Status)
}
