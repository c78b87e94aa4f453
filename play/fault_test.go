package play

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/queue"
	"github.com/stewardhq/steward/task"
)

// Fault tests: crashes, retries and concurrent processes. Each runs on a database of its own
// (cloned from the migrated template), so only the River clients it starts, stops and
// restarts work its jobs; the package's shared client never sees them.

// faultWorld is an isolated database with an engine on it (no client started).
type faultWorld struct {
	ctx    context.Context
	bun    *bun.DB
	pool   *pgxpool.Pool
	tenant db.Tenant
	user   uuid.UUID
}

func isolatedDB(t *testing.T) *faultWorld {
	t.Helper()
	ctx := t.Context()
	d := dbtest.Isolated(t)
	b, pool := d.Bun, d.Pool
	ws, err := db.CreateWorkspace(ctx, b, "Faults")
	require.NoError(t, err)
	w := &faultWorld{ctx: ctx, bun: b, pool: pool, tenant: db.Tenant{WorkspaceID: ws.ID}}
	usr := &db.User{Email: "owner-" + uuid.NewString() + "@example.com", Name: "Owner"}
	require.NoError(t, db.InsertUser(ctx, b, usr))
	require.NoError(t, db.InsertMembership(ctx, b, w.tenant, &db.Membership{UserID: usr.ID, Role: db.RoleCSM}))
	w.user = usr.ID
	return w
}

// engine builds an engine (one "server process") on the world's database.
func (w *faultWorld) engine(t *testing.T) *Engine {
	t.Helper()
	ins, err := queue.NewInserter(w.bun.DB)
	require.NoError(t, err)
	dl, err := delivery.New(w.bun, delivery.Config{AllowPrivateWebhookTargets: true, SMTPTimeout: 2 * time.Second, WebhookTimeout: 2 * time.Second, SendingLease: 4 * time.Second})
	require.NoError(t, err)
	e := &Engine{
		DB: w.bun, Definitions: &Definitions{DB: w.bun, Now: time.Now}, Tasks: &task.Service{DB: w.bun, Now: time.Now},
		Delivery: dl, Inserter: ins,
		Config: EngineConfig{PollInterval: time.Second, PauseRecheck: 200 * time.Millisecond, SweepInterval: time.Second},
	}
	e.Accounts = &account.Service{DB: w.bun, Now: time.Now, Hooks: e.Hooks()}
	return e
}

// quickRetry retries failed jobs after 200ms (River's default waits attempt^4 seconds).
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(200 * time.Millisecond)
}

// client starts a River client working e's jobs (and sweeping when periodic); it is stopped
// when the test ends unless the test stops it first.
func (w *faultWorld) client(t *testing.T, e *Engine, periodic bool) *river.Client[pgx.Tx] {
	t.Helper()
	ws := river.NewWorkers()
	e.Workers(ws)
	river.AddWorker(ws, &delivery.EmailWorker{Service: e.Delivery})
	river.AddWorker(ws, &delivery.WebhookWorker{Service: e.Delivery})
	var pj []*river.PeriodicJob
	if periodic {
		pj = append(pj, e.PeriodicSweep())
	}
	c, err := river.NewClient(riverpgxv5.New(w.pool), &river.Config{
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 8}}, Workers: ws, PeriodicJobs: pj,
		FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 50 * time.Millisecond,
		JobTimeout: 3 * time.Second, RescueStuckJobsAfter: 4 * time.Second, RetryPolicy: quickRetry{},
	})
	require.NoError(t, err)
	require.NoError(t, c.Start(context.WithoutCancel(w.ctx)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.StopAndCancel(ctx)
	})
	return c
}

func (w *faultWorld) publish(t *testing.T, e *Engine, def string) uuid.UUID {
	t.Helper()
	p, err := e.Definitions.Create(w.ctx, w.tenant, w.user, NewPlay{Name: "Play " + uuid.NewString()[:8], Scope: condition.ScopeAccount, Definition: json.RawMessage(def)})
	require.NoError(t, err)
	_, err = e.Definitions.Publish(w.ctx, w.tenant, p.ID, w.user)
	require.NoError(t, err)
	return p.ID
}

func (w *faultWorld) account(t *testing.T, stage string) uuid.UUID {
	t.Helper()
	a := &db.Account{Name: "Acme " + uuid.NewString()[:6], Stage: stage, ARRCurrency: "USD", Tags: []string{}, Custom: json.RawMessage("{}"), OwnerID: &w.user}
	require.NoError(t, db.InsertAccount(w.ctx, w.bun, w.tenant, a))
	return a.ID
}

func (w *faultWorld) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, w.bun.NewRaw(q, args...).Scan(w.ctx, &n))
	return n
}

