package condition

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/invalid"
)

// The journey tables are written with SQL here, as the journey engine (a package that builds
// on this one) writes them.

// createJourney inserts a journey with key and one published version; archived journeys free
// their key for a new one.
func (b *testBundle) createJourney(t *testing.T, key string, archived bool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	status, at := "ACTIVE", (*time.Time)(nil)
	if archived {
		status, at = "ARCHIVED", ptr(testNow.Add(-day))
	}
	_, err := b.db.Bun.ExecContext(b.ctx, `INSERT INTO journeys (workspace_id, id, key, name, stage, status, latest_version, trigger_kind, archived_at)
		VALUES (?, ?, ?, ?, 'ONBOARDING', ?, 1, 'MANUAL', ?)`, b.ws.ID, id, key, key+" "+id.String()[:8], status, at)
	require.NoError(t, err)
	_, err = b.db.Bun.ExecContext(b.ctx, `INSERT INTO journey_versions (workspace_id, journey_id, version, definition) VALUES (?, ?, 1, '{}')`,
		b.ws.ID, id)
	require.NoError(t, err)
	return id
}

// enrollment is one enrolment to insert; ID is generated when nil.
type enrollment struct {
	ID         uuid.UUID
	Journey    uuid.UUID
	Account    uuid.UUID
	Status     string
	EnrolledAt time.Time
	// Milestones maps milestone keys to their status in the enrolment.
	Milestones map[string]string
}

