package task

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

func TestCreateAssignment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	csmRole, salesRole := b.role(t, "CSM"), b.role(t, "SALES")

	t.Run("an explicit user", func(t *testing.T) {
		t.Parallel()
		user := b.createMember(t)
		task := b.createTask(t, taskOpts{NewTask{Assignee: Assignee{UserID: &user}}})
		require.Equal(t, user, *task.AssigneeID)
		require.Nil(t, task.TeamRoleID)
		require.Nil(t, task.AssignmentFlag)
		require.Equal(t, db.TaskOpen, task.Status)
		require.Equal(t, db.TaskPriorityNormal, task.Priority)
		require.Equal(t, db.TaskSourceManual, task.SourceKind)
		require.Equal(t, b.tenant.WorkspaceID, task.WorkspaceID)
		require.True(t, b.clock.Now().Equal(task.CreatedAt))
	})

	t.Run("a team role goes to the earliest added active member in that role", func(t *testing.T) {
		t.Parallel()
		owner, first, second, disabled, otherRole := b.createMember(t), b.createMember(t), b.createMember(t), b.createMember(t), b.createMember(t)
		acct := b.createAccount(t, accountOpts{OwnerID: &owner})
		base := b.clock.Now().Add(-time.Hour)
		b.addTeamMember(t, acct.ID, "CSM", disabled, base)
		b.addTeamMember(t, acct.ID, "CSM", second, base.Add(2*time.Minute))
		b.addTeamMember(t, acct.ID, "CSM", first, base.Add(time.Minute))
		b.addTeamMember(t, acct.ID, "SALES", otherRole, base.Add(-time.Minute))
		b.disableMember(t, disabled)

		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{TeamRoleKey: "CSM"}}})
		require.Equal(t, first, *task.AssigneeID)
		require.Equal(t, csmRole.ID, *task.TeamRoleID)
		require.Nil(t, task.AssignmentFlag)

		byID := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{TeamRoleKey: salesRole.ID.String()}}})
		require.Equal(t, otherRole, *byID.AssigneeID, "a team role can be named by id")
		require.Equal(t, salesRole.ID, *byID.TeamRoleID)
	})

	t.Run("a user and a team role: the user does the work for the role", func(t *testing.T) {
		t.Parallel()
		user, onTeam := b.createMember(t), b.createMember(t)
		acct := b.createAccount(t, accountOpts{})
		b.addTeamMember(t, acct.ID, "CSM", onTeam, b.clock.Now())
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{UserID: &user, TeamRoleKey: "CSM"}}})
		require.Equal(t, user, *task.AssigneeID)
		require.Equal(t, csmRole.ID, *task.TeamRoleID)
	})

	t.Run("nobody in the role falls back to the account owner", func(t *testing.T) {
		t.Parallel()
		owner, sales := b.createMember(t), b.createMember(t)
		acct := b.createAccount(t, accountOpts{OwnerID: &owner})
		b.addTeamMember(t, acct.ID, "SALES", sales, b.clock.Now())
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{TeamRoleKey: "IMPLEMENTATION"}}})
		require.Equal(t, owner, *task.AssigneeID)
		require.Equal(t, b.role(t, "IMPLEMENTATION").ID, *task.TeamRoleID, "the role is kept")
		require.Nil(t, task.AssignmentFlag)
	})

	t.Run("nobody in the role and no owner: unassigned and flagged", func(t *testing.T) {
		t.Parallel()
		acct := b.createAccount(t, accountOpts{})
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{TeamRoleKey: "EXECUTIVE_SPONSOR"}}})
		require.Nil(t, task.AssigneeID)
		require.Equal(t, b.role(t, "EXECUTIVE_SPONSOR").ID, *task.TeamRoleID)
		require.Equal(t, db.TaskFlagNoTeamMember, *task.AssignmentFlag)
	})

	t.Run("a disabled owner is no fallback", func(t *testing.T) {
		t.Parallel()
		owner := b.createMember(t)
		acct := b.createAccount(t, accountOpts{OwnerID: &owner})
		b.disableMember(t, owner)
		task := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: Assignee{TeamRoleKey: "CSM"}}})
		require.Nil(t, task.AssigneeID)
		require.Equal(t, db.TaskFlagNoTeamMember, *task.AssignmentFlag)
	})

	t.Run("no user and no role: the owner, else flagged NO_OWNER", func(t *testing.T) {
		t.Parallel()
		owner := b.createMember(t)
		owned := b.createAccount(t, accountOpts{OwnerID: &owner})
		task := b.createTask(t, taskOpts{NewTask{AccountID: owned.ID}})
		require.Equal(t, owner, *task.AssigneeID)
		require.Nil(t, task.TeamRoleID)

		orphan := b.createTask(t, taskOpts{})
		require.Nil(t, orphan.AssigneeID)
		require.Equal(t, db.TaskFlagNoOwner, *orphan.AssignmentFlag)
	})
}

