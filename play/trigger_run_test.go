package play

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

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

func (b *runBundle) runsOf(t *testing.T, playID uuid.UUID) []db.PlayRun {
	t.Helper()
	runs, _, err := b.eng.Runs(b.ctx, b.tenant, RunFilter{PlayID: &playID}, Page{First: 200})
	require.NoError(t, err)
	return runs
}

func (b *runBundle) countJobs(t *testing.T, runID uuid.UUID) int {
	t.Helper()
	n, err := b.db.Bun.NewSelect().Table("river_job").Where("kind = ? AND args->>'run_id' = ?", KindStep, runID.String()).Count(b.ctx)
	require.NoError(t, err)
	return int(n)
}

func TestEventTriggerStartsRunInSameTransaction(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "EVENT", "event": "feature_used", "properties": {"feature": "reports"}},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a := b.account(t, "GROWTH")

	// An event that does not match the properties starts nothing.
	_, err := b.eng.Accounts.RecordEvents(b.ctx, b.tenant, []account.EventInput{{ClientEventID: uuid.NewString(), AccountID: &a.ID,
		Name: "feature_used", OccurredAt: time.Now(), Properties: []byte(`{"feature": "export"}`)}})
	require.NoError(t, err)
	require.Empty(t, b.runsOf(t, p.ID))

	// The hook inside a transaction that rolls back: no run, no job.
	errRollback := errors.New("rollback")
	err = db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		evs, err := db.InsertEvents(ctx, tx, b.tenant, []*db.Event{{ClientEventID: uuid.NewString(), AccountID: a.ID, Name: "feature_used",
			OccurredAt: time.Now(), Properties: []byte(`{"feature": "reports"}`)}})
		require.NoError(t, err)
		require.NoError(t, b.eng.OnEventsRecorded(ctx, tx, b.tenant, evs))
		var n int
		require.NoError(t, tx.NewSelect().Table("play_runs").ColumnExpr("count(*)").Where("play_id = ?", p.ID).Scan(ctx, &n))
		require.Equal(t, 1, n, "the run exists inside the transaction")
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Empty(t, b.runsOf(t, p.ID))
	n, err := b.db.Bun.NewSelect().Table("river_job").Where("kind = ? AND args->>'workspace_id' = ?", KindStep, b.tenant.WorkspaceID.String()).Count(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n)

	// Committed: the run and its job exist; the trigger records the event.
	_, err = b.eng.Accounts.RecordEvents(b.ctx, b.tenant, []account.EventInput{{ClientEventID: uuid.NewString(), AccountID: &a.ID,
		Name: "feature_used", OccurredAt: time.Now(), Properties: []byte(`{"feature": "reports"}`)}})
	require.NoError(t, err)
	runs := b.runsOf(t, p.ID)
	require.Len(t, runs, 1)
	require.Contains(t, string(runs[0].Trigger), `"event": "feature_used"`)
	require.Equal(t, 1, b.countJobs(t, runs[0].ID))
	b.waitStatus(t, runs[0].ID, db.RunWaiting, 10*time.Second)

	// NOT_WHILE_ACTIVE (the default): a second event starts nothing while the run waits.
	_, err = b.eng.Accounts.RecordEvents(b.ctx, b.tenant, []account.EventInput{{ClientEventID: uuid.NewString(), AccountID: &a.ID,
		Name: "feature_used", OccurredAt: time.Now(), Properties: []byte(`{"feature": "reports"}`)}})
	require.NoError(t, err)
	require.Len(t, b.runsOf(t, p.ID), 1)
}

