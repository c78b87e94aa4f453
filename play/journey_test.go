package play

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// The journey engine is a sibling package that builds on this one, so these tests write the
// journey tables with SQL, as that engine would.

// createJourney inserts an ACTIVE journey with key and one published version (an empty
// definition: plays only read keys and states).
func (b *testBundle) createJourney(t *testing.T, key string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.db.Bun.ExecContext(b.ctx, `INSERT INTO journeys (workspace_id, id, key, name, stage, status, latest_version, trigger_kind)
		VALUES (?, ?, ?, ?, 'ONBOARDING', 'ACTIVE', 1, 'MANUAL')`, b.tenant.WorkspaceID, id, key, "Journey "+key)
	require.NoError(t, err)
	_, err = b.db.Bun.ExecContext(b.ctx, `INSERT INTO journey_versions (workspace_id, journey_id, version, definition) VALUES (?, ?, 1, '{}')`,
		b.tenant.WorkspaceID, id)
	require.NoError(t, err)
	return id
}

// archiveJourney archives a journey, freeing its key.
func (b *testBundle) archiveJourney(t *testing.T, id uuid.UUID) {
	t.Helper()
	_, err := b.db.Bun.ExecContext(b.ctx, `UPDATE journeys SET status = 'ARCHIVED', archived_at = now() WHERE workspace_id = ? AND id = ?`,
		b.tenant.WorkspaceID, id)
	require.NoError(t, err)
}

// enroll inserts an enrolment of account in journey through idb, with status (ACTIVE or
// STALLED, or a final one) at enrolledAt, and returns its id.
func (b *testBundle) enroll(t *testing.T, idb bun.IDB, journey, account uuid.UUID, status string, enrolledAt time.Time) uuid.UUID {
	t.Helper()
	id := uuid.New()
	var completed, cancelled *time.Time
	switch status {
	case "COMPLETED":
		completed = &enrolledAt
	case "CANCELLED":
		cancelled = &enrolledAt
	}
	_, err := idb.ExecContext(b.ctx, `INSERT INTO journey_enrollments (workspace_id, id, journey_id, version, account_id, status, source, enrolled_at, completed_at, cancelled_at)
		VALUES (?, ?, ?, 1, ?, ?, 'MANUAL', ?, ?, ?)`, b.tenant.WorkspaceID, id, journey, account, status, enrolledAt, completed, cancelled)
	require.NoError(t, err)
	return id
}