func TestCreateFields(t *testing.T) {
	t.Parallel()
	b := setup(t)
	creator := b.createMember(t)
	acct := b.createAccount(t, accountOpts{})
	contact := b.createContact(t, acct.ID)

	task := b.createTask(t, taskOpts{NewTask{
		AccountID:   acct.ID,
		ContactID:   &contact.ID,
		Title:       "  Kick-off call  ",
		Description: "Agenda: goals",
		DueIn:       ptr(72 * time.Hour),
		Priority:    db.TaskPriorityHigh,
		Source:      Source{Kind: db.TaskSourcePlay, Ref: "play_run:1/step:2"},
		CreatedBy:   &creator,
	}})
	got := b.reload(t, task.ID)
	require.Equal(t, "Kick-off call", got.Title, "the title is trimmed")
	require.Equal(t, "Agenda: goals", got.Description)
	require.Equal(t, contact.ID, *got.ContactID)
	require.True(t, b.clock.Now().Add(72*time.Hour).Equal(*got.DueAt), "due %v", got.DueAt)
	require.Equal(t, db.TaskPriorityHigh, got.Priority)
	require.Equal(t, db.TaskSourcePlay, got.SourceKind)
	require.Equal(t, "play_run:1/step:2", *got.SourceRef)
	require.Equal(t, creator, *got.CreatedBy)
	require.Nil(t, got.IdempotencyKey)

	due := time.Date(2027, 1, 2, 15, 0, 0, 0, time.UTC)
	absolute := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, DueAt: &due}})
	require.True(t, due.Equal(*b.reload(t, absolute.ID).DueAt))

	undated := b.createTask(t, taskOpts{NewTask{AccountID: acct.ID}})
	require.Nil(t, b.reload(t, undated.ID).DueAt)
}

