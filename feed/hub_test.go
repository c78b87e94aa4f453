package feed_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/feed"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const wait = 10 * time.Second

type testBundle struct {
	ctx    context.Context
	db     *dbtest.Database
	hub    *feed.Hub
	tenant db.Tenant
}

// setup starts a hub (with LISTEN unless cfg.PollInterval asks for polling only) on the
// package database and makes a workspace.
func setup(t *testing.T, cfg feed.Config, listen bool) *testBundle {
	t.Helper()
	return setupOn(t, dbtest.DB(t), cfg, listen)
}

// setupOn is setup on database d: tests that prune the log use a database of their own, since
// pruning deletes every workspace's old rows.
func setupOn(t *testing.T, d *dbtest.Database, cfg feed.Config, listen bool) *testBundle {
	t.Helper()
	ctx := t.Context()
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Feed "+uuid.NewString()[:8])
	require.NoError(t, err)
	lc := d.Pool.Config().ConnConfig.Copy()
	lc.RuntimeParams["application_name"] = "feed-test-" + ws.ID.String()
	if !listen {
		lc = nil
	}
	hub := feed.NewHub(d.Bun, lc, cfg)
	require.NoError(t, hub.Start(ctx))
	t.Cleanup(hub.Stop)
	return &testBundle{ctx: ctx, db: d, hub: hub, tenant: db.Tenant{WorkspaceID: ws.ID}}
}

func (b *testBundle) append(t *testing.T, tn db.Tenant, kinds ...string) {
	t.Helper()
	changes := make([]*db.Change, len(kinds))
	for i, k := range kinds {
		changes[i] = &db.Change{Topic: db.TopicTask, Kind: k, Payload: json.RawMessage(`{"k":"` + k + `"}`)}
	}
	require.NoError(t, db.AppendChanges(b.ctx, b.db.Bun, tn, changes...))
}

// endRecorder records a subscription's end reason.
type endRecorder struct {
	mu   sync.Mutex
	err  error
	done bool
}

func (e *endRecorder) onEnd(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.err, e.done = err, true
}

func (e *endRecorder) ended() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done, e.err
}

func kindOf(ev *feed.Event) string { return ev.Change.Kind }

func (b *testBundle) subscribe(t *testing.T, ctx context.Context, req feed.Request) (<-chan string, *endRecorder) {
	t.Helper()
	end := &endRecorder{}
	if req.Tenant == (db.Tenant{}) {
		req.Tenant = b.tenant
	}
	req.OnEnd = end.onEnd
	ch, err := feed.Subscribe(ctx, b.hub, req, kindOf)
	require.NoError(t, err)
	return ch, end
}

func receive(t *testing.T, ch <-chan string, n int) []string {
	t.Helper()
	out := make([]string, 0, n)
	timeout := time.After(wait)
	for len(out) < n {
		select {
		case k, ok := <-ch:
			require.True(t, ok, "the subscription ended after %v", out)
			out = append(out, k)
		case <-timeout:
			t.Fatalf("received %v, want %d events", out, n)
		}
	}
	return out
}

func TestHubDeliversByWorkspaceAndFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{PollInterval: time.Minute}, true)
	require.Eventually(t, b.hub.Listening, wait, 5*time.Millisecond)
	other, err := db.CreateWorkspace(b.ctx, b.db.Bun, "Other "+uuid.NewString()[:8])
	require.NoError(t, err)
	all, _ := b.subscribe(t, b.ctx, feed.Request{})
	onlyB, _ := b.subscribe(t, b.ctx, feed.Request{Filter: feed.FilterFunc(func(ev *feed.Event) bool { return ev.Fact("k") == "b" })})

	b.append(t, db.Tenant{WorkspaceID: other.ID}, "foreign")
	b.append(t, b.tenant, "a", "b")
	b.append(t, b.tenant, "c")
	// The poll interval is a minute: these arrive through NOTIFY.
	require.Equal(t, []string{"a", "b", "c"}, receive(t, all, 3))
	require.Equal(t, []string{"b"}, receive(t, onlyB, 1))
}

func TestHubPollsWithoutListen(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{PollInterval: 50 * time.Millisecond}, false)
	ch, _ := b.subscribe(t, b.ctx, feed.Request{})
	b.append(t, b.tenant, "polled")
	require.Equal(t, []string{"polled"}, receive(t, ch, 1))
}

// The LISTEN connection comes back after the server kills it, and wakes the hub again.
func TestHubListenerReconnects(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{PollInterval: time.Minute, ReconnectDelay: 50 * time.Millisecond}, true)
	require.Eventually(t, b.hub.Listening, wait, 5*time.Millisecond)
	ch, _ := b.subscribe(t, b.ctx, feed.Request{})
	var killed int
	require.NoError(t, b.db.Bun.NewRaw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "+
		"WHERE application_name = ?", "feed-test-"+b.tenant.WorkspaceID.String()).Scan(b.ctx, &killed))
	require.Equal(t, 1, killed, "one LISTEN connection per hub")
	require.Eventually(t, func() bool { return !b.hub.Listening() }, wait, 5*time.Millisecond)
	b.append(t, b.tenant, "while away") // its NOTIFY is lost; the reconnect reads it
	require.Eventually(t, b.hub.Listening, wait, 5*time.Millisecond)
	require.Equal(t, []string{"while away"}, receive(t, ch, 1))
	b.append(t, b.tenant, "after")
	require.Equal(t, []string{"after"}, receive(t, ch, 1))
}

