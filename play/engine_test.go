package play

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
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

// The executor's tests share one engine and one started River client on the package
// database: any client may work any test's jobs, so they must all be the same.
var (
	sharedOnce   sync.Once
	sharedEngine *Engine
	sharedErr    error
)

func engineFor(t *testing.T) *Engine {
	t.Helper()
	sharedOnce.Do(func() {
		d := dbtest.DB(t)
		ins, err := queue.NewInserter(d.Bun.DB)
		if err != nil {
			sharedErr = err
			return
		}
		e := &Engine{
			DB:          d.Bun,
			Definitions: &Definitions{DB: d.Bun, Now: time.Now},
			Tasks:       &task.Service{DB: d.Bun, Now: time.Now},
			Delivery:    &delivery.Service{DB: d.Bun},
			Inserter:    ins,
			Config:      EngineConfig{PollInterval: time.Second, PauseRecheck: 200 * time.Millisecond, SweepInterval: time.Second},
		}
		e.Accounts = &account.Service{DB: d.Bun, Now: time.Now, Hooks: e.Hooks()}
		e.Journeys = &testEnroller{eng: e}
		ws := river.NewWorkers()
		e.Workers(ws)
		river.AddWorker(ws, &delivery.EmailWorker{Service: e.Delivery})
		river.AddWorker(ws, &delivery.WebhookWorker{Service: e.Delivery})
		var c *river.Client[pgx.Tx]
		c, sharedErr = queue.NewClient(d.Pool, ws, []*river.PeriodicJob{e.PeriodicSweep()}, queue.Config{Queues: map[string]int{river.QueueDefault: 4}, FetchPollInterval: 50 * time.Millisecond})
		if sharedErr != nil {
			return
		}
		if sharedErr = c.Start(context.Background()); sharedErr != nil {
			return
		}
		sharedEngine = e
	})
	require.NoError(t, sharedErr)
	return sharedEngine
}

type runBundle struct {
	*testBundle
	eng *Engine
}

func setupRun(t *testing.T) *runBundle {
	t.Helper()
	b := setup(t)
	return &runBundle{testBundle: b, eng: engineFor(t)}
}

// publish creates and publishes a play with definition def.
func (b *runBundle) publish(t *testing.T, scope condition.Scope, def string) *db.Play {
	t.Helper()
	p := b.createPlay(t, playOpts{Scope: scope, Definition: def})
	_, err := b.svc.Publish(b.ctx, b.tenant, p.ID, b.user)
	require.NoError(t, err)
	p, err = db.GetPlay(b.ctx, b.db.Bun, b.tenant, p.ID)
	require.NoError(t, err)
	return p
}

func (b *runBundle) account(t *testing.T, stage string) *db.Account {
	t.Helper()
	a := &db.Account{Name: "Acme " + uuid.NewString()[:6], Stage: stage, ARRCurrency: "USD", Tags: []string{}, Custom: json.RawMessage("{}"), OwnerID: &b.user}
	require.NoError(t, db.InsertAccount(b.ctx, b.db.Bun, b.tenant, a))
	return a
}

func (b *runBundle) waitStatus(t *testing.T, runID uuid.UUID, status string, within time.Duration) *db.PlayRun {
	t.Helper()
	var r *db.PlayRun
	require.Eventually(t, func() bool {
		var err error
		r, err = db.GetPlayRun(b.ctx, b.db.Bun, b.tenant, runID)
		require.NoError(t, err)
		return r.Status == status
	}, within, 50*time.Millisecond, "run %s never reached %s", runID, status)
	return r
}

func (b *runBundle) launch(t *testing.T, playID uuid.UUID, ids ...uuid.UUID) []db.PlayRun {
	t.Helper()
	runs, err := b.eng.Launch(b.ctx, b.tenant, playID, ids)
	require.NoError(t, err)
	return runs
}

