package bench

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

// TestRunPlays runs the plays pipeline on 500 accounts (50 tagged for the sweep) with short
// phases: exact sweep counts, a second sweep that inserts nothing, every executor step done,
// every event's first step started, and a clean workspace afterwards.
func TestRunPlays(t *testing.T) {
	t.Parallel()
	d := dbtest.DB(t)
	ctx := context.Background()
	bunDB, pool, err := db.Open(ctx, d.URL, db.PoolConfig{MaxConns: 12})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bunDB.Close(); pool.Close() })

	opts := PlaysOptions{
		Bun: bunDB, Pool: pool,
		Accounts: 500, Runs: 100, StepsPerRun: 2, Workers: 4,
		FetchPollInterval: 50 * time.Millisecond,
		EventRate:         20, EventDuration: time.Second, PhaseTimeout: time.Minute,
	}
	rep, err := RunPlays(ctx, opts)
	require.NoError(t, err)

	require.True(t, rep.Dataset.Seeded)
	require.Equal(t, PlaysWorkspaceName(500), rep.Dataset.WorkspaceName)
	s := rep.Sweep
	require.EqualValues(t, 50, s.Matching)
	require.EqualValues(t, 50, s.Runs)
	require.EqualValues(t, 50, s.Jobs)
	require.Zero(t, s.SecondRuns)
	require.Positive(t, s.Seconds)

	tp := rep.Throughput
	require.True(t, tp.Complete)
	require.EqualValues(t, 200, tp.StepsDone)
	require.Positive(t, tp.StepsPerSecond)
	require.Positive(t, tp.StatementsPerStep)

	l := rep.Latency
	require.Equal(t, 20, l.Events)
	require.Equal(t, 20, l.Started)
	require.Positive(t, l.P99Ms)
	require.GreaterOrEqual(t, l.MaxMs, l.P99Ms)
	require.Equal(t, 50.0, l.FetchPollMs)

	var table strings.Builder
	require.NoError(t, rep.WriteTable(&table))
	require.Contains(t, table.String(), "trigger to first step")
	t.Log("\n" + table.String())
	_, err = json.Marshal(rep)
	require.NoError(t, err)

	// Nothing of the benchmark is left in its workspace.
	var runs, jobs, tasks, live int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM play_runs WHERE workspace_id = $1),
		       (SELECT count(*) FROM river_job WHERE args->>'workspace_id' = $1::text),
		       (SELECT count(*) FROM tasks WHERE workspace_id = $1),
		       (SELECT count(*) FROM plays WHERE workspace_id = $1 AND status <> 'ARCHIVED')`,
		rep.Dataset.WorkspaceID).Scan(&runs, &jobs, &tasks, &live))
	require.Zero(t, runs+jobs+tasks+live)

	t.Run("cached", func(t *testing.T) {
		ds, err := ensurePlaysDataset(ctx, pool, 500, DefaultMatchEvery, io.Discard)
		require.NoError(t, err)
		require.False(t, ds.Seeded)
		require.Equal(t, rep.Dataset.WorkspaceID, ds.WorkspaceID)
	})
}