// enroll inserts e and its milestone states, and returns its id.
func (b *testBundle) enroll(t *testing.T, e enrollment) uuid.UUID {
	t.Helper()
	if e.ID == uuid.Nil {
		e.ID = uuid.New()
	}
	var completed, cancelled *time.Time
	switch e.Status {
	case "COMPLETED":
		completed = &e.EnrolledAt
	case "CANCELLED":
		cancelled = &e.EnrolledAt
	}
	_, err := b.db.Bun.ExecContext(b.ctx, `INSERT INTO journey_enrollments (workspace_id, id, journey_id, version, account_id, status, source, enrolled_at, completed_at, cancelled_at)
		VALUES (?, ?, ?, 1, ?, ?, 'MANUAL', ?, ?, ?)`, b.ws.ID, e.ID, e.Journey, e.Account, e.Status, e.EnrolledAt, completed, cancelled)
	require.NoError(t, err)
	keys := make([]string, 0, len(e.Milestones))
	for k := range e.Milestones {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		status := e.Milestones[k]
		var started, completedAt, skipped *time.Time
		if status != "NOT_STARTED" {
			started = &e.EnrolledAt
		}
		switch status {
		case "DONE":
			completedAt = &e.EnrolledAt
		case "SKIPPED":
			skipped = &e.EnrolledAt
		}
		_, err := b.db.Bun.ExecContext(b.ctx, `INSERT INTO journey_milestone_states (workspace_id, enrollment_id, milestone_key, journey_id, version,
			account_id, enrolled_at, position, status, started_at, completed_at, skipped_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
			b.ws.ID, e.ID, k, e.Journey, e.Account, e.EnrolledAt, i, status, started, completedAt, skipped)
		require.NoError(t, err)
	}
	return e.ID
}

// newJourneyWorld is newHandWorld's accounts with journeys:
//
//	Acme    onboarding CANCELLED at -30d, then ACTIVE at -10d (kickoff DONE, setup BEHIND,
//	        training NOT_STARTED)
//	Bolt    onboarding COMPLETED at -60d (setup DONE); ACTIVE at -5d in an archived journey
//	        that had the key onboarding (setup BEHIND): not seen
//	Cobalt  never in onboarding; adoption STALLED at -3d (usage AT_RISK)
//	Edge    two onboarding enrolments at the same instant -7d: the one with the greater id
//	        (ACTIVE, setup ON_TRACK) is the latest, the other is CANCELLED (setup BEHIND)
//	Dune    archived; onboarding ACTIVE (setup BEHIND)
func newJourneyWorld(t *testing.T) *handWorld {
	w := newHandWorld(t)
	ago := func(d time.Duration) time.Time { return instantAt(testNow).now.Add(-d) }
	id := func(name string) uuid.UUID {
		for id, n := range w.names {
			if n == name {
				return id
			}
		}
		panic(name)
	}
	old := w.createJourney(t, "onboarding", true)
	onboarding := w.createJourney(t, "onboarding", false)
	adoption := w.createJourney(t, "adoption", false)

	w.enroll(t, enrollment{Journey: onboarding, Account: id("Acme"), Status: "CANCELLED", EnrolledAt: ago(30 * day),
		Milestones: map[string]string{"kickoff": "DONE", "setup": "AT_RISK"}})
	w.enroll(t, enrollment{Journey: onboarding, Account: id("Acme"), Status: "ACTIVE", EnrolledAt: ago(10 * day),
		Milestones: map[string]string{"kickoff": "DONE", "setup": "BEHIND", "training": "NOT_STARTED"}})
	w.enroll(t, enrollment{Journey: onboarding, Account: id("Bolt"), Status: "COMPLETED", EnrolledAt: ago(60 * day),
		Milestones: map[string]string{"setup": "DONE"}})
	w.enroll(t, enrollment{Journey: old, Account: id("Bolt"), Status: "ACTIVE", EnrolledAt: ago(5 * day),
		Milestones: map[string]string{"setup": "BEHIND"}})
	w.enroll(t, enrollment{Journey: adoption, Account: id("Cobalt"), Status: "STALLED", EnrolledAt: ago(3 * day),
		Milestones: map[string]string{"usage": "AT_RISK"}})
	ids := []uuid.UUID{uuid.New(), uuid.New()}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	w.enroll(t, enrollment{ID: ids[1], Journey: onboarding, Account: id("Edge"), Status: "ACTIVE", EnrolledAt: ago(7 * day),
		Milestones: map[string]string{"setup": "ON_TRACK"}})
	w.enroll(t, enrollment{ID: ids[0], Journey: onboarding, Account: id("Edge"), Status: "CANCELLED", EnrolledAt: ago(7 * day),
		Milestones: map[string]string{"setup": "BEHIND"}})
	w.enroll(t, enrollment{Journey: onboarding, Account: id("Dune"), Status: "ACTIVE", EnrolledAt: ago(day),
		Milestones: map[string]string{"setup": "BEHIND"}})
	return w
}

func TestJourneyPredicates(t *testing.T) {
	t.Parallel()
	w := newJourneyWorld(t)
	acc, con := ScopeAccount, ScopeContact
	tests := []struct {
		name  string
		scope Scope
		raw   string
		want  []string
	}{
		{"active", acc, `{"journey":{"key":"onboarding","status":["ACTIVE"]}}`, []string{"Acme", "Edge"}},
		{"live", acc, `{"journey":{"key":"onboarding","status":["ACTIVE","STALLED"]}}`, []string{"Acme", "Edge"}},
		{"never enrolled", acc, `{"journey":{"key":"onboarding","status":["NOT_ENROLLED"]}}`, []string{"Cobalt"}},
		{"finished", acc, `{"journey":{"key":"onboarding","status":["COMPLETED","CANCELLED"]}}`, []string{"Bolt"}},
		{"not enrolled or finished", acc, `{"journey":{"key":"onboarding","status":["NOT_ENROLLED","COMPLETED"]}}`, []string{"Bolt", "Cobalt"}},
		{"stalled in another journey", acc, `{"journey":{"key":"adoption","status":["STALLED"]}}`, []string{"Cobalt"}},
		{"unknown journey", acc, `{"journey":{"key":"renewal","status":["NOT_ENROLLED"]}}`, []string{"Acme", "Bolt", "Cobalt", "Edge"}},
		{"unknown journey is never active", acc, `{"journey":{"key":"renewal","status":["ACTIVE"]}}`, []string{}},

		{"behind on setup", acc, `{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND"]}}`, []string{"Acme"}},
		{"setup in progress", acc, `{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND","ON_TRACK","AT_RISK"]}}`, []string{"Acme", "Edge"}},
		{"setup done", acc, `{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["DONE"]}}`, []string{"Bolt"}},
		{"training not started", acc, `{"journey":{"key":"onboarding","milestone":"training","milestoneStatus":["NOT_STARTED"]}}`, []string{"Acme"}},
		{"unknown milestone", acc, `{"journey":{"key":"onboarding","milestone":"golive","milestoneStatus":["NOT_STARTED"]}}`, []string{}},
		{"not behind on setup", acc, `{"not":{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND"]}}}`,
			[]string{"Bolt", "Cobalt", "Edge"}},
		{"active and at risk on usage", acc, `{"all":[{"journey":{"key":"adoption","status":["STALLED","ACTIVE"]}},
			{"journey":{"key":"adoption","milestone":"usage","milestoneStatus":["AT_RISK"]}}]}`, []string{"Cobalt"}},

		{"contacts of active accounts", con, `{"journey":{"key":"onboarding","status":["ACTIVE"]}}`, []string{"A1", "A2"}},
		{"contacts behind", con, `{"all":[{"field":"contact.persona","op":"eq","value":"decision-maker"},
			{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND"]}}]}`, []string{"A1"}},
		{"contacts never enrolled", con, `{"journey":{"key":"onboarding","status":["NOT_ENROLLED"]}}`, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w.check(t, tc.scope, tc.raw, tc.want...)
		})
	}
}

func TestJourneyExplainAndNeeds(t *testing.T) {
	t.Parallel()
	w := newJourneyWorld(t)
	c := mustParse(t, `{"any":[{"journey":{"key":"onboarding","status":["ACTIVE"]}},
		{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND"]}},
		{"journey":{"key":"adoption","milestone":"usage","milestoneStatus":["DONE"]}}]}`, ScopeAccount)
	require.Equal(t, Needs{Journeys: []string{"adoption", "onboarding"}}, c.Needs(testNow))
	seen := func(name string) []any {
		for id, n := range w.names {
			if n != name {
				continue
			}
			s, err := LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, id, c.Needs(testNow))
			require.NoError(t, err)
			res, err := c.Explain(s, testNow)
			require.NoError(t, err)
			out := []any{}
			for _, r := range res {
				out = append(out, r.Seen, r.Held)
			}
			return out
		}
		panic(name)
	}
	require.Equal(t, []any{"ACTIVE", true, "BEHIND", true, nil, false}, seen("Acme"))
	require.Equal(t, []any{"NOT_ENROLLED", false, nil, false, "AT_RISK", false}, seen("Cobalt"))
	require.Equal(t, []any{"COMPLETED", false, "DONE", false, nil, false}, seen("Bolt"))

	// A subject loaded without the journey is refused, not read as never enrolled.
	s, err := LoadSubject(w.ctx, w.db.Bun, w.t, ScopeAccount, w.accounts[0], Needs{Journeys: []string{"onboarding"}})
	require.NoError(t, err)
	_, err = c.Eval(s, testNow)
	require.ErrorContains(t, err, `activity was loaded without the enrolments in journey "adoption"`)
}

func TestJourneyPredicateRefusesBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct{ raw, field, message string }{
		{`{"journey":"onboarding"}`, "condition.journey", "must be an object with key and status, or key, milestone and milestoneStatus"},
		{`{"journey":{"status":["ACTIVE"]}}`, "condition.journey.key", "is required"},
		{`{"journey":{"key":"On Boarding","status":["ACTIVE"]}}`, "condition.journey.key",
			"must be a journey key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{`{"journey":{"key":"onboarding"}}`, "condition.journey", "must have status, or milestone with milestoneStatus"},
		{`{"journey":{"key":"onboarding","status":[]}}`, "condition.journey.status", "must hold at least one status"},
		{`{"journey":{"key":"onboarding","status":"ACTIVE"}}`, "condition.journey.status", "must be a list of strings"},
		{`{"journey":{"key":"onboarding","status":["ACTIVE","LATE"]}}`, "condition.journey.status[1]",
			"must be one of NOT_ENROLLED, ACTIVE, STALLED, COMPLETED, CANCELLED"},
		{`{"journey":{"key":"onboarding","status":["ACTIVE","ACTIVE"]}}`, "condition.journey.status[1]", "is listed twice"},
		{`{"journey":{"key":"onboarding","status":["ACTIVE"],"milestone":"setup","milestoneStatus":["BEHIND"]}}`, "condition.journey.milestone",
			"cannot be combined with status in one predicate (combine two predicates with all)"},
		{`{"journey":{"key":"onboarding","milestone":"setup"}}`, "condition.journey.milestoneStatus", "is required with milestone"},
		{`{"journey":{"key":"onboarding","milestoneStatus":["BEHIND"]}}`, "condition.journey.milestone", "is required with milestoneStatus"},
		{`{"journey":{"key":"onboarding","milestone":"set up","milestoneStatus":["BEHIND"]}}`, "condition.journey.milestone",
			"must be a milestone key: 1 to 63 characters of a-z, 0-9, _ and -, starting with a letter or digit"},
		{`{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["ACTIVE"]}}`, "condition.journey.milestoneStatus[0]",
			"must be one of NOT_STARTED, ON_TRACK, AT_RISK, BEHIND, DONE, SKIPPED"},
		{`{"journey":{"key":"onboarding","status":["ACTIVE"],"stage":"x"}}`, "condition.journey.stage", "is not a known key"},
		{`{"journey":{"key":"onboarding","status":["ACTIVE"]},"op":"exists"}`, "condition.op", "is not used by a journey predicate"},
		{`{"journey":{"key":"onboarding","status":["ACTIVE"]},"event":"login"}`, "condition.journey", "cannot be combined with event in one node"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.raw), ScopeAccount)
		ie, ok := invalid.As(err)
		require.True(t, ok, "%s: want *invalid.Error, got %v", tc.raw, err)
		require.Equal(t, tc.field, ie.Field, tc.raw)
		require.Equal(t, tc.message, ie.Message, tc.raw)
	}

	// The stored form reads back identically.
	c := mustParse(t, `{"journey":{"milestoneStatus":["BEHIND","AT_RISK"],"milestone":"setup","key":"onboarding"}}`, ScopeContact)
	out, err := c.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, `{"journey":{"key":"onboarding","milestone":"setup","milestoneStatus":["BEHIND","AT_RISK"]}}`, string(out))
	again := mustParse(t, string(out), ScopeContact)
	require.Equal(t, c.Root(), again.Root())
}