func TestParseJourneyTrigger(t *testing.T) {
	t.Parallel()
	const A = condition.ScopeAccount
	bad := []struct {
		name, raw, field, message string
	}{
		{"no journey", `{"kind": "JOURNEY", "on": ["ENTERED"]}`, "definition.trigger.journey", "is required"},
		{"journey not a string", `{"kind": "JOURNEY", "journey": 1, "on": ["ENTERED"]}`, "definition.trigger.journey", "must be a string"},
		{"bad journey key", `{"kind": "JOURNEY", "journey": "On Boarding", "on": ["ENTERED"]}`, "definition.trigger.journey",
			"must be a journey key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{"no kinds", `{"kind": "JOURNEY", "journey": "onboarding"}`, "definition.trigger.on", "is required"},
		{"empty kinds", `{"kind": "JOURNEY", "journey": "onboarding", "on": []}`, "definition.trigger.on", "must hold at least one journey event"},
		{"kinds not a list", `{"kind": "JOURNEY", "journey": "onboarding", "on": "ENTERED"}`, "definition.trigger.on", "must be a list of journey events"},
		{"unknown kind", `{"kind": "JOURNEY", "journey": "onboarding", "on": ["ENTERED", "LATE"]}`, "definition.trigger.on[1]",
			"must be one of ENTERED, COMPLETED, CANCELLED, STALLED, MILESTONE_STARTED, MILESTONE_COMPLETED, MILESTONE_SKIPPED, AT_RISK, BEHIND"},
		{"repeated kind", `{"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND", "BEHIND"]}`, "definition.trigger.on[1]", "is listed twice"},
		{"milestone with an enrolment kind", `{"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND", "COMPLETED"], "milestone": "setup"}`,
			"definition.trigger.milestone",
			"is only used with milestone events (MILESTONE_STARTED, MILESTONE_COMPLETED, MILESTONE_SKIPPED, AT_RISK, BEHIND), but on lists COMPLETED"},
		{"milestone with spaces", `{"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"], "milestone": "tech setup"}`,
			"definition.trigger.milestone", "must be a milestone key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{"key of another kind", `{"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"], "event": "login"}`,
			"definition.trigger.event", "is not a known key of JOURNEY triggers"},
		{"journey key on an event trigger", `{"kind": "EVENT", "event": "login", "journey": "onboarding"}`,
			"definition.trigger.journey", "is not a known key of EVENT triggers"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseDefinition([]byte(withTrigger(tc.raw)), A)
			requireInvalid(t, err, tc.field, tc.message)
		})
	}

	// A draft may leave the journey and kinds out, not get them wrong.
	_, err := ParseDraft([]byte(`{"trigger": {"kind": "JOURNEY"}}`), A)
	require.NoError(t, err)
	_, err = ParseDraft([]byte(`{"trigger": {"kind": "JOURNEY", "on": ["LATE"]}}`), A)
	requireInvalid(t, err, "definition.trigger.on[0]", "must be one of ENTERED, COMPLETED, CANCELLED, STALLED, MILESTONE_STARTED, MILESTONE_COMPLETED, MILESTONE_SKIPPED, AT_RISK, BEHIND")

	// The stored form keeps what was written and reads back identically.
	d := mustParse(t, withTrigger(`{"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND", "AT_RISK"], "milestone": "setup"}`), condition.ScopeContact)
	require.Equal(t, &Trigger{Kind: TriggerJourney, Journey: "onboarding", On: []JourneyEventKind{MilestoneBehind, MilestoneAtRisk}, Milestone: "setup"}, d.Trigger)
	stored := marshal(t, d)
	require.Equal(t, stored, marshal(t, mustParse(t, stored, condition.ScopeContact)))

	ev := JourneyEvent{Kind: MilestoneBehind, JourneyKey: "onboarding", Milestone: "setup"}
	require.True(t, d.Trigger.MatchesJourney(ev))
	other := ev
	other.Milestone = "training"
	require.False(t, d.Trigger.MatchesJourney(other), "another milestone")
	other = ev
	other.JourneyKey = "adoption"
	require.False(t, d.Trigger.MatchesJourney(other), "another journey")
	other = ev
	other.Kind = MilestoneCompleted
	require.False(t, d.Trigger.MatchesJourney(other), "a kind not listed")
	anyMilestone := mustParse(t, withTrigger(`{"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"]}`), A)
	require.True(t, anyMilestone.Trigger.MatchesJourney(other.withKind(MilestoneBehind)), "no milestone: any milestone")
}

func (ev JourneyEvent) withKind(k JourneyEventKind) JourneyEvent {
	ev.Kind = k
	return ev
}

func TestPublishChecksJourneyReferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.createPlay(t, playOpts{Definition: withTrigger(`{"kind": "JOURNEY", "journey": "onboarding", "on": ["ENTERED"]}`)})
	_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	requireInvalid(t, err, "definition.trigger.journey", "no such journey in this workspace (or it is archived)")

	j := b.createJourney(t, "onboarding")
	b.archiveJourney(t, j)
	_, err = b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	requireInvalid(t, err, "definition.trigger.journey", "no such journey in this workspace (or it is archived)")

	b.createJourney(t, "onboarding") // the key is free again
	_, err = b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	require.NoError(t, err)
	got, err := db.GetPlay(b.ctx, b.db.Bun, b.tenant, p.ID)
	require.NoError(t, err)
	require.Equal(t, "JOURNEY", *got.TriggerKind)
	require.Equal(t, "onboarding", *got.TriggerJourney)

	// Republished with another trigger, the copied key goes.
	_, err = b.svc.UpdateDraft(b.ctx, b.tenant, p.ID, Patch{Definition: json.RawMessage(minimalDefinition)})
	require.NoError(t, err)
	_, err = b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	require.NoError(t, err)
	got, err = db.GetPlay(b.ctx, b.db.Bun, b.tenant, p.ID)
	require.NoError(t, err)
	require.Nil(t, got.TriggerJourney)
}

// fireJourney reports ev in a transaction of its own, as the journey engine would.
func (b *runBundle) fireJourney(t *testing.T, ev JourneyEvent) {
	t.Helper()
	require.NoError(t, db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		return b.eng.OnJourneyEvent(ctx, tx, b.tenant, ev)
	}))
}