func TestCreateValidates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, accountOpts{})
	archived := b.createAccount(t, accountOpts{Archived: true})
	otherAccount := b.createAccount(t, accountOpts{})
	otherContact := b.createContact(t, otherAccount.ID)
	disabled := b.createMember(t)
	b.disableMember(t, disabled)

	other := setup(t)
	stranger := other.createMember(t)
	strangerAccount := other.createAccount(t, accountOpts{})

	tests := []struct {
		name  string
		in    NewTask
		field string
	}{
		{"blank title", NewTask{Title: "   "}, "title"},
		{"title too long", NewTask{Title: strings.Repeat("t", 201)}, "title"},
		{"description too long", NewTask{Description: strings.Repeat("d", 10_001)}, "description"},
		{"unknown priority", NewTask{Priority: "CRITICAL"}, "priority"},
		{"unknown source", NewTask{Source: Source{Kind: "CRON"}}, "source"},
		{"dueAt and dueIn", NewTask{DueAt: ptr(time.Now()), DueIn: ptr(time.Hour)}, "dueIn"},
		{"negative dueIn", NewTask{DueIn: ptr(-time.Hour)}, "dueIn"},
		{"blank idempotency key", NewTask{IdempotencyKey: "  "}, "idempotencyKey"},
		{"unknown account", NewTask{AccountID: uuid.New()}, "accountId"},
		{"another workspace's account", NewTask{AccountID: strangerAccount.ID}, "accountId"},
		{"archived account", NewTask{AccountID: archived.ID}, "accountId"},
		{"contact of another account", NewTask{ContactID: &otherContact.ID}, "contactId"},
		{"unknown contact", NewTask{ContactID: ptr(uuid.New())}, "contactId"},
		{"unknown user", NewTask{Assignee: Assignee{UserID: ptr(uuid.New())}}, "assigneeId"},
		{"another workspace's user", NewTask{Assignee: Assignee{UserID: &stranger}}, "assigneeId"},
		{"disabled user", NewTask{Assignee: Assignee{UserID: &disabled}}, "assigneeId"},
		{"unknown team role", NewTask{Assignee: Assignee{TeamRoleKey: "JANITOR"}}, "teamRole"},
	}
	// The group returns once its parallel subtests are done, so the count below sees them all.
	t.Run("group", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				in := tc.in
				if in.AccountID == uuid.Nil {
					in.AccountID = acct.ID
				}
				if in.Title == "" {
					in.Title = "A task"
				}
				_, _, err := b.svc.Create(b.ctx, b.db.Bun, b.tenant, in)
				requireInvalid(t, err, tc.field)
			})
		}
	})
	require.Zero(t, b.countTasks(t), "nothing was stored")
}

func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, accountOpts{})

	t.Run("a repeated key returns the first task", func(t *testing.T) {
		t.Parallel()
		in := NewTask{AccountID: acct.ID, Title: "First", IdempotencyKey: "run-1/step-1/0", Source: Source{Kind: db.TaskSourcePlay}}
		first, created, err := b.svc.Create(b.ctx, b.db.Bun, b.tenant, in)
		require.NoError(t, err)
		require.True(t, created)

		in.Title = "Second"
		again, created, err := b.svc.Create(b.ctx, b.db.Bun, b.tenant, in)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first.ID, again.ID)
		require.Equal(t, "First", again.Title, "the key wins over the input")

		rows, err := b.tenant.Select(b.db.Bun, (*db.Task)(nil)).Where("tk.idempotency_key = ?", in.IdempotencyKey).Count(b.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, rows)
	})

	t.Run("eight concurrent creates with one key create one task", func(t *testing.T) {
		t.Parallel()
		const n = 8
		in := NewTask{AccountID: acct.ID, Title: "Concurrent", IdempotencyKey: "run-2/step-1/0"}
		var wg sync.WaitGroup
		ids := make([]uuid.UUID, n)
		created := make([]bool, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				task, c, err := b.svc.Create(b.ctx, b.db.Bun, b.tenant, in)
				errs[i], created[i] = err, c
				if task != nil {
					ids[i] = task.ID
				}
			})
		}
		close(start)
		wg.Wait()
		createdCount := 0
		for i := range n {
			require.NoError(t, errs[i])
			require.Equal(t, ids[0], ids[i])
			if created[i] {
				createdCount++
			}
		}
		require.Equal(t, 1, createdCount)
		rows, err := b.tenant.Select(b.db.Bun, (*db.Task)(nil)).Where("tk.idempotency_key = ?", in.IdempotencyKey).Count(b.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, rows)
	})

	t.Run("keys are per workspace", func(t *testing.T) {
		t.Parallel()
		other := setup(t)
		in := NewTask{Title: "Same key", IdempotencyKey: "run-3/step-1/0"}
		mine := b.createTask(t, taskOpts{in})
		theirs := other.createTask(t, taskOpts{in})
		require.NotEqual(t, mine.ID, theirs.ID)
	})
}

