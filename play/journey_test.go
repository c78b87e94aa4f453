package play

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
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
			"definition.trigger.milestone", "must be a milestone key: 1 to 100 characters without spaces"},
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