func TestJourneyTriggerStartsMatchingPlays(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	onboarding := b.createJourney(t, "onboarding")
	b.createJourney(t, "adoption")
	const steps = `"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]`
	behindSetup := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["AT_RISK", "BEHIND"], "milestone": "setup"}, `+steps+`}`)
	entered := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["ENTERED"]}, `+steps+`}`)
	contacts := b.publish(t, condition.ScopeContact, `{"trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"]}, `+steps+`}`)
	adoption := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "JOURNEY", "journey": "adoption", "on": ["BEHIND"]}, `+steps+`}`)
	growthOnly := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"]},
		"entry": {"field": "account.stage", "op": "eq", "value": "GROWTH"}, `+steps+`}`)
	once := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["BEHIND"]},
		"reentry": {"policy": "ONCE"}, "steps": [{"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "behind"}]}`)

	a := b.account(t, "ONBOARDING")
	live1 := &db.Contact{AccountID: a.ID, Name: "Ann One", Email: "ann@example.com", Custom: json.RawMessage(`{}`)}
	live2 := &db.Contact{AccountID: a.ID, Name: "Bob Two", Email: "bob@example.com", Custom: json.RawMessage(`{}`)}
	gone := &db.Contact{AccountID: a.ID, Name: "Cy Gone", Email: "cy@example.com", Custom: json.RawMessage(`{}`), ArchivedAt: ptrTo(time.Now())}
	for _, c := range []*db.Contact{live1, live2, gone} {
		require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, c))
	}
	enrolment := b.enroll(t, b.db.Bun, onboarding, a.ID, "ACTIVE", time.Now())
	behind := JourneyEvent{Kind: MilestoneBehind, JourneyID: onboarding, JourneyKey: "onboarding", EnrollmentID: enrolment,
		AccountID: a.ID, Milestone: "setup", At: time.Now()}

	// Reported in a transaction that rolls back: nothing starts.
	errRollback := errors.New("rollback")
	err := db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		require.NoError(t, b.eng.OnJourneyEvent(ctx, tx, b.tenant, behind))
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Empty(t, b.runsOf(t, behindSetup.ID))

	b.fireJourney(t, behind)
	runs := b.runsOf(t, behindSetup.ID)
	require.Len(t, runs, 1)
	var info TriggerInfo
	require.NoError(t, json.Unmarshal(runs[0].Trigger, &info))
	require.Equal(t, TriggerJourney, info.Kind)
	require.Equal(t, "onboarding", info.Journey)
	require.Equal(t, MilestoneBehind, info.JourneyEvent)
	require.Equal(t, "setup", info.Milestone)
	require.Equal(t, &enrolment, info.EnrollmentID)
	require.Equal(t, 1, b.countJobs(t, runs[0].ID))

	contactRuns := b.runsOf(t, contacts.ID)
	require.Len(t, contactRuns, 2, "one run per live contact")
	got := []uuid.UUID{*contactRuns[0].ContactID, *contactRuns[1].ContactID}
	require.ElementsMatch(t, []uuid.UUID{live1.ID, live2.ID}, got)

	require.Empty(t, b.runsOf(t, entered.ID), "another kind")
	require.Empty(t, b.runsOf(t, adoption.ID), "another journey")
	require.Empty(t, b.runsOf(t, growthOnly.ID), "the entry condition does not hold")
	require.Len(t, b.runsOf(t, once.ID), 1)

	// Another milestone falling behind: only the plays without a milestone would start, and
	// re-entry keeps them from starting again (NOT_WHILE_ACTIVE while they wait, ONCE ever).
	b.waitStatus(t, b.runsOf(t, once.ID)[0].ID, db.RunCompleted, 10*time.Second)
	training := behind
	training.Milestone = "training"
	b.fireJourney(t, training)
	require.Len(t, b.runsOf(t, behindSetup.ID), 1)
	require.Len(t, b.runsOf(t, contacts.ID), 2)
	require.Len(t, b.runsOf(t, once.ID), 1, "ONCE: the finished run is the only one")

	// The enrolment-level kind, with the key looked up from the journey id.
	b.fireJourney(t, JourneyEvent{Kind: JourneyEntered, JourneyID: onboarding, EnrollmentID: enrolment, AccountID: a.ID, At: time.Now()})
	require.Len(t, b.runsOf(t, entered.ID), 1)

	// A paused play starts nothing.
	_, err = b.svc.Pause(b.ctx, b.tenant, behindSetup.ID)
	require.NoError(t, err)
	other := b.account(t, "ONBOARDING")
	ev := behind
	ev.AccountID = other.ID
	b.fireJourney(t, ev)
	require.Len(t, b.runsOf(t, behindSetup.ID), 1)
	require.Len(t, b.runsOf(t, once.ID), 2, "the other account's first time")
}

func ptrTo[T any](v T) *T { return &v }

// testEnroller stands in for the journey engine (a sibling package that imports this one): it
// enrols by inserting a real journey_enrollments row in the step's transaction, refuses while
// the account has a live enrolment, and reports ENTERED to the engine as the journey engine
// does, so JOURNEY triggers chain from ENROLL_IN_JOURNEY steps.
type testEnroller struct{ eng *Engine }

