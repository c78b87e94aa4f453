package bench

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/journey/analytics"
)

// TestRunJourneys loads a journey of 3,000 simulated enrolments and checks the data has the
// intended shape (4–6 milestones, every enrolment status, open tasks on live enrolments), that
// the report covers exactly what was loaded, and that a second run reuses the dataset.
func TestRunJourneys(t *testing.T) {
	t.Parallel()
	d := dbtest.DB(t)
	ctx := context.Background()
	bunDB, pool, err := db.Open(ctx, d.URL, db.PoolConfig{MaxConns: 6})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bunDB.Close(); pool.Close() })

	opts := JourneysOptions{Bun: bunDB, Pool: pool, Enrollments: 3000, Runs: 2}
	rep, err := RunJourneys(ctx, opts)
	require.NoError(t, err)
	ds := rep.Dataset
	require.True(t, ds.Seeded)
	require.EqualValues(t, 3000, ds.Enrollments)
	// Versions 1, 2, 3 have 4, 5, 6 milestones over 30%, 40%, 30% of the enrolments.
	require.EqualValues(t, 900*4+1200*5+900*6, ds.Milestones)
	for _, s := range []string{"ACTIVE", "COMPLETED", "CANCELLED", "STALLED"} {
		require.Positive(t, ds.ByStatus[s], s)
	}
	require.Positive(t, ds.Tasks)

	require.Len(t, rep.Queries, 4)
	require.Equal(t, 3000, rep.Queries[0].Enrollments)
	require.Less(t, rep.Queries[1].Enrollments, 3000)
	require.Equal(t, 1200, rep.Queries[2].Enrollments)
	for _, q := range rep.Queries {
		require.Equal(t, 2, q.Runs)
		require.Positive(t, q.P50Ms)
		require.GreaterOrEqual(t, q.MaxMs, q.P95Ms)
	}

	// The report agrees with the loaded rows: every live enrolment is somewhere, and the
	// overdue tasks are the loaded open tasks due before the benchmark's now.
	svc := &analytics.Service{DB: bunDB, Now: func() time.Time { return JourneysBenchNow }}
	full, err := svc.Roadblocks(ctx, db.Tenant{WorkspaceID: ds.WorkspaceID}, analytics.Query{
		JourneyID: ds.JourneyID, From: JourneysBenchNow.Add(-journeysSpan), To: JourneysBenchNow,
	})
	require.NoError(t, err)
	require.Len(t, full.Milestones, 6)
	var current int
	for _, c := range full.Current {
		current += c.Count
	}
	require.EqualValues(t, ds.ByStatus["ACTIVE"]+ds.ByStatus["STALLED"], current)
	var overdue, want int
	for _, g := range full.OverdueByTeamRole {
		overdue += g.Count
	}
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE workspace_id = $1 AND due_at < $2`,
		ds.WorkspaceID, JourneysBenchNow).Scan(&want))
	require.Equal(t, want, overdue)
	require.NotEmpty(t, full.Roadblocks)

	var table strings.Builder
	require.NoError(t, rep.WriteTable(&table))
	require.Contains(t, table.String(), "report, all versions, 24 months")
	_, err = json.Marshal(rep)
	require.NoError(t, err)

	again, err := RunJourneys(ctx, opts)
	require.NoError(t, err)
	require.False(t, again.Dataset.Seeded)
	require.Equal(t, ds.JourneyID, again.Dataset.JourneyID)
}

// BenchmarkRoadblocks times the roadblock report over a journey of 20,000 simulated enrolments
// (about 100,000 milestone rows), loaded once into the package's test database.
func BenchmarkRoadblocks(b *testing.B) {
	d := dbtest.DB(b)
	ctx := context.Background()
	bunDB, pool, err := db.Open(ctx, d.URL, db.PoolConfig{MaxConns: 6})
	require.NoError(b, err)
	b.Cleanup(func() { _ = bunDB.Close(); pool.Close() })
	opts, err := JourneysOptions{Bun: bunDB, Pool: pool, Enrollments: 20_000}.withDefaults()
	require.NoError(b, err)
	ds, err := ensureJourneyDataset(ctx, opts)
	require.NoError(b, err)
	svc := &analytics.Service{DB: bunDB, Now: func() time.Time { return JourneysBenchNow }}
	q := analytics.Query{JourneyID: ds.JourneyID, From: JourneysBenchNow.Add(-journeysSpan), To: JourneysBenchNow}
	t := db.Tenant{WorkspaceID: ds.WorkspaceID}
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Roadblocks(ctx, t, q); err != nil {
			b.Fatal(err)
		}
	}
}
