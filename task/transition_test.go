package task

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// requireTransitionError asserts err refuses action on a task whose status is status.
func requireTransitionError(t *testing.T, err error, action, status string) {
	t.Helper()
	var te *TransitionError
	require.ErrorAs(t, err, &te)
	require.Equal(t, action, te.Action)
	require.Equal(t, status, te.Status)
	require.ErrorIs(t, err, db.ErrConflict, "a refused transition is a conflict")
	in, ok := invalid.As(err)
	require.True(t, ok)
	require.Equal(t, "status", in.Field)
	require.Contains(t, in.Message, status)
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user := b.createMember(t)

	t.Run("complete, reopen, snooze, cancel", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{})

		b.clock.Advance(time.Minute)
		done, err := b.svc.Complete(b.ctx, b.tenant, task.ID, user)
		require.NoError(t, err)
		require.Equal(t, db.TaskDone, done.Status)
		require.Equal(t, user, *done.CompletedBy)
		require.True(t, b.clock.Now().Equal(*done.CompletedAt))
		require.True(t, b.clock.Now().Equal(done.UpdatedAt))
		require.Equal(t, done.Status, b.reload(t, task.ID).Status)

		reopened, err := b.svc.Reopen(b.ctx, b.tenant, task.ID)
		require.NoError(t, err)
		require.Equal(t, db.TaskOpen, reopened.Status)
		require.Nil(t, reopened.CompletedAt)
		require.Nil(t, reopened.CompletedBy)

		until := b.clock.Now().Add(24 * time.Hour)
		snoozed, err := b.svc.Snooze(b.ctx, b.tenant, task.ID, until)
		require.NoError(t, err)
		require.Equal(t, db.TaskSnoozed, snoozed.Status)
		require.True(t, until.Equal(*snoozed.SnoozedUntil))

		later := until.Add(time.Hour)
		resnoozed, err := b.svc.Snooze(b.ctx, b.tenant, task.ID, later)
		require.NoError(t, err)
		require.True(t, later.Equal(*resnoozed.SnoozedUntil), "a snoozed task can be snoozed again")

		cancelled, err := b.svc.Cancel(b.ctx, b.tenant, task.ID, uuid.Nil)
		require.NoError(t, err)
		require.Equal(t, db.TaskCancelled, cancelled.Status)
		require.Nil(t, cancelled.SnoozedUntil, "cancelling ends the snooze")
		require.NotNil(t, cancelled.CancelledAt)
		require.Nil(t, cancelled.CancelledBy, "uuid.Nil is no user")
		require.Nil(t, cancelled.CompletedAt)

		reopened, err = b.svc.Reopen(b.ctx, b.tenant, task.ID)
		require.NoError(t, err)
		require.Equal(t, db.TaskOpen, reopened.Status)
		require.Nil(t, reopened.CancelledAt)
	})

	t.Run("completing a snoozed task ends the snooze", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{})
		_, err := b.svc.Snooze(b.ctx, b.tenant, task.ID, b.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		done, err := b.svc.Complete(b.ctx, b.tenant, task.ID, user)
		require.NoError(t, err)
		require.Equal(t, db.TaskDone, done.Status)
		require.Nil(t, done.SnoozedUntil)
	})

	t.Run("reopen ends a snooze early", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{})
		_, err := b.svc.Snooze(b.ctx, b.tenant, task.ID, b.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		open, err := b.svc.Reopen(b.ctx, b.tenant, task.ID)
		require.NoError(t, err)
		require.Equal(t, db.TaskOpen, open.Status)
		require.Nil(t, open.SnoozedUntil)
	})

	t.Run("snooze must end in the future", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{})
		for _, until := range []time.Time{b.clock.Now(), b.clock.Now().Add(-time.Minute)} {
			_, err := b.svc.Snooze(b.ctx, b.tenant, task.ID, until)
			requireInvalid(t, err, "until")
		}
		require.Equal(t, db.TaskOpen, b.reload(t, task.ID).Status)
	})
}

