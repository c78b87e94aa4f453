package feed_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/feed"
)

// The notifier tests are not parallel: they count every NOTIFY of the package database, and
// Go runs them before the parallel tests start, with no other hub registered.

// listenConn returns a pool connection listening on the change channel.
func listenConn(t *testing.T, ctx context.Context, pool *pgxpool.Pool) *pgxpool.Conn {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = conn.Exec(context.Background(), "UNLISTEN *")
		conn.Release()
	})
	_, err = conn.Exec(ctx, "LISTEN "+db.ChangeChannel)
	require.NoError(t, err)
	return conn
}

// beginWithChange opens a transaction that has appended one task change and returns it with
// its id.
func (b *testBundle) beginWithChange(t *testing.T, kind string) (bun.Tx, uint64) {
	t.Helper()
	tx, err := b.db.Bun.BeginTx(b.ctx, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback() })
	require.NoError(t, db.AppendChanges(b.ctx, tx, b.tenant,
		&db.Change{Topic: db.TopicTask, Kind: kind, Payload: json.RawMessage(`{}`)}))
	var txid uint64
	require.NoError(t, tx.NewRaw("SELECT pg_current_xact_id()::text::bigint").Scan(b.ctx, &txid))
	return tx, txid
}

// A change committed through a process whose hub is the notifier reaches a subscriber of
// another hub through its LISTEN connection, long before that hub's poll.
func TestCommittedChangeWakesAnotherHub(t *testing.T) {
	writer := setup(t, feed.Config{PollInterval: time.Minute}, false) // registered first: the notifier
	reader := setup(t, feed.Config{PollInterval: time.Minute}, true)
	require.Eventually(t, reader.hub.Listening, wait, 5*time.Millisecond)
	ch, _ := reader.subscribe(t, reader.ctx, feed.Request{Tenant: writer.tenant})

	tx, _ := writer.beginWithChange(t, "committed")
	require.NoError(t, tx.Commit())
	require.Equal(t, []string{"committed"}, receive(t, ch, 1), "woken within `wait`, long before the poll")
}

// A rolled-back transaction sends no wake-up: the one NOTIFY of a commit and a rollback
// carries the committed id, and nothing follows it.
func TestRolledBackChangeSendsNoNotify(t *testing.T) {
	b := setup(t, feed.Config{PollInterval: time.Minute}, true)
	conn := listenConn(t, b.ctx, b.db.Pool)
	committed, committedID := b.beginWithChange(t, "committed")
	rolledBack, rolledBackID := b.beginWithChange(t, "rolled back")
	require.Greater(t, rolledBackID, committedID)
	require.NoError(t, rolledBack.Rollback())
	require.NoError(t, committed.Commit())

	wctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(wctx)
	require.NoError(t, err)
	require.Equal(t, strconv.FormatUint(committedID, 10), n.Payload)
	short, cancel2 := context.WithTimeout(b.ctx, 300*time.Millisecond)
	defer cancel2()
	_, err = conn.Conn().WaitForNotification(short)
	require.Error(t, err, "no NOTIFY for the rolled-back transaction")
}

// Transactions that commit together are announced by far fewer NOTIFYs than commits, and
// every one of their changes is delivered.
func TestCommitsShareNotifies(t *testing.T) {
	const commits = 12
	b := setup(t, feed.Config{PollInterval: time.Minute, NotifyInterval: 100 * time.Millisecond}, true)
	require.Eventually(t, b.hub.Listening, wait, 5*time.Millisecond)
	ch, _ := b.subscribe(t, b.ctx, feed.Request{})
	conn := listenConn(t, b.ctx, b.db.Pool)
	txs := make([]bun.Tx, commits)
	var last uint64
	for i := range txs {
		txs[i], last = b.beginWithChange(t, strconv.Itoa(i))
	}
	for _, tx := range txs {
		require.NoError(t, tx.Commit())
	}
	notifies := 0
	wctx, cancel := context.WithTimeout(b.ctx, wait)
	defer cancel()
	for {
		n, err := conn.Conn().WaitForNotification(wctx)
		require.NoError(t, err, "after %d notifications", notifies)
		notifies++
		if id, _ := strconv.ParseUint(n.Payload, 10, 64); id >= last {
			break
		}
	}
	require.LessOrEqual(t, notifies, commits/4, "%d NOTIFYs for %d commits", notifies, commits)
	require.Len(t, receive(t, ch, commits), commits)
}