func TestGoalMetWhenLoginRecorded(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "goal": {"eventSinceStart": "login"}, "steps": [
		{"id": "nudge", "kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1s", "maxTimes": 5, "steps": [
			{"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "Nudged {{account.name}}"}]}]}`)
	a := b.account(t, "GROWTH")
	runs := b.launch(t, p.ID, a.ID)
	require.Len(t, runs, 1)
	// Let it go round at least once, then log in: the run ends at once.
	require.Eventually(t, func() bool {
		log, err := b.eng.StepLog(b.ctx, b.tenant, runs[0].ID)
		require.NoError(t, err)
		return len(log) >= 2
	}, 10*time.Second, 50*time.Millisecond)
	b.recordLogin(t, a.ID)
	r, err := b.eng.Run(b.ctx, b.tenant, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, db.RunGoalMet, r.Status, "ended when the login was recorded")
}

func TestRepeatRunsMaxTimes(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "nudge", "kind": "REPEAT_UNTIL", "until": {"eventSinceStart": "login"}, "interval": "1s", "maxTimes": 3, "steps": [
			{"id": "task", "kind": "CREATE_TASK", "title": "Call", "assignee": {"kind": "OWNER"}}]},
		{"id": "done", "kind": "ADD_TIMELINE_NOTE", "body": "done"}]}`)
	a := b.account(t, "GROWTH")
	runs := b.launch(t, p.ID, a.ID)
	b.waitStatus(t, runs[0].ID, db.RunCompleted, 20*time.Second)
	require.Equal(t, 3, b.countTasks(t, a.ID))
	log, err := b.eng.StepLog(b.ctx, b.tenant, runs[0].ID)
	require.NoError(t, err)
	iters := map[int]bool{}
	for _, s := range log {
		if s.StepID == "task" {
			iters[s.Iteration] = true
		}
	}
	require.Equal(t, map[int]bool{1: true, 2: true, 3: true}, iters)
}

func TestBranchBothWays(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "which", "kind": "BRANCH", "if": {"field": "account.stage", "op": "eq", "value": "AT_RISK"},
		 "then": [{"id": "risk", "kind": "ADD_TIMELINE_NOTE", "body": "at risk"}],
		 "else": [{"id": "fine", "kind": "ADD_TIMELINE_NOTE", "body": "fine"}]},
		{"id": "end", "kind": "ADD_TIMELINE_NOTE", "body": "end"}]}`)
	risky, fine := b.account(t, "AT_RISK"), b.account(t, "GROWTH")
	runs := b.launch(t, p.ID, risky.ID, fine.ID)
	require.Len(t, runs, 2)
	steps := func(id uuid.UUID) []string {
		b.waitStatus(t, id, db.RunCompleted, 10*time.Second)
		log, err := b.eng.StepLog(b.ctx, b.tenant, id)
		require.NoError(t, err)
		var out []string
		for _, s := range log {
			out = append(out, s.StepID)
		}
		return out
	}
	require.ElementsMatch(t, []string{"which", "risk", "end"}, steps(runs[0].ID))
	require.ElementsMatch(t, []string{"which", "fine", "end"}, steps(runs[1].ID))
}

