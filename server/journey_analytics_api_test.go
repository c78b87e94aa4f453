package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/journey/analytics"
	"github.com/stewardhq/steward/server/servertest"
)

const journeyAnalyticsQuery = `query($j: ID!, $v: Int, $from: Time!, $to: Time!) {
  journeyAnalytics(journeyId: $j, version: $v, from: $from, to: $to) {
    journeyId version enrollments
    milestones { key name position entered completed skipped everBehind behindShare medianSeconds p90Seconds medianOverrunSeconds p90OverrunSeconds }
    current { milestoneKey status count stalled }
    overdueTasksByTeamRole { teamRole { key } count }
    overdueTasksByAssignee { user { id } count }
    roadblocks { milestoneKey name behind stalled stuck medianOverrunSeconds }
    cohorts { month enrolled completed active stalled cancelled medianDaysToComplete }
  }
}`

// TestJourneyAnalyticsThroughAPI checks the analytics and the account timeline end to end on
// two enrolments: one completed (kickoff in 1 day, on time), one active and behind in setup
// with an overdue CSM task. The figures themselves are checked on a larger fixture in
// journey/analytics; here: ids, converters, roles and errors.
func TestJourneyAnalyticsThroughAPI(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	csmID, csmToken := ws.AddUser(t, db.RoleCSM)
	_, viewerToken := ws.AddUser(t, db.RoleViewer)
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := env.Bun.NewRaw(q, args...).Exec(ctx)
		require.NoError(t, err)
	}

	// Enrolments a month ago (completed) and a week ago (active), both in the current range.
	now := time.Now().UTC().Truncate(time.Second)
	e1At, e2At := now.Add(-30*24*time.Hour), now.Add(-7*24*time.Hour)
	journey, e1, e2 := uuid.New(), uuid.New(), uuid.New()
	var a1, a2, csmRole uuid.UUID
	require.NoError(t, env.Bun.NewRaw(`INSERT INTO accounts (workspace_id, name, stage, arr_currency) VALUES (?, 'Northwind', 'ONBOARDING', 'USD') RETURNING id`, ws.ID).Scan(ctx, &a1))
	require.NoError(t, env.Bun.NewRaw(`INSERT INTO accounts (workspace_id, name, stage, arr_currency) VALUES (?, 'Contoso', 'ONBOARDING', 'USD') RETURNING id`, ws.ID).Scan(ctx, &a2))
	require.NoError(t, env.Bun.NewRaw(`SELECT id FROM team_roles WHERE workspace_id = ? AND key = 'CSM'`, ws.ID).Scan(ctx, &csmRole))
	exec(`INSERT INTO journeys (workspace_id, id, key, name, stage, status, latest_version, trigger_kind) VALUES (?, ?, 'onboarding', 'Onboarding', 'ONBOARDING', 'ACTIVE', 1, 'MANUAL')`, ws.ID, journey)
	exec(`INSERT INTO journey_versions (workspace_id, journey_id, version, definition) VALUES (?, ?, 1, ?)`, ws.ID, journey,
		`{"milestones": [{"key": "kickoff", "name": "Kickoff"}, {"key": "setup", "name": "Technical setup"}]}`)
	exec(`INSERT INTO journey_enrollments (workspace_id, id, journey_id, version, account_id, status, source, enrolled_at, completed_at)
		VALUES (?, ?, ?, 1, ?, 'COMPLETED', 'MANUAL', ?, ?), (?, ?, ?, 1, ?, 'ACTIVE', 'MANUAL', ?, NULL)`,
		ws.ID, e1, journey, a1, e1At, e1At.Add(3*24*time.Hour), ws.ID, e2, journey, a2, e2At)
	day := 24 * time.Hour
	ms := `INSERT INTO journey_milestone_states (workspace_id, enrollment_id, milestone_key, journey_id, version, account_id, enrolled_at,
		position, status, started_at, due_at, behind_at, completed_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`
	exec(ms, ws.ID, e1, "kickoff", journey, a1, e1At, 1, "DONE", e1At, e1At.Add(2*day), nil, e1At.Add(day))
	exec(ms, ws.ID, e1, "setup", journey, a1, e1At, 2, "DONE", e1At.Add(day), e1At.Add(2*day), nil, e1At.Add(3*day))
	exec(ms, ws.ID, e2, "kickoff", journey, a2, e2At, 1, "DONE", e2At, e2At.Add(2*day), nil, e2At.Add(day))
	exec(ms, ws.ID, e2, "setup", journey, a2, e2At, 2, "BEHIND", e2At.Add(day), e2At.Add(3*day), e2At.Add(3*day), nil)
	var task uuid.UUID
	require.NoError(t, env.Bun.NewRaw(`INSERT INTO tasks (workspace_id, account_id, title, assignee_id, team_role_id, due_at, source_kind)
		VALUES (?, ?, 'Connect the integration', ?, ?, ?, 'JOURNEY') RETURNING id`, ws.ID, a2, csmID, csmRole, e2At.Add(2*day)).Scan(ctx, &task))
	exec(`INSERT INTO journey_step_states (workspace_id, enrollment_id, milestone_key, step_key, kind, required, task_id) VALUES (?, ?, 'setup', 'connect', 'TASK', true, ?)`,
		ws.ID, e2, task)

	vars := map[string]any{"j": nodeID("Journey", journey), "from": now.Add(-90 * day).Format(time.RFC3339), "to": now.Add(day).Format(time.RFC3339)}
	var out struct {
		JourneyAnalytics struct {
			JourneyID   string
			Version     *int
			Enrollments int
			Milestones  []struct {
				Key, Name                                string
				Position, Entered, Completed, EverBehind int
				BehindShare                              float64
				MedianSeconds, MedianOverrunSeconds      *float64
			}
			Current []struct {
				MilestoneKey, Status string
				Count, Stalled       int
			}
			OverdueTasksByTeamRole []struct {
				TeamRole struct{ Key string }
				Count    int
			}
			OverdueTasksByAssignee []struct {
				User  struct{ ID string }
				Count int
			}
			Roadblocks []struct {
				MilestoneKey string
				Stuck        int
			}
			Cohorts []struct {
				Month    string
				Enrolled int
			}
		}
	}
	env.Do(t, csmToken, journeyAnalyticsQuery, vars).Decode(t, &out)
	a := out.JourneyAnalytics
	require.Equal(t, nodeID("Journey", journey), a.JourneyID)
	require.Nil(t, a.Version)
	require.Equal(t, 2, a.Enrollments)
	require.Len(t, a.Milestones, 2)
	require.Equal(t, "Kickoff", a.Milestones[0].Name)
	require.Equal(t, 2, a.Milestones[0].Completed)
	require.InEpsilon(t, 86400, *a.Milestones[0].MedianSeconds, analytics.PercentileBound)
	require.Equal(t, "Technical setup", a.Milestones[1].Name)
	require.Equal(t, 2, a.Milestones[1].Entered)
	require.InDelta(t, 0.5, a.Milestones[1].BehindShare, 1e-9)
	// The completed setup took 2 days, one past its target.
	require.InEpsilon(t, 2*86400, *a.Milestones[1].MedianSeconds, analytics.PercentileBound)
	require.InEpsilon(t, 86400, *a.Milestones[1].MedianOverrunSeconds, analytics.PercentileBound)
	require.Len(t, a.Current, 1)
	require.Equal(t, "BEHIND", a.Current[0].Status)
	require.Equal(t, "CSM", a.OverdueTasksByTeamRole[0].TeamRole.Key)
	require.Equal(t, nodeID("User", csmID), a.OverdueTasksByAssignee[0].User.ID)
	require.Equal(t, "setup", a.Roadblocks[0].MilestoneKey)
	require.Equal(t, 1, a.Roadblocks[0].Stuck)
	total := 0
	for _, c := range a.Cohorts {
		require.Regexp(t, `^\d{4}-\d{2}-01$`, c.Month)
		total += c.Enrolled
	}
	require.Equal(t, 2, total)

	// A viewer may not; bad ranges and versions name the argument; foreign ids are not found.
	resp := env.Do(t, viewerToken, journeyAnalyticsQuery, vars)
	require.Equal(t, "FORBIDDEN", resp.Code())
	bad := map[string]any{"j": vars["j"], "from": vars["to"], "to": vars["from"]}
	resp = env.Do(t, csmToken, journeyAnalyticsQuery, bad)
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "to", resp.Field())
	withVersion := map[string]any{"j": vars["j"], "from": vars["from"], "to": vars["to"], "v": 2}
	resp = env.Do(t, csmToken, journeyAnalyticsQuery, withVersion)
	require.Equal(t, "BAD_USER_INPUT", resp.Code())
	require.Equal(t, "version", resp.Field())
	other := env.NewWorkspace(t)
	resp = env.Do(t, other.AdminToken, journeyAnalyticsQuery, vars)
	require.Equal(t, "NOT_FOUND", resp.Code())
	resp = env.Do(t, csmToken, journeyAnalyticsQuery, map[string]any{"j": nodeID("Account", journey), "from": vars["from"], "to": vars["to"]})
	require.Equal(t, "NOT_FOUND", resp.Code())

	// The timeline of the behind account.
	const timeline = `query($a: ID!, $j: ID!) { accountJourneyTimeline(accountId: $a, journeyId: $j) {
		account { name } journeyId attempts { enrollmentId attempt status enrolledAt milestones { key name status dueAt behindAt completedAt } } } }`
	var tl struct {
		AccountJourneyTimeline struct {
			Account   struct{ Name string }
			JourneyID string
			Attempts  []struct {
				EnrollmentID string
				Attempt      int
				Status       string
				EnrolledAt   time.Time
				Milestones   []struct {
					Key, Name, Status string
					DueAt, BehindAt   *time.Time
					CompletedAt       *time.Time
				}
			}
		}
	}
	env.Do(t, csmToken, timeline, map[string]any{"a": nodeID("Account", a2), "j": vars["j"]}).Decode(t, &tl)
	got := tl.AccountJourneyTimeline
	require.Equal(t, "Contoso", got.Account.Name)
	require.Len(t, got.Attempts, 1)
	require.Equal(t, nodeID("JourneyEnrollment", e2), got.Attempts[0].EnrollmentID)
	require.True(t, e2At.Equal(got.Attempts[0].EnrolledAt))
	require.Len(t, got.Attempts[0].Milestones, 2)
	setup := got.Attempts[0].Milestones[1]
	require.Equal(t, "Technical setup", setup.Name)
	require.Equal(t, "BEHIND", setup.Status)
	require.True(t, e2At.Add(3*day).Equal(*setup.BehindAt))
	require.Nil(t, setup.CompletedAt)
	resp = env.Do(t, viewerToken, timeline, map[string]any{"a": nodeID("Account", a2), "j": vars["j"]})
	require.Equal(t, "FORBIDDEN", resp.Code())
	resp = env.Do(t, other.AdminToken, timeline, map[string]any{"a": nodeID("Account", a2), "j": vars["j"]})
	require.Equal(t, "NOT_FOUND", resp.Code())
}
