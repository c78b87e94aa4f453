package bench

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

// TestRunFeeds runs the feeds pipeline small: 20 subscribers on a real `steward serve` child
// process, 20 tasks/s for a second in both wake-up variants, one throughput run per change log
// mode. Every task must reach its subscriber exactly once.
func TestRunFeeds(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "steward")
	out, err := exec.Command("go", "build", "-o", bin, "..").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	d := dbtest.Isolated(t)
	ctx := context.Background()
	bunDB, pool, err := db.Open(ctx, d.URL, db.PoolConfig{MaxConns: 12})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bunDB.Close(); pool.Close() })
	key := auth.Key{ID: "bench-1", Secret: []byte("0123456789abcdef0123456789abcdef-bench")}
	keys, err := auth.NewKeyset(key)
	require.NoError(t, err)

	rep, err := RunFeeds(ctx, FeedsOptions{
		Bun: bunDB, Pool: pool, Binary: bin, DatabaseURL: d.URL,
		ServerEnv:   []string{"STEWARD_DATA_DIR=" + t.TempDir(), "STEWARD_JWT_KEYS=bench-1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYtYmVuY2g="},
		Keys:        keys,
		Subscribers: 20, Rate: 20, Duration: time.Second, Writers: 4, MutationWorkers: 2, Rounds: 1,
	})
	require.NoError(t, err)

	require.Len(t, rep.Latency, 2)
	for _, l := range rep.Latency {
		require.Equal(t, 20, l.Sent, "variant %+v", l.Variant)
		require.Equal(t, 20, l.Delivered, "variant %+v: %s", l.Variant, l.FirstError)
		require.Zero(t, l.Missing)
		require.Zero(t, l.Duplicates)
		require.Zero(t, l.Failures, l.FirstError)
		require.GreaterOrEqual(t, l.Max, l.P99)
	}
	require.Positive(t, rep.Idle.RSSAfterMiB)
	require.Len(t, rep.Mutations, 3)
	for _, m := range rep.Mutations {
		require.Positive(t, m.Requests, m.Mode)
		require.Zero(t, m.Errors, m.Mode)
	}
	require.Contains(t, rep.Overhead, db.ChangeLogOn)

	var table strings.Builder
	require.NoError(t, rep.WriteTable(&table))
	require.Contains(t, table.String(), "commit → client")
}
