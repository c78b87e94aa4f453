package play

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

func TestPauseHoldsAndResumeContinues(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "pause", "kind": "WAIT", "duration": "1s"},
		{"id": "note", "kind": "ADD_TIMELINE_NOTE", "body": "x"}]}`)
	a := b.account(t, "GROWTH")
	runs := b.launch(t, p.ID, a.ID)
	b.waitStatus(t, runs[0].ID, db.RunWaiting, 10*time.Second)
	_, err := b.svc.Pause(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	require.Never(t, func() bool {
		r, err := b.eng.Run(b.ctx, b.tenant, runs[0].ID)
		require.NoError(t, err)
		return !r.Active()
	}, 2500*time.Millisecond, 100*time.Millisecond, "a paused play's run is held")
	_, err = b.svc.Resume(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	b.waitStatus(t, runs[0].ID, db.RunCompleted, 10*time.Second)
}

func TestArchiveAndCancelRun(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	a1, a2 := b.account(t, "GROWTH"), b.account(t, "GROWTH")
	runs := b.launch(t, p.ID, a1.ID, a2.ID)
	require.Len(t, runs, 2)
	b.waitStatus(t, runs[0].ID, db.RunWaiting, 10*time.Second)

	r, err := b.eng.CancelRun(b.ctx, b.tenant, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, db.RunCancelled, r.Status)
	_, err = b.eng.CancelRun(b.ctx, b.tenant, runs[0].ID)
	require.ErrorIs(t, err, ErrRunState)

	_, err = b.eng.Archive(b.ctx, b.tenant, p.ID)
	require.NoError(t, err)
	r, err = b.eng.Run(b.ctx, b.tenant, runs[1].ID)
	require.NoError(t, err)
	require.Equal(t, db.RunCancelled, r.Status)
}

func TestFailedStepAndRetry(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "task", "kind": "CREATE_TASK", "title": "Call", "assignee": {"kind": "OWNER"}}]}`)
	a := b.account(t, "GROWTH")
	// A run inserted without its job, so the test works the job by hand (as River's last
	// attempt) while the account is archived, which makes creating the task fail.
	first := "task"
	r := &db.PlayRun{PlayID: p.ID, Version: 1, SubjectKind: "ACCOUNT", AccountID: a.ID, Status: db.RunRunning,
		CurrentStep: &first, Trigger: json.RawMessage(`{}`), StartedAt: time.Now()}
	_, err := db.InsertPlayRun(b.ctx, b.db.Bun, b.tenant, r)
	require.NoError(t, err)
	setArchived := func(archived bool) {
		var at *time.Time
		if archived {
			now := time.Now()
			at = &now
		}
		_, err := b.db.Bun.NewUpdate().Table("accounts").Set("archived_at = ?", at).
			Where("workspace_id = ? AND id = ?", b.tenant.WorkspaceID, a.ID).Exec(b.ctx)
		require.NoError(t, err)
	}
	setArchived(true)
	args := StepArgs{WorkspaceID: b.tenant.WorkspaceID, RunID: r.ID, StepID: "task"}
	require.Error(t, b.eng.WorkStep(b.ctx, args, 1, 5), "an early attempt fails and is retried by River")
	got, err := b.eng.Run(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	require.Equal(t, db.RunRunning, got.Status)

	require.Error(t, b.eng.WorkStep(b.ctx, args, 5, 5))
	got, err = b.eng.Run(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	require.Equal(t, db.RunFailed, got.Status)
	require.Contains(t, *got.Error, "archived")
	log, err := b.eng.StepLog(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	require.Len(t, log, 1)
	require.Equal(t, db.StepFailed, log[0].Status)
	require.Equal(t, 5, log[0].Attempt)
	require.Contains(t, *log[0].Error, "archived")

	setArchived(false)
	_, err = b.eng.RetryRun(b.ctx, b.tenant, r.ID)
	require.NoError(t, err)
	b.waitStatus(t, r.ID, db.RunCompleted, 10*time.Second)
	require.Equal(t, 1, b.countTasks(t, a.ID))
	_, err = b.eng.RetryRun(b.ctx, b.tenant, r.ID)
	require.ErrorIs(t, err, ErrRunState)
}

func TestInAppMessages(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "msg", "kind": "IN_APP_MESSAGE", "to": "CONTACTS", "title": "Hi {{contact.firstName}}", "body": "News"}]}`)
	a := b.account(t, "GROWTH")
	c := &db.Contact{AccountID: a.ID, Name: "Ada Lovelace", Email: "ada@example.com", Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		return db.InsertContact(ctx, tx, b.tenant, c)
	}))
	runs := b.launch(t, p.ID, a.ID)
	b.waitStatus(t, runs[0].ID, db.RunCompleted, 10*time.Second)
	msgs, err := b.eng.InAppMessages(b.ctx, b.tenant, c.ID, []string{db.InAppPending})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	require.Equal(t, "Hi Ada", msgs[0].Title)
	require.Equal(t, "BANNER", msgs[0].Style)
	m, err := b.eng.MarkInApp(b.ctx, b.tenant, msgs[0].ID, db.InAppClicked)
	require.NoError(t, err)
	require.Equal(t, db.InAppClicked, m.Status)
	require.NotNil(t, m.ClickedAt)
}

func TestUpdateAccountAndEmailSteps(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	chained := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "FIELD_CHANGE", "field": "account.stage", "to": "AT_RISK"},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	p := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"}, "steps": [
		{"id": "upd", "kind": "UPDATE_ACCOUNT", "operations": [
			{"op": "setField", "field": "stage", "value": "AT_RISK"},
			{"op": "addTag", "tag": "vip"},
			{"op": "setCustom", "key": "plan", "value": "pro"}]},
		{"id": "mail", "kind": "SEND_EMAIL", "to": "CONTACTS", "subject": "Hi {{contact.firstName}}", "body": "About {{account.name}}"}]}`)
	a := b.account(t, "GROWTH")
	c := &db.Contact{AccountID: a.ID, Name: "Grace Hopper", Email: "grace@example.com", Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, c))
	runs := b.launch(t, p.ID, a.ID)
	b.waitStatus(t, runs[0].ID, db.RunCompleted, 10*time.Second)

	got, err := db.GetAccount(b.ctx, b.db.Bun, b.tenant, a.ID)
	require.NoError(t, err)
	require.Equal(t, "AT_RISK", got.Stage)
	require.Equal(t, []string{"vip"}, got.Tags)
	require.JSONEq(t, `{"plan": "pro"}`, string(got.Custom))
	// The step's change went through the account domain, so it triggered the FIELD_CHANGE play.
	require.Len(t, b.runsOf(t, chained.ID), 1)

	log, err := b.eng.StepLog(b.ctx, b.tenant, runs[0].ID)
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.NotNil(t, log[1].OutboxID)
	require.Eventually(t, func() bool {
		m, err := b.eng.Delivery.Get(b.ctx, b.db.Bun, b.tenant, *log[1].OutboxID)
		require.NoError(t, err)
		return m.Status == db.OutboxSent
	}, 10*time.Second, 50*time.Millisecond, "the email is delivered by its own job")
}