// hookReceiver counts webhook requests and distinct Steward-Delivery-Id values; each request
// takes a while, so deliveries are in flight when a client is stopped.
type hookReceiver struct {
	mu       sync.Mutex
	requests int
	ids      map[string]int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests++
	h.ids[r.Header.Get(delivery.HeaderDeliveryID)]++
	h.mu.Unlock()
	select {
	case <-time.After(300 * time.Millisecond):
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookReceiver) snapshot() (int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, len(h.ids)
}

// killAfter cancels the armed context right after a query containing match has run, as if
// the worker died between a step's effect and its commit.
type killAfter struct {
	match  string
	mu     sync.Mutex
	cancel context.CancelFunc
	fired  atomic.Bool
}

func (k *killAfter) arm(cancel context.CancelFunc) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cancel = cancel
}

func (k *killAfter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (k *killAfter) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cancel != nil && strings.Contains(e.Query, k.match) {
		k.fired.Store(true)
		k.cancel()
	}
}

func TestFaultCrashMidStepDeliversOnce(t *testing.T) {
	t.Parallel()
	w := isolatedDB(t)
	e := w.engine(t)
	recv := &hookReceiver{ids: map[string]int{}}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	playID := w.publish(t, e, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "task", "kind": "CREATE_TASK", "title": "Call {{account.name}}", "assignee": {"kind": "OWNER"}},
		{"id": "mail", "kind": "SEND_EMAIL", "to": "CONTACTS", "subject": "Hi {{contact.firstName}}", "body": "About {{account.name}}"},
		{"id": "hook", "kind": "SEND_WEBHOOK", "url": "`+srv.URL+`/hook", "body": {"account": "{{account.name}}"}, "retries": 10},
		{"id": "again", "kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "never"}, "interval": "1s", "maxTimes": 2, "steps": [
			{"id": "loop-task", "kind": "CREATE_TASK", "title": "Loop", "assignee": {"kind": "OWNER"}}]}]}`)
	const n = 12
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = w.account(t, "GROWTH")
		c := &db.Contact{AccountID: ids[i], Name: "Pat Doe", Email: fmt.Sprintf("pat%d@example.com", i), Custom: json.RawMessage(`{}`)}
		require.NoError(t, db.InsertContact(w.ctx, w.bun, w.tenant, c))
	}
	runs, err := e.Launch(w.ctx, w.tenant, playID, ids)
	require.NoError(t, err)
	require.Len(t, runs, n)

	// Before any client runs: the first run's first step worked twice by hand, as when a
	// worker committed the step but died before River recorded the job as done. The job is
	// still queued, so the client below works it a third time.
	first := StepArgs{WorkspaceID: w.tenant.WorkspaceID, RunID: runs[0].ID, StepID: "task"}
	require.NoError(t, e.WorkStep(w.ctx, first, 1, 5))
	require.NoError(t, e.WorkStep(w.ctx, first, 2, 5))
	require.Equal(t, 1, w.count(t, "SELECT count(*) FROM tasks WHERE idempotency_key LIKE ?", "play_run:"+runs[0].ID.String()+"/%"))

	// A worker killed right after a step's effect: the task is inserted, then the context is
	// cancelled before the step's transaction commits. The effect rolls back with it.
	kill := &killAfter{match: `INSERT INTO "tasks"`}
	w.bun.AddQueryHook(kill)
	ctx, cancel := context.WithCancel(w.ctx)
	kill.arm(cancel)
	second := StepArgs{WorkspaceID: w.tenant.WorkspaceID, RunID: runs[1].ID, StepID: "task"}
	require.ErrorIs(t, e.WorkStep(ctx, second, 1, 5), context.Canceled)
	kill.arm(nil)
	require.True(t, kill.fired.Load(), "the task was inserted before the kill")
	require.Zero(t, w.count(t, "SELECT count(*) FROM tasks WHERE idempotency_key LIKE ?", "play_run:"+runs[1].ID.String()+"/%"))
	require.Zero(t, w.count(t, "SELECT count(*) FROM play_step_runs WHERE run_id = ?", runs[1].ID))

	// A client starts, and is stopped (cancelling what runs) while webhooks are in flight.
	c1 := w.client(t, e, false)
	require.Eventually(t, func() bool { r, _ := recv.snapshot(); return r >= 1 }, 20*time.Second, 10*time.Millisecond, "no webhook reached the receiver")
	stopCtx, stop := context.WithTimeout(w.ctx, 10*time.Second)
	defer stop()
	require.NoError(t, c1.StopAndCancel(stopCtx))

	// Another process takes over on the same database.
	w.client(t, e, false)
	require.Eventually(t, func() bool {
		return w.count(t, "SELECT count(*) FROM play_runs WHERE play_id = ? AND status = 'COMPLETED'", playID) == n &&
			w.count(t, "SELECT count(*) FROM outbox_messages WHERE workspace_id = ? AND status <> 'SENT'", w.tenant.WorkspaceID) == 0
	}, 60*time.Second, 100*time.Millisecond, "the runs or their deliveries never finished")

	// Exactly one task per (run, step, round): the task step and two loop rounds per run.
	require.Equal(t, 3*n, w.count(t, "SELECT count(*) FROM tasks WHERE workspace_id = ?", w.tenant.WorkspaceID))
	require.Zero(t, w.count(t, "SELECT count(*) FROM (SELECT idempotency_key FROM tasks WHERE workspace_id = ? GROUP BY 1 HAVING count(*) > 1) d", w.tenant.WorkspaceID))
	// One outbox row per email and per webhook, all SENT; the dev mailbox holds each email once.
	require.Equal(t, n, w.count(t, "SELECT count(*) FROM outbox_messages WHERE workspace_id = ? AND kind = 'EMAIL'", w.tenant.WorkspaceID))
	require.Equal(t, n, w.count(t, "SELECT count(*) FROM outbox_messages WHERE workspace_id = ? AND kind = 'WEBHOOK'", w.tenant.WorkspaceID))
	require.Equal(t, n, w.count(t, "SELECT count(*) FROM mailbox_messages WHERE workspace_id = ?", w.tenant.WorkspaceID))
	// The receiver saw every webhook, each under one delivery id (repeats of an id are the
	// documented at-least-once window, deduplicated by the receiver).
	requests, distinct := recv.snapshot()
	t.Logf("webhook requests: %d, distinct delivery ids: %d", requests, distinct)
	require.Equal(t, n, distinct, "distinct Steward-Delivery-Id values (of %d requests)", requests)
	// The step log has one DONE row per (run, step, round).
	require.Zero(t, w.count(t, "SELECT count(*) FROM play_step_runs WHERE workspace_id = ? AND status <> 'DONE'", w.tenant.WorkspaceID))
}

func TestFaultTwoProcessesSweepOnce(t *testing.T) {
	t.Parallel()
	w := isolatedDB(t)
	e1, e2 := w.engine(t), w.engine(t)
	playID := w.publish(t, e1, `{"trigger": {"kind": "SCHEDULE", "condition": {"field": "account.stage", "op": "eq", "value": "AT_RISK"}},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	for i := range 100 {
		stage := "GROWTH"
		if i%5 == 0 {
			stage = "AT_RISK"
		}
		w.account(t, stage)
	}
	// Two processes with the periodic sweep, and both sweeping by hand at the same time too.
	w.client(t, e1, true)
	w.client(t, e2, true)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		e := []*Engine{e1, e2}[i%2]
		wg.Go(func() { _, errs[i] = e.Sweep(w.ctx) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Equal(t, 20, w.count(t, "SELECT count(*) FROM play_runs WHERE play_id = ?", playID))
	// require.Never may leave its last check running after it returns (and after the test,
	// whose context is then cancelled): the check reports an error as a count, not through t.
	runs := func() int {
		var n int
		if err := w.bun.NewRaw("SELECT count(*) FROM play_runs WHERE play_id = ?", playID).Scan(context.Background(), &n); err != nil {
			return -1
		}
		return n
	}
	require.Never(t, func() bool { return runs() != 20 }, 2500*time.Millisecond, 100*time.Millisecond, "a periodic sweep added runs (or counting failed)")
	require.Equal(t, 20, w.count(t, "SELECT count(DISTINCT account_id) FROM play_runs WHERE play_id = ?", playID))
	// Each run's jobs (the first step, then its wake-up) belong to one of the 20 runs.
	require.Equal(t, 20, w.count(t, "SELECT count(DISTINCT args->>'run_id') FROM river_job WHERE kind = ?", KindStep))
}

func TestFaultRolledBackMutationStartsNothing(t *testing.T) {
	t.Parallel()
	w := isolatedDB(t)
	e := w.engine(t)
	playID := w.publish(t, e, `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a := w.account(t, "GROWTH")
	risk := "AT_RISK"
	errRollback := errors.New("rollback")
	err := db.InTx(w.ctx, w.bun, func(ctx context.Context, tx bun.Tx) error {
		_, err := e.Accounts.ChangeInTx(ctx, tx, w.tenant, a, account.Patch{Stage: &risk})
		require.NoError(t, err)
		var inside int
		require.NoError(t, tx.NewRaw("SELECT count(*) FROM play_runs WHERE play_id = ?", playID).Scan(ctx, &inside))
		require.Equal(t, 1, inside, "the change started a run inside its transaction")
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Zero(t, w.count(t, "SELECT count(*) FROM play_runs WHERE play_id = ?", playID))
	require.Zero(t, w.count(t, "SELECT count(*) FROM river_job WHERE kind = ?", KindStep))
	got, err := db.GetAccount(w.ctx, w.bun, w.tenant, a)
	require.NoError(t, err)
	require.Equal(t, "GROWTH", got.Stage)

	// Committed, the same change starts the run and its job.
	_, err = e.Accounts.Update(w.ctx, w.tenant, a, account.Patch{Stage: &risk})
	require.NoError(t, err)
	require.Equal(t, 1, w.count(t, "SELECT count(*) FROM play_runs WHERE play_id = ?", playID))
	require.Equal(t, 1, w.count(t, "SELECT count(*) FROM river_job WHERE kind = ?", KindStep))
}