func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	user := b.createMember(t)

	// into puts a fresh task into status.
	into := func(t *testing.T, status string) *db.Task {
		t.Helper()
		task := b.createTask(t, taskOpts{})
		var err error
		switch status {
		case db.TaskDone:
			_, err = b.svc.Complete(b.ctx, b.tenant, task.ID, user)
		case db.TaskCancelled:
			_, err = b.svc.Cancel(b.ctx, b.tenant, task.ID, user)
		case db.TaskSnoozed:
			_, err = b.svc.Snooze(b.ctx, b.tenant, task.ID, b.clock.Now().Add(time.Hour))
		}
		require.NoError(t, err)
		return task
	}
	actions := map[string]func(id uuid.UUID) (*db.Task, error){
		ActionComplete: func(id uuid.UUID) (*db.Task, error) { return b.svc.Complete(b.ctx, b.tenant, id, user) },
		ActionReopen:   func(id uuid.UUID) (*db.Task, error) { return b.svc.Reopen(b.ctx, b.tenant, id) },
		ActionSnooze: func(id uuid.UUID) (*db.Task, error) {
			return b.svc.Snooze(b.ctx, b.tenant, id, b.clock.Now().Add(2*time.Hour))
		},
		ActionCancel: func(id uuid.UUID) (*db.Task, error) { return b.svc.Cancel(b.ctx, b.tenant, id, user) },
		ActionReassign: func(id uuid.UUID) (*db.Task, error) {
			return b.svc.Reassign(b.ctx, b.tenant, id, Assignee{UserID: &user})
		},
	}
	refused := map[string][]string{
		db.TaskOpen:      {ActionReopen},
		db.TaskSnoozed:   {},
		db.TaskDone:      {ActionComplete, ActionSnooze, ActionCancel, ActionReassign},
		db.TaskCancelled: {ActionComplete, ActionSnooze, ActionCancel, ActionReassign},
	}
	for from, refusedActions := range refused {
		for action, act := range actions {
			t.Run(action+" from "+from, func(t *testing.T) {
				t.Parallel()
				task := into(t, from)
				before := b.reload(t, task.ID)
				_, err := act(task.ID)
				for _, r := range refusedActions {
					if r == action {
						requireTransitionError(t, err, action, from)
						require.Equal(t, before, b.reload(t, task.ID), "a refused transition changes nothing")
						return
					}
				}
				require.NoError(t, err)
			})
		}
	}
}

func TestConcurrentCompleteOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	task := b.createTask(t, taskOpts{})
	const n = 8
	users := make([]uuid.UUID, n)
	for i := range users {
		users[i] = b.createMember(t)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = b.svc.Complete(b.ctx, b.tenant, task.ID, users[i])
		})
	}
	close(start)
	wg.Wait()
	var winner uuid.UUID
	for i, err := range errs {
		if err == nil {
			require.Equal(t, uuid.Nil, winner, "only one complete succeeds")
			winner = users[i]
			continue
		}
		requireTransitionError(t, err, ActionComplete, db.TaskDone)
	}
	require.NotEqual(t, uuid.Nil, winner)
	require.Equal(t, winner, *b.reload(t, task.ID).CompletedBy)
}

func TestReassign(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner, csm, other := b.createMember(t), b.createMember(t), b.createMember(t)
	acct := b.createAccount(t, accountOpts{OwnerID: &owner})
	b.addTeamMember(t, acct.ID, "CSM", csm, b.clock.Now())
	csmRole := b.role(t, "CSM")

	t.Run("to a user keeps the team role", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{TeamRoleKey: "CSM"}}})
		require.Equal(t, csm, *task.AssigneeID)
		got, err := b.svc.Reassign(b.ctx, b.tenant, task.ID, Assignee{UserID: &other})
		require.NoError(t, err)
		require.Equal(t, other, *got.AssigneeID)
		require.Equal(t, csmRole.ID, *got.TeamRoleID)
		require.Equal(t, got.AssigneeID, b.reload(t, task.ID).AssigneeID)
	})

	t.Run("to a team role resolves from the account team", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{UserID: &other}}})
		got, err := b.svc.Reassign(b.ctx, b.tenant, task.ID, Assignee{TeamRoleKey: "CSM"})
		require.NoError(t, err)
		require.Equal(t, csm, *got.AssigneeID)
		require.Equal(t, csmRole.ID, *got.TeamRoleID)
	})

	t.Run("to an empty role falls back to the owner; without one, flagged", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{UserID: &other}}})
		got, err := b.svc.Reassign(b.ctx, b.tenant, task.ID, Assignee{TeamRoleKey: "SALES"})
		require.NoError(t, err)
		require.Equal(t, owner, *got.AssigneeID)

		orphan := b.createTask(t, taskOpts{NewTask{Assignee: Assignee{UserID: &other}}})
		got, err = b.svc.Reassign(b.ctx, b.tenant, orphan.ID, Assignee{TeamRoleKey: "SALES"})
		require.NoError(t, err)
		require.Nil(t, got.AssigneeID)
		require.Equal(t, db.TaskFlagNoTeamMember, *got.AssignmentFlag)

		got, err = b.svc.Reassign(b.ctx, b.tenant, orphan.ID, Assignee{UserID: &other})
		require.NoError(t, err)
		require.Nil(t, got.AssignmentFlag, "assigning someone clears the flag")
	})

	t.Run("needs a user or a role", func(t *testing.T) {
		t.Parallel()
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID}})
		_, err := b.svc.Reassign(b.ctx, b.tenant, task.ID, Assignee{})
		requireInvalid(t, err, "assigneeId")
		_, err = b.svc.Reassign(b.ctx, b.tenant, task.ID, Assignee{TeamRoleKey: "NOPE"})
		requireInvalid(t, err, "teamRole")
		require.Equal(t, owner, *b.reload(t, task.ID).AssigneeID)
	})
}