func (b *runBundle) countTasks(t *testing.T, accountID uuid.UUID) int {
	t.Helper()
	n, err := b.db.Bun.NewSelect().Table("tasks").Where("workspace_id = ? AND account_id = ?", b.tenant.WorkspaceID, accountID).Count(b.ctx)
	require.NoError(t, err)
	return int(n)
}

func (b *runBundle) recordLogin(t *testing.T, accountID uuid.UUID) {
	t.Helper()
	_, err := b.eng.Accounts.RecordEvents(b.ctx, b.tenant, []account.EventInput{{
		ClientEventID: uuid.NewString(), AccountID: &accountID, Name: "login", OccurredAt: time.Now(),
	}})
	require.NoError(t, err)
}

func TestManualLaunchRunsToCompletion(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "task", "kind": "CREATE_TASK", "title": "Call {{account.name}}", "assignee": {"kind": "OWNER"}},
		{"id": "pause", "kind": "WAIT", "duration": "1s"},
		{"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "Called {{account.name}}"}]}`)
	a := b.account(t, "ONBOARDING")
	runs := b.launch(t, p.ID, a.ID)
	require.Len(t, runs, 1)
	r := b.waitStatus(t, runs[0].ID, db.RunCompleted, 15*time.Second)
	require.NotNil(t, r.FinishedAt)
	require.Equal(t, 1, b.countTasks(t, a.ID))
	log, err := b.eng.StepLog(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	require.Len(t, log, 3)
	for _, s := range log {
		require.Equal(t, db.StepDone, s.Status, s.StepID)
	}
	require.NotNil(t, log[0].TaskID)
	require.GreaterOrEqual(t, log[2].StartedAt.Sub(log[1].StartedAt), time.Second)

	// Working the first step's job again is a stale job: no second task.
	require.NoError(t, b.eng.WorkStep(b.ctx, StepArgs{WorkspaceID: b.tenant.WorkspaceID, RunID: r.ID, StepID: "task"}, 1, 5))
	require.Equal(t, 1, b.countTasks(t, a.ID))

	// A subject of another workspace is invalid input naming its index.
	_, err = b.eng.Launch(b.ctx, b.tenant, p.ID, []uuid.UUID{a.ID, uuid.New()})
	requireInvalid(t, err, "subjectIds[1]", "no such live ACCOUNT")
}

func TestStepIdempotentWhenWorkedTwice(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "task", "kind": "CREATE_TASK", "title": "Call", "assignee": {"kind": "OWNER"}},
		{"id": "hook", "kind": "SEND_WEBHOOK", "url": "https://example.com/hook", "body": {"a": "{{account.name}}"}},
		{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a := b.account(t, "ONBOARDING")
	// Insert the run without a job, then work the same job twice by hand, as a retry after a
	// worker died would.
	var r *db.PlayRun
	require.NoError(t, db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		first := "task"
		r = &db.PlayRun{PlayID: p.ID, Version: 1, SubjectKind: "ACCOUNT", AccountID: a.ID, Status: db.RunRunning,
			CurrentStep: &first, Trigger: json.RawMessage(`{}`), StartedAt: time.Now()}
		_, err := db.InsertPlayRun(ctx, tx, b.tenant, r)
		return err
	}))
	args := StepArgs{WorkspaceID: b.tenant.WorkspaceID, RunID: r.ID, StepID: "task"}
	require.NoError(t, b.eng.WorkStep(b.ctx, args, 1, 5))
	require.NoError(t, b.eng.WorkStep(b.ctx, args, 2, 5))
	require.Equal(t, 1, b.countTasks(t, a.ID))
	// The webhook step (enqueued by the first) also worked twice: one outbox row.
	hook := StepArgs{WorkspaceID: b.tenant.WorkspaceID, RunID: r.ID, StepID: "hook"}
	_ = b.eng.WorkStep(b.ctx, hook, 1, 5)
	_ = b.eng.WorkStep(b.ctx, hook, 2, 5)
	n, err := b.db.Bun.NewSelect().Table("outbox_messages").Where("workspace_id = ?", b.tenant.WorkspaceID).Count(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}
