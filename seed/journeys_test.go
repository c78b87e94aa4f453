package seed

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

// testDemoJourneys seeds the demo journeys on the demo workspace and checks that they are
// published and that their replayed history has the shapes analytics need.
func testDemoJourneys(t *testing.T, d *dbtest.Database, ws uuid.UUID) {
	ctx := context.Background()
	b := d.Bun
	start := time.Now()
	require.NoError(t, DemoJourneys(ctx, b, d.Pool, demoNow))
	t.Logf("demo journeys seeded in %s", time.Since(start))

	var journeys []db.Journey
	require.NoError(t, b.NewSelect().Model(&journeys).Where("workspace_id = ?", ws).OrderExpr("key").Scan(ctx))
	keys := map[string]db.Journey{}
	for _, j := range journeys {
		require.Equal(t, db.JourneyActive, j.Status, j.Key)
		require.Equal(t, 1, j.LatestVersion, j.Key)
		keys[j.Key] = j
	}
	require.Len(t, keys, 5)
	onboarding, addOn := keys[JourneyOnboarding], keys[JourneyOnboardingAddOn]
	require.Equal(t, "deal_closed", *onboarding.TriggerEvent)
	require.Equal(t, onboarding.ID, *addOn.CopiedFromID)
	require.Equal(t, 1, *addOn.CopiedFromVersion)

	type count struct {
		Key    string `bun:"key"`
		Status string `bun:"status"`
		N      int    `bun:"n"`
	}
	var enrolments []count
	require.NoError(t, b.NewRaw(`SELECT j.key, e.status, count(*) AS n FROM journey_enrollments e
		JOIN journeys j ON j.workspace_id = e.workspace_id AND j.id = e.journey_id
		WHERE e.workspace_id = ? GROUP BY 1, 2 ORDER BY 1, 2`, ws).Scan(ctx, &enrolments))
	t.Logf("enrolments: %v", enrolments)
	byStatus := map[string]int{}
	perJourney := map[string]int{}
	for _, c := range enrolments {
		byStatus[c.Status] += c.N
		perJourney[c.Key] += c.N
	}
	for _, k := range []string{JourneyOnboarding, JourneyOnboardingAddOn, JourneyAdoption, JourneyRenewal, JourneyRelaunch} {
		require.Positive(t, perJourney[k], "enrolments in %s", k)
	}
	require.Positive(t, byStatus[db.EnrollmentCompleted], "some enrolments are completed")
	require.Positive(t, byStatus[db.EnrollmentActive], "some enrolments are in progress")

	var milestones []count
	require.NoError(t, b.NewRaw(`SELECT '' AS key, status, count(*) AS n FROM journey_milestone_states
		WHERE workspace_id = ? GROUP BY 2 ORDER BY 2`, ws).Scan(ctx, &milestones))
	t.Logf("milestones: %v", milestones)
	ms := map[string]int{}
	for _, c := range milestones {
		ms[c.Status] = c.N
	}
	for _, s := range []string{db.MilestoneDone, db.MilestoneOnTrack, db.MilestoneBehind, db.MilestoneNotStarted} {
		require.Positive(t, ms[s], "milestones %s", s)
	}
	var late int
	require.NoError(t, b.NewRaw(`SELECT count(*) FROM journey_milestone_states
		WHERE workspace_id = ? AND status = 'DONE' AND completed_at > due_at`, ws).Scan(ctx, &late))
	require.Positive(t, late, "some milestones were completed past their target")
	var openTasks int
	require.NoError(t, b.NewRaw(`SELECT count(*) FROM tasks WHERE workspace_id = ? AND source_kind = 'JOURNEY' AND status = 'OPEN'`, ws).Scan(ctx, &openTasks))
	require.Positive(t, openTasks)

	// A second call finds the journeys and does nothing.
	require.NoError(t, DemoJourneys(ctx, b, d.Pool, demoNow))
	var n int
	require.NoError(t, b.NewRaw(`SELECT count(*) FROM journeys WHERE workspace_id = ?`, ws).Scan(ctx, &n))
	require.Equal(t, 5, n)
}