func TestWaitUntilTimeoutExits(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "hold", "kind": "WAIT_UNTIL", "until": {"eventSinceStart": "login"}, "timeout": "2s", "onTimeout": "EXIT"},
		{"id": "after", "kind": "ADD_TIMELINE_NOTE", "body": "never"}]}`)
	a := b.account(t, "GROWTH")
	runs := b.launch(t, p.ID, a.ID)
	r := b.waitStatus(t, runs[0].ID, db.RunExited, 15*time.Second)
	require.Equal(t, "timed out", *r.Outcome)
	log, err := b.eng.StepLog(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	require.Len(t, log, 1)

	// And the condition holding lets the run continue.
	a2 := b.account(t, "GROWTH")
	runs = b.launch(t, p.ID, a2.ID)
	b.waitStatus(t, runs[0].ID, db.RunWaiting, 10*time.Second)
	b.recordLogin(t, a2.ID)
	b.waitStatus(t, runs[0].ID, db.RunCompleted, 10*time.Second)
}

func TestReentryPolicies(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	def := func(reentry string) string {
		// The wait keeps each first run active while the second launch is tried: without it a
		// worker can finish the one-step run in between.
		return `{"trigger": {"kind": "MANUAL"}, "reentry": ` + reentry + `, "steps": [{"id": "w", "kind": "WAIT", "duration": "2s"}, {"id": "n", "kind": "ADD_TIMELINE_NOTE", "body": "x"}]}`
	}
	once := b.publish(t, condition.ScopeAccount, def(`{"policy": "ONCE"}`))
	active := b.publish(t, condition.ScopeAccount, def(`{"policy": "NOT_WHILE_ACTIVE"}`))
	cool := b.publish(t, condition.ScopeAccount, def(`{"policy": "COOLDOWN", "cooldown": "1h"}`))
	a := b.account(t, "GROWTH")

	for _, p := range []*db.Play{once, active, cool} {
		runs := b.launch(t, p.ID, a.ID)
		require.Len(t, runs, 1)
		// While active (launched twice in a row), nothing starts.
		require.Empty(t, b.launch(t, p.ID, a.ID))
		b.waitStatus(t, runs[0].ID, db.RunCompleted, 20*time.Second)
	}
	require.Empty(t, b.launch(t, once.ID, a.ID), "ONCE: never again")
	require.Len(t, b.launch(t, active.ID, a.ID), 1, "NOT_WHILE_ACTIVE: again once ended")
	require.Empty(t, b.launch(t, cool.ID, a.ID), "COOLDOWN: not within the cooldown")
}

func TestSweep(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "SCHEDULE", "condition": {"field": "account.stage", "op": "eq", "value": "AT_RISK"}},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	for i := range 200 {
		stage := "GROWTH"
		if i%10 == 0 {
			stage = "AT_RISK"
		}
		b.account(t, stage)
	}
	// Two sweeps at once, then another: 20 runs in all.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { _, errs[i] = b.eng.sweepPlayByID(b.ctx, b.tenant, p.ID) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Len(t, b.runsOf(t, p.ID), 20)
	n, err := b.eng.sweepPlayByID(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Len(t, b.runsOf(t, p.ID), 20)
}

func TestFieldChangeTrigger(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a := b.account(t, "GROWTH")
	renewal := "RENEWAL"
	_, err := b.eng.Accounts.Update(b.ctx, b.tenant, a.ID, account.Patch{Stage: &renewal})
	require.NoError(t, err)
	require.Empty(t, b.runsOf(t, p.ID))
	risk := "AT_RISK"
	_, err = b.eng.Accounts.Update(b.ctx, b.tenant, a.ID, account.Patch{Stage: &risk})
	require.NoError(t, err)
	runs := b.runsOf(t, p.ID)
	require.Len(t, runs, 1)
	require.Equal(t, a.ID, runs[0].AccountID)
}

func TestPeriodicSweepStartsRuns(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "SCHEDULE", "condition": {"field": "account.stage", "op": "eq", "value": "CHURNED"}},
		"entry": {"field": "account.name", "op": "contains", "value": "Acme"},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a := b.account(t, "CHURNED")
	b.account(t, "GROWTH")
	// The shared client sweeps every second (River's periodic job, elected leader only).
	require.Eventually(t, func() bool { return len(b.runsOf(t, p.ID)) == 1 }, 20*time.Second, 100*time.Millisecond)
	runs := b.runsOf(t, p.ID)
	require.Equal(t, a.ID, runs[0].AccountID)
	require.Contains(t, string(runs[0].Trigger), `"kind": "SCHEDULE"`)

	// The first step records why the swept run started: each predicate with the value seen.
	run := b.waitStatus(t, runs[0].ID, db.RunWaiting, 20*time.Second)
	var info TriggerInfo
	require.NoError(t, json.Unmarshal(run.Trigger, &info))
	require.Equal(t, []SeenValue{
		{Path: "trigger.condition", Seen: "CHURNED", Held: true},
		{Path: "entry", Seen: a.Name, Held: true},
	}, info.Values)
}