// A subscriber that stops reading is dropped with ErrTooSlow; the others never wait for it.
func TestHubDropsSlowSubscriber(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{PollInterval: 20 * time.Millisecond, BufferSize: 2}, true)
	slow, slowEnd := b.subscribe(t, b.ctx, feed.Request{})
	fast, _ := b.subscribe(t, b.ctx, feed.Request{})
	kinds := []string{"1", "2", "3", "4", "5", "6"}
	for _, k := range kinds {
		b.append(t, b.tenant, k)
		require.Equal(t, []string{k}, receive(t, fast, 1))
	}
	require.Eventually(t, func() bool { done, _ := slowEnd.ended(); return done }, wait, 5*time.Millisecond)
	_, err := slowEnd.ended()
	require.ErrorIs(t, err, feed.ErrTooSlow)
	got := []string{}
	for k := range slow { // what it had buffered, then the close
		got = append(got, k)
	}
	require.LessOrEqual(t, len(got), 3)
	require.Equal(t, kinds[:len(got)], got, "in order, with no gap before the drop")
	require.Equal(t, 1, b.hub.Subscribers())
}

func TestHubStopEndsSubscriptions(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{}, true)
	ch, end := b.subscribe(t, b.ctx, feed.Request{})
	b.hub.Stop()
	for range ch {
	}
	_, err := end.ended()
	require.ErrorIs(t, err, feed.ErrStopped)
	_, err = feed.Subscribe(b.ctx, b.hub, feed.Request{Tenant: b.tenant}, kindOf)
	require.ErrorIs(t, err, feed.ErrStopped)
}

func TestHubCancelledSubscriptionLeaves(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{}, true)
	ctx, cancel := context.WithCancel(b.ctx)
	ch, end := b.subscribe(t, ctx, feed.Request{})
	require.Equal(t, 1, b.hub.Subscribers())
	cancel()
	for range ch {
	}
	done, err := end.ended()
	require.True(t, done)
	require.NoError(t, err, "the client left: no error")
	require.Equal(t, 0, b.hub.Subscribers())
}

// Resuming replays the log after the cursor, then continues live: each event once, in order.
func TestHubResumeReplaysThenLive(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{PollInterval: 20 * time.Millisecond}, true)
	var cursors []string
	first, _ := b.subscribe(t, b.ctx, feed.Request{})
	b.append(t, b.tenant, "1", "2")
	b.append(t, b.tenant, "3")
	require.Equal(t, []string{"1", "2", "3"}, receive(t, first, 3))

	// Cursors of those three, read back from the log.
	rows, err := db.ChangesBetween(b.ctx, b.db.Bun, b.tenant, db.Position{}, b.hub.Position(), 100)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	for i := range rows {
		cursors = append(cursors, feed.EncodeCursor(rows[i].Pos()))
	}
	resumed, _ := b.subscribe(t, b.ctx, feed.Request{After: cursors[0]})
	b.append(t, b.tenant, "4")
	require.Equal(t, []string{"2", "3", "4"}, receive(t, resumed, 3))

	_, err = feed.Subscribe(b.ctx, b.hub, feed.Request{Tenant: b.tenant, After: "garbage"}, kindOf)
	require.ErrorIs(t, err, feed.ErrBadCursor)
	other, err := db.CreateWorkspace(b.ctx, b.db.Bun, "Other "+uuid.NewString()[:8])
	require.NoError(t, err)
	_, err = feed.Subscribe(b.ctx, b.hub, feed.Request{Tenant: db.Tenant{WorkspaceID: other.ID}, After: cursors[0]}, kindOf)
	require.ErrorIs(t, err, feed.ErrCursorExpired, "another workspace's cursor is not found")
}

func TestHubPrunesOldRows(t *testing.T) {
	t.Parallel()
	b := setupOn(t, dbtest.Isolated(t), feed.Config{PruneInterval: -1, Retention: time.Hour,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}, false)
	b.append(t, b.tenant, "old")
	rows, err := db.ChangesBetween(b.ctx, b.db.Bun, b.tenant, db.Position{}, db.Position{TxID: 1 << 62}, 10)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	n, err := b.hub.Prune(b.ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 1)
	_, err = feed.Subscribe(b.ctx, b.hub, feed.Request{Tenant: b.tenant, After: feed.EncodeCursor(rows[0].Pos())}, kindOf)
	require.ErrorIs(t, err, feed.ErrCursorExpired)
}

func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	p := db.Position{TxID: 123456789, ID: 42}
	got, err := feed.DecodeCursor(feed.EncodeCursor(p))
	require.NoError(t, err)
	require.Equal(t, p, got)
	for _, bad := range []string{"", "x", feed.EncodeCursor(db.Position{}), "YzE6MDox", "YzE6LTE6MQ", "YzI6MTox"} {
		_, err := feed.DecodeCursor(bad)
		require.True(t, errors.Is(err, feed.ErrBadCursor), "%q", bad)
	}
}

// A journey row as db.JourneyChange writes it reaches the journey's and the account's feeds.
func TestJourneyRowsReachTheirFeeds(t *testing.T) {
	t.Parallel()
	b := setup(t, feed.Config{PollInterval: 20 * time.Millisecond}, true)
	journey, enrollment, account := uuid.New(), uuid.New(), uuid.New()
	byJourney, _ := b.subscribe(t, b.ctx, feed.Request{Filter: feed.JourneyProgress(journey)})
	byAccount, _ := b.subscribe(t, b.ctx, feed.Request{Filter: feed.AccountActivity(account)})
	require.NoError(t, db.AppendChanges(b.ctx, b.db.Bun, b.tenant,
		db.JourneyChange(uuid.New(), uuid.New(), uuid.New(), "ENTERED", "", ""),
		db.JourneyChange(journey, enrollment, account, "BEHIND", "integration", "BEHIND")))
	require.Equal(t, []string{"BEHIND"}, receive(t, byJourney, 1))
	require.Equal(t, []string{"BEHIND"}, receive(t, byAccount, 1))
}