func (te *testEnroller) EnrollFromPlay(ctx context.Context, tx bun.Tx, t db.Tenant, key string, accountID uuid.UUID, ref string) (*uuid.UUID, error) {
	var journey uuid.UUID
	err := tx.NewRaw(`SELECT id FROM journeys WHERE workspace_id = ? AND key = ? AND status = 'ACTIVE'`, t.WorkspaceID, key).Scan(ctx, &journey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("enrol: %w", db.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	err = tx.NewRaw(`INSERT INTO journey_enrollments (workspace_id, journey_id, version, account_id, source, source_ref)
		SELECT ?, ?, 1, ?, 'PLAY', ? ON CONFLICT (workspace_id, journey_id, account_id) WHERE status IN ('ACTIVE', 'STALLED') DO NOTHING
		RETURNING id`, t.WorkspaceID, journey, accountID, ref).Scan(ctx, &ids)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	ev := JourneyEvent{Kind: JourneyEntered, JourneyID: journey, JourneyKey: key, EnrollmentID: ids[0], AccountID: accountID, At: time.Now()}
	if err := te.eng.OnJourneyEvent(ctx, tx, t, ev); err != nil {
		return nil, err
	}
	return &ids[0], nil
}

func TestEnrollInJourneyStep(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	b.createJourney(t, "onboarding")
	welcome := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "JOURNEY", "journey": "onboarding", "on": ["ENTERED"]},
		"steps": [{"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "Welcome"}]}`)
	p := b.publish(t, condition.ScopeContact, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "enrol", "kind": "ENROLL_IN_JOURNEY", "journey": "onboarding"},
		{"id": "again", "kind": "ENROLL_IN_JOURNEY", "journey": "onboarding"}]}`)
	a := b.account(t, "ONBOARDING")
	c := &db.Contact{AccountID: a.ID, Name: "Ann One", Email: "ann@example.com", Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, c))

	runs := b.launch(t, p.ID, c.ID)
	require.Len(t, runs, 1)
	b.waitStatus(t, runs[0].ID, db.RunCompleted, 10*time.Second)

	// One enrolment of the contact's account, made by the play's first step.
	var rows []struct {
		ID        uuid.UUID `bun:"id"`
		Source    string    `bun:"source"`
		SourceRef string    `bun:"source_ref"`
	}
	require.NoError(t, b.db.Bun.NewRaw(`SELECT id, source, source_ref FROM journey_enrollments WHERE workspace_id = ? AND account_id = ?`,
		b.tenant.WorkspaceID, a.ID).Scan(b.ctx, &rows))
	require.Len(t, rows, 1)
	require.Equal(t, "PLAY", rows[0].Source)
	require.Equal(t, "play_run:"+runs[0].ID.String()+"/step:enrol/iter:0", rows[0].SourceRef)

	log, err := b.eng.StepLog(b.ctx, b.tenant, runs[0].ID)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.Equal(t, "enrolled in onboarding: enrolment "+rows[0].ID.String(), *log[0].Outcome)
	require.Equal(t, "not enrolled in onboarding: already enrolled, or refused by the journey's re-entry policy", *log[1].Outcome)
	require.Equal(t, string(StepEnrollInJourney), log[0].Kind)

	// The enrolment fired ENTERED in the step's transaction: the JOURNEY play started.
	require.Len(t, b.runsOf(t, welcome.ID), 1)
}

func TestEnrollInJourneyStepFails(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	adoption := b.createJourney(t, "adoption")
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "enrol", "kind": "ENROLL_IN_JOURNEY", "journey": "adoption"}]}`)

	// Publishing names the step's journey when it does not exist.
	draft := b.createPlay(t, playOpts{Definition: manual(`{"kind": "WAIT", "duration": "1d"}, {"kind": "ENROLL_IN_JOURNEY", "journey": "renewal"}`)})
	_, err := b.svc.Publish(b.ctx, b.tenant, draft.ID, b.user)
	requireInvalid(t, err, "definition.steps[1].journey", "no such journey in this workspace (or it is archived)")

	// The journey is archived after the play was published: the step fails at once, without
	// River's retries, with an error that says why.
	b.archiveJourney(t, adoption)
	a := b.account(t, "ADOPTION")
	runs := b.launch(t, p.ID, a.ID)
	r := b.waitStatus(t, runs[0].ID, db.RunFailed, 10*time.Second)
	require.Equal(t, `step enrol: enrol in journey "adoption": no active journey has this key (it was archived, paused or never published)`, *r.Error)
	log, err := b.eng.StepLog(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Equal(t, db.StepFailed, log[0].Status)
	require.Equal(t, 1, log[0].Attempt)

	// An engine without a journey engine fails the step the same way. The run is inserted
	// without a job and worked by hand on a copy of the engine.
	b.createJourney(t, "adoption")
	other := b.account(t, "ADOPTION")
	var run *db.PlayRun
	require.NoError(t, db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		first := "enrol"
		run = &db.PlayRun{PlayID: p.ID, Version: 1, SubjectKind: "ACCOUNT", AccountID: other.ID, Status: db.RunRunning,
			CurrentStep: &first, Trigger: json.RawMessage(`{}`), StartedAt: time.Now()}
		_, err := db.InsertPlayRun(ctx, tx, b.tenant, run)
		return err
	}))
	bare := *b.eng
	bare.Journeys = nil
	err = bare.WorkStep(b.ctx, StepArgs{WorkspaceID: b.tenant.WorkspaceID, RunID: run.ID, StepID: "enrol"}, 1, 5)
	var cancel *river.JobCancelError
	require.ErrorAs(t, err, &cancel, "not retried")
	run, err = db.GetPlayRun(b.ctx, b.db.Bun, b.tenant, run.ID)
	require.NoError(t, err)
	require.Equal(t, db.RunFailed, run.Status)
	require.Equal(t, "step enrol: ENROLL_IN_JOURNEY cannot run: no journey engine is configured (Engine.Journeys)", *run.Error)
	n, err := b.db.Bun.NewSelect().Table("journey_enrollments").Where("workspace_id = ? AND account_id = ?", b.tenant.WorkspaceID, other.ID).Count(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	// Retried with the journey engine back, the run enrols and completes.
	_, err = b.eng.RetryRun(b.ctx, b.tenant, run.ID)
	require.NoError(t, err)
	b.waitStatus(t, run.ID, db.RunCompleted, 10*time.Second)
}

