package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newTenant(t *testing.T, b *bun.DB) db.Tenant {
	t.Helper()
	ws, err := db.CreateWorkspace(t.Context(), b, "Change log "+uuid.NewString()[:8])
	require.NoError(t, err)
	return db.Tenant{WorkspaceID: ws.ID}
}

func change(kind string) *db.Change {
	id := uuid.New()
	return &db.Change{Topic: db.TopicTask, Kind: kind, SubjectID: &id, Payload: json.RawMessage(`{"n":1}`)}
}

// kindsAfter reads the whole final log after p and returns the kinds of the tenant's rows.
func kindsAfter(t *testing.T, b *bun.DB, tn db.Tenant, p db.Position) ([]string, bool) {
	t.Helper()
	rows, pending, err := db.ReadChanges(t.Context(), b, p, 10_000)
	require.NoError(t, err)
	var out []string
	for _, r := range rows {
		if r.WorkspaceID == tn.WorkspaceID {
			out = append(out, r.Kind)
		}
	}
	return out, pending
}

func TestAppendChangesRoundTrip(t *testing.T) {
	t.Parallel()
	d := dbtest.Isolated(t)
	ctx := t.Context()
	tn := newTenant(t, d.Bun)
	head, err := db.ChangeHead(ctx, d.Bun)
	require.NoError(t, err)

	a, b := change("created"), change("updated")
	require.NoError(t, db.InTx(ctx, d.Bun, func(ctx context.Context, tx bun.Tx) error {
		return db.AppendChanges(ctx, tx, tn, a, b)
	}))
	var rows []db.Change
	require.Eventually(t, func() bool {
		rows, _, err = db.ReadChanges(ctx, d.Bun, head, 100)
		require.NoError(t, err)
		return len(rows) == 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, "created", rows[0].Kind)
	require.Equal(t, "updated", rows[1].Kind)
	require.NotZero(t, rows[0].TxID, "xid8 scans into uint64")
	require.Equal(t, rows[0].TxID, rows[1].TxID, "one transaction")
	require.Less(t, rows[0].ID, rows[1].ID)
	require.Equal(t, tn.WorkspaceID, rows[0].WorkspaceID)
	require.Equal(t, *a.SubjectID, *rows[0].SubjectID)
	require.JSONEq(t, `{"n":1}`, string(rows[0].Payload))

	newHead, err := db.ChangeHead(ctx, d.Bun)
	require.NoError(t, err)
	require.Equal(t, rows[1].Pos(), newHead)
	ok, err := db.ChangeExists(ctx, d.Bun, tn, rows[0].Pos())
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = db.ChangeExists(ctx, d.Bun, newTenant(t, d.Bun), rows[0].Pos())
	require.NoError(t, err)
	require.False(t, ok, "another workspace's row is not found")

	between, err := db.ChangesBetween(ctx, d.Bun, tn, head, rows[0].Pos(), 100)
	require.NoError(t, err)
	require.Len(t, between, 1)
	require.Equal(t, rows[0].Pos(), between[0].Pos())
}

func TestAppendChangesRolledBackWritesNothing(t *testing.T) {
	t.Parallel()
	d := dbtest.Isolated(t)
	ctx := t.Context()
	tn := newTenant(t, d.Bun)
	head, err := db.ChangeHead(ctx, d.Bun)
	require.NoError(t, err)
	boom := errors.New("boom")
	err = db.InTx(ctx, d.Bun, func(ctx context.Context, tx bun.Tx) error {
		require.NoError(t, db.AppendChanges(ctx, tx, tn, change("created")))
		return boom
	})
	require.ErrorIs(t, err, boom)
	// Wait for a later row to be final: everything before it is then final too.
	require.NoError(t, db.AppendChanges(ctx, d.Bun, tn, change("marker")))
	require.Eventually(t, func() bool {
		kinds, _ := kindsAfter(t, d.Bun, tn, head)
		return len(kinds) == 1
	}, 10*time.Second, 10*time.Millisecond)
	kinds, _ := kindsAfter(t, d.Bun, tn, head)
	require.Equal(t, []string{"marker"}, kinds)
}

// A transaction that started writing first but commits last must not be skipped by a reader
// that already read the later one: rows become readable only once every older transaction
// has ended, and then sort before the later ones.
func TestReadChangesWaitsForOlderTransactions(t *testing.T) {
	t.Parallel()
	d := dbtest.Isolated(t)
	ctx := t.Context()
	tn := newTenant(t, d.Bun)
	head, err := db.ChangeHead(ctx, d.Bun)
	require.NoError(t, err)

	early, err := d.Bun.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer early.Rollback() //nolint:errcheck // committed below
	require.NoError(t, db.AppendChanges(ctx, early, tn, change("early")))

	require.NoError(t, db.InTx(ctx, d.Bun, func(ctx context.Context, tx bun.Tx) error {
		return db.AppendChanges(ctx, tx, tn, change("late"))
	}))
	kinds, pending := kindsAfter(t, d.Bun, tn, head)
	require.Empty(t, kinds, "the later commit waits for the older transaction")
	require.True(t, pending)

	require.NoError(t, early.Commit())
	// Other tests' transactions on the cluster may hold the horizon back for a moment.
	require.Eventually(t, func() bool {
		kinds, _ = kindsAfter(t, d.Bun, tn, head)
		return len(kinds) == 2
	}, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"early", "late"}, kinds)
}

func TestAppendChangesHandsTheTransactionToTheWatcherAndNeverNotifies(t *testing.T) {
	t.Parallel()
	d := dbtest.Isolated(t)
	ctx := t.Context()
	tn := newTenant(t, d.Bun)
	conn, err := d.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "LISTEN "+db.ChangeChannel)
	require.NoError(t, err)
	var mu sync.Mutex
	seen := map[uint64]int{}
	unwatch := db.WatchChanges(func(txid uint64) {
		mu.Lock()
		defer mu.Unlock()
		seen[txid]++
	})
	defer unwatch()

	var txid uint64
	require.NoError(t, db.InTx(ctx, d.Bun, func(ctx context.Context, tx bun.Tx) error {
		for range 3 {
			if err := db.AppendChanges(ctx, tx, tn, change("a"), change("b")); err != nil {
				return err
			}
		}
		return tx.NewRaw("SELECT pg_current_xact_id()::text::bigint").Scan(ctx, &txid)
	}))
	mu.Lock()
	require.Equal(t, 3, seen[txid], "once per append, inside the transaction")
	mu.Unlock()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = conn.Conn().WaitForNotification(short)
	require.Error(t, err, "the writer sends no NOTIFY: the watcher does, after the commit")
}

func TestPruneChanges(t *testing.T) {
	t.Parallel()
	d := dbtest.Isolated(t)
	ctx := t.Context()
	tn := newTenant(t, d.Bun)
	head, err := db.ChangeHead(ctx, d.Bun)
	require.NoError(t, err)
	require.NoError(t, db.AppendChanges(ctx, d.Bun, tn, change("old")))
	n, err := db.PruneChanges(ctx, d.Bun, time.Now().Add(time.Hour), 100)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	kinds, _ := kindsAfter(t, d.Bun, tn, head)
	require.Empty(t, kinds)
}
