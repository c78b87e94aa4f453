package analytics

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// day is the unit the fixture's hand-computed figures are written in.
const day = 24 * time.Hour

// at parses a fixture timestamp ("2026-01-05 12:00", UTC).
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04", s)
	require.NoError(t, err)
	return v.UTC()
}

// fixture writes journey rows with SQL, as the journey engine would leave them.
type fixture struct {
	t      testing.TB
	ctx    context.Context
	db     *bun.DB
	tenant db.Tenant
}

func newFixture(t testing.TB, d *bun.DB, name string) *fixture {
	t.Helper()
	ws, err := db.CreateWorkspace(t.Context(), d, name+" "+uuid.NewString()[:8])
	require.NoError(t, err)
	return &fixture{t: t, ctx: t.Context(), db: d, tenant: db.Tenant{WorkspaceID: ws.ID}}
}

func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	_, err := f.db.NewRaw(query, args...).Exec(f.ctx)
	require.NoError(f.t, err)
}

func (f *fixture) account() uuid.UUID {
	f.t.Helper()
	a := &db.Account{Name: "Account " + uuid.NewString()[:8], Stage: "ONBOARDING", ARRCurrency: "USD", Tags: []string{}, Custom: json.RawMessage("{}")}
	require.NoError(f.t, db.InsertAccount(f.ctx, f.db, f.tenant, a))
	return a.ID
}

func (f *fixture) member() uuid.UUID {
	f.t.Helper()
	u := &db.User{Email: "user-" + uuid.NewString() + "@example.com", Name: "Member"}
	require.NoError(f.t, db.InsertUser(f.ctx, f.db, u))
	require.NoError(f.t, db.InsertMembership(f.ctx, f.db, f.tenant, &db.Membership{UserID: u.ID, Role: db.RoleCSM}))
	return u.ID
}

func (f *fixture) role(key string) uuid.UUID {
	f.t.Helper()
	r, err := db.TeamRoleByKeyOrID(f.ctx, f.db, f.tenant, key)
	require.NoError(f.t, err)
	return r.ID
}

// fxMilestone is a milestone of a definition.
type fxMilestone struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Target string `json:"target"`
}

// journey inserts an ACTIVE journey with id (a fresh one when nil) and its published versions.
func (f *fixture) journey(id uuid.UUID, versions ...[]fxMilestone) uuid.UUID {
	f.t.Helper()
	if id == uuid.Nil {
		id = uuid.New()
	}
	f.exec(`INSERT INTO journeys (workspace_id, id, key, name, stage, status, latest_version, trigger_kind)
		VALUES (?, ?, ?, ?, 'ONBOARDING', 'ACTIVE', ?, 'MANUAL')`, f.tenant.WorkspaceID, id, "onboarding-"+id.String()[:8], "Onboarding "+id.String()[:8], len(versions))
	for i, ms := range versions {
		def, err := json.Marshal(map[string]any{"milestones": ms})
		require.NoError(f.t, err)
		f.exec(`INSERT INTO journey_versions (workspace_id, journey_id, version, definition) VALUES (?, ?, ?, ?)`,
			f.tenant.WorkspaceID, id, i+1, string(def))
	}
	return id
}

// fxEnrollment is an enrolment and its milestones.
type fxEnrollment struct {
	Journey    uuid.UUID
	Version    int
	Account    uuid.UUID
	Status     string
	Attempt    int
	RestartOf  *uuid.UUID
	EnrolledAt time.Time
	// Ended is completed_at for COMPLETED, cancelled_at for CANCELLED.
	Ended      time.Time
	Milestones []fxState
}

// fxState is a milestone state; zero times are NULL.
type fxState struct {
	Key                                              string
	Status                                           string
	Started, Due, AtRisk, Behind, Completed, Skipped time.Time
}

func nullTime(v time.Time) *time.Time {
	if v.IsZero() {
		return nil
	}
	return &v
}

func (f *fixture) enroll(e fxEnrollment) uuid.UUID {
	f.t.Helper()
	id := uuid.New()
	var completed, cancelled *time.Time
	switch e.Status {
	case "COMPLETED":
		completed = &e.Ended
	case "CANCELLED":
		cancelled = &e.Ended
	}
	if e.Attempt == 0 {
		e.Attempt = 1
	}
	f.exec(`INSERT INTO journey_enrollments (workspace_id, id, journey_id, version, account_id, status, attempt, restart_of,
		source, enrolled_at, last_progress_at, completed_at, cancelled_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'MANUAL', ?, ?, ?, ?)`,
		f.tenant.WorkspaceID, id, e.Journey, e.Version, e.Account, e.Status, e.Attempt, e.RestartOf,
		e.EnrolledAt, e.EnrolledAt, completed, cancelled)
	for i, m := range e.Milestones {
		f.exec(`INSERT INTO journey_milestone_states (workspace_id, enrollment_id, milestone_key, journey_id, version, account_id,
			enrolled_at, position, status, started_at, due_at, at_risk_at, behind_at, completed_at, skipped_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.tenant.WorkspaceID, id, m.Key, e.Journey, e.Version, e.Account, e.EnrolledAt, i+1, m.Status,
			nullTime(m.Started), nullTime(m.Due), nullTime(m.AtRisk), nullTime(m.Behind), nullTime(m.Completed), nullTime(m.Skipped))
	}
	return id
}

// fxTask is a task created by an enrolment's step (Enrollment nil: a manual task).
type fxTask struct {
	Enrollment   *uuid.UUID
	Milestone    string
	Account      uuid.UUID
	Status       string
	Due          time.Time
	SnoozedUntil time.Time
	TeamRole     *uuid.UUID
	Assignee     *uuid.UUID
}

func (f *fixture) task(tk fxTask) {
	f.t.Helper()
	id := uuid.New()
	source := "MANUAL"
	if tk.Enrollment != nil {
		source = "JOURNEY"
	}
	var completed *time.Time
	if tk.Status == "DONE" {
		completed = &tk.Due
	}
	f.exec(`INSERT INTO tasks (workspace_id, id, account_id, title, assignee_id, team_role_id, due_at, status, snoozed_until,
		source_kind, completed_at) VALUES (?, ?, ?, 'Do it', ?, ?, ?, ?, ?, ?, ?)`,
		f.tenant.WorkspaceID, id, tk.Account, tk.Assignee, tk.TeamRole, tk.Due, tk.Status, nullTime(tk.SnoozedUntil), source, completed)
	if tk.Enrollment != nil {
		f.exec(`INSERT INTO journey_step_states (workspace_id, enrollment_id, milestone_key, step_key, kind, required, task_id)
			VALUES (?, ?, ?, ?, 'TASK', true, ?)`, f.tenant.WorkspaceID, *tk.Enrollment, tk.Milestone, "step-"+id.String(), id)
	}
}