func TestJourneyEventEndsRunsOnJourneyGoal(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	onboarding := b.createJourney(t, "onboarding")
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"},
		"goal": {"journey": {"key": "onboarding", "status": ["COMPLETED"]}},
		"exit": {"journey": {"key": "onboarding", "milestone": "setup", "milestoneStatus": ["SKIPPED"]}},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a := b.account(t, "ONBOARDING")
	enrolment := b.enroll(t, b.db.Bun, onboarding, a.ID, "ACTIVE", time.Now())
	runs := b.launch(t, p.ID, a.ID)
	b.waitStatus(t, runs[0].ID, db.RunWaiting, 10*time.Second)

	// The journey engine completes the enrolment and reports it in the same transaction: the
	// run's goal holds at once.
	require.NoError(t, db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE journey_enrollments SET status = 'COMPLETED', completed_at = now() WHERE workspace_id = ? AND id = ?`,
			b.tenant.WorkspaceID, enrolment)
		require.NoError(t, err)
		return b.eng.OnJourneyEvent(ctx, tx, b.tenant, JourneyEvent{Kind: JourneyCompleted, JourneyID: onboarding,
			JourneyKey: "onboarding", EnrollmentID: enrolment, AccountID: a.ID, At: time.Now()})
	}))
	r, err := db.GetPlayRun(b.ctx, b.db.Bun, b.tenant, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, db.RunGoalMet, r.Status)
}

func TestSweepOnJourneyState(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	onboarding := b.createJourney(t, "onboarding")
	p := b.publish(t, condition.ScopeContact, `{"trigger": {"kind": "SCHEDULE", "condition": {"journey": {"key": "onboarding", "status": ["STALLED"]}}},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	stalled, active, never := b.account(t, "ONBOARDING"), b.account(t, "ONBOARDING"), b.account(t, "ONBOARDING")
	want := []uuid.UUID{}
	for i, a := range []*db.Account{stalled, stalled, active, never} {
		c := &db.Contact{AccountID: a.ID, Name: fmt.Sprintf("Contact %d", i), Email: uuid.NewString() + "@example.com", Custom: json.RawMessage(`{}`)}
		require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, c))
		if a == stalled {
			want = append(want, c.ID)
		}
	}
	b.enroll(t, b.db.Bun, onboarding, stalled.ID, "STALLED", time.Now())
	b.enroll(t, b.db.Bun, onboarding, active.ID, "ACTIVE", time.Now())

	_, err := b.eng.sweepPlayByID(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	runs := b.runsOf(t, p.ID)
	got := []uuid.UUID{}
	for _, r := range runs {
		got = append(got, *r.ContactID)
	}
	require.ElementsMatch(t, want, got)
}