func TestCreateInCallersTransaction(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, accountOpts{})
	in := NewTask{AccountID: acct.ID, Title: "In a tx", IdempotencyKey: "run-tx/step/0"}
	errRollback := errors.New("roll back")

	err := db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
		task, created, err := b.svc.Create(ctx, tx, b.tenant, in)
		require.NoError(t, err)
		require.True(t, created)
		again, created, err := b.svc.Create(ctx, tx, b.tenant, in)
		require.NoError(t, err)
		require.False(t, created, "the transaction sees its own task")
		require.Equal(t, task.ID, again.ID)
		return errRollback
	})
	require.ErrorIs(t, err, errRollback)
	require.Zero(t, b.countTasks(t), "the rolled-back task is gone")

	_, created, err := b.svc.Create(b.ctx, b.db.Bun, b.tenant, in)
	require.NoError(t, err)
	require.True(t, created, "the key is free again after the rollback")

	t.Run("a failed create leaves the caller's transaction usable", func(t *testing.T) {
		err := db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
			_, _, err := b.svc.Create(ctx, tx, b.tenant, NewTask{AccountID: acct.ID, Title: "x", Assignee: Assignee{TeamRoleKey: "NOPE"}})
			requireInvalid(t, err, "teamRole")
			_, created, err := b.svc.Create(ctx, tx, b.tenant, NewTask{AccountID: acct.ID, Title: "after the failure"})
			require.NoError(t, err)
			require.True(t, created)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, 2, b.countTasks(t))
	})
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)
	theirs := other.createTask(t, taskOpts{})
	mine := b.createTask(t, taskOpts{})
	by := b.createMember(t)

	_, err := b.svc.Get(b.ctx, b.tenant, theirs.ID)
	require.ErrorIs(t, err, db.ErrNotFound)
	for name, act := range map[string]func() (*db.Task, error){
		"complete": func() (*db.Task, error) { return b.svc.Complete(b.ctx, b.tenant, theirs.ID, by) },
		"reopen":   func() (*db.Task, error) { return b.svc.Reopen(b.ctx, b.tenant, theirs.ID) },
		"snooze": func() (*db.Task, error) {
			return b.svc.Snooze(b.ctx, b.tenant, theirs.ID, b.clock.Now().Add(time.Hour))
		},
		"cancel": func() (*db.Task, error) { return b.svc.Cancel(b.ctx, b.tenant, theirs.ID, by) },
		"reassign": func() (*db.Task, error) {
			return b.svc.Reassign(b.ctx, b.tenant, theirs.ID, Assignee{UserID: &by})
		},
	} {
		_, err := act()
		require.ErrorIs(t, err, db.ErrNotFound, name)
	}
	require.Equal(t, db.TaskOpen, other.reload(t, theirs.ID).Status, "their task is untouched")

	rows, _, err := b.svc.List(b.ctx, b.tenant, Filter{}, 100, nil)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, mine.ID, rows[0].ID)

	stranger := other.createMember(t)
	_, err = b.svc.Reassign(b.ctx, b.tenant, mine.ID, Assignee{UserID: &stranger})
	requireInvalid(t, err, "assigneeId")
	_, _, err = b.svc.Create(b.ctx, b.db.Bun, b.tenant, NewTask{AccountID: mine.AccountID, Title: "x", Assignee: Assignee{UserID: &stranger}})
	requireInvalid(t, err, "assigneeId")
	theirRole := other.role(t, "CSM")
	_, _, err = b.svc.Create(b.ctx, b.db.Bun, b.tenant, NewTask{AccountID: mine.AccountID, Title: "x", Assignee: Assignee{TeamRoleKey: theirRole.ID.String()}})
	requireInvalid(t, err, "teamRole")

	found, err := db.TasksByIDs(b.ctx, b.db.Bun, b.tenant, []uuid.UUID{mine.ID, theirs.ID})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, mine.ID, found[0].ID)
}
