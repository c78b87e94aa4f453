package task

import (
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// listAll pages through a filter size rows at a time and returns the ids in order.
func (b *testBundle) listAll(t *testing.T, f Filter, size int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	var after *db.PageCursor
	for page := 0; ; page++ {
		require.Less(t, page, 1000, "paging does not end")
		rows, hasNext, err := b.svc.List(b.ctx, b.tenant, f, size, after)
		require.NoError(t, err)
		require.LessOrEqual(t, len(rows), size)
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if !hasNext {
			return ids
		}
		require.Len(t, rows, size, "a page before the last is full")
		last := rows[len(rows)-1]
		after = &db.PageCursor{Key: last.SortKey, ID: last.ID}
	}
}

// ids returns the ids of tasks, in order.
func ids(tasks ...*db.Task) []uuid.UUID {
	out := make([]uuid.UUID, len(tasks))
	for i, task := range tasks {
		out[i] = task.ID
	}
	return out
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acct := b.createAccount(t, accountOpts{})
	now := b.clock.Now()
	var tasks []*db.Task
	for i := range 23 {
		var due *time.Time
		switch i % 4 {
		case 0: // undated: last
		case 1: // several tasks share a due time: ordered by id
			due = ptr(now.Add(time.Hour))
		default:
			due = ptr(now.Add(time.Duration(i*7%11-5) * time.Hour))
		}
		tasks = append(tasks, b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, DueAt: due}}))
	}
	// The expected order: due time with undated last, then id bytes (as PostgreSQL orders uuid).
	want := append([]*db.Task(nil), tasks...)
	sort.Slice(want, func(i, j int) bool {
		di, dj := want[i].DueAt, want[j].DueAt
		switch {
		case di == nil && dj != nil:
			return false
		case di != nil && dj == nil:
			return true
		case di != nil && !di.Equal(*dj):
			return di.Before(*dj)
		}
		return string(want[i].ID[:]) < string(want[j].ID[:])
	})

	for _, size := range []int{1, 4, 5, 23, 100} {
		got := b.listAll(t, Filter{}, size)
		require.Equal(t, ids(want...), got, "page size %d", size)
	}

	rows, hasNext, err := b.svc.List(b.ctx, b.tenant, Filter{}, 0, nil)
	require.NoError(t, err)
	require.Empty(t, rows)
	require.True(t, hasNext)

	_, _, err = b.svc.List(b.ctx, b.tenant, Filter{}, -1, nil)
	requireInvalid(t, err, "first")
	_, _, err = b.svc.List(b.ctx, b.tenant, Filter{}, 5, &db.PageCursor{Key: "not a time", ID: uuid.New()})
	requireInvalid(t, err, "after")

	n, err := b.svc.Count(b.ctx, b.tenant, Filter{})
	require.NoError(t, err)
	require.Equal(t, len(tasks), n)
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := b.createMember(t), b.createMember(t)
	acme, globex := b.createAccount(t, accountOpts{}), b.createAccount(t, accountOpts{})
	b.addTeamMember(t, acme.ID, "CSM", alice, b.clock.Now())
	b.addTeamMember(t, globex.ID, "SALES", bob, b.clock.Now())
	now := b.clock.Now()

	overdue := b.createTask(t, taskOpts{NewTask{AccountID: acme.ID, Assignee: Assignee{TeamRoleKey: "CSM"}, DueAt: ptr(now.Add(-time.Hour))}})
	soon := b.createTask(t, taskOpts{NewTask{AccountID: acme.ID, Assignee: Assignee{UserID: &bob}, DueAt: ptr(now.Add(time.Hour))}})
	later := b.createTask(t, taskOpts{NewTask{AccountID: globex.ID, Assignee: Assignee{TeamRoleKey: "SALES"}, DueAt: ptr(now.Add(48 * time.Hour))}})
	undated := b.createTask(t, taskOpts{NewTask{AccountID: globex.ID, Assignee: Assignee{UserID: &alice}}})
	unassigned := b.createTask(t, taskOpts{NewTask{AccountID: globex.ID, Assignee: Assignee{TeamRoleKey: "IMPLEMENTATION"}, DueAt: ptr(now.Add(-2 * time.Hour))}})
	doneLate := b.createTask(t, taskOpts{NewTask{AccountID: acme.ID, Assignee: Assignee{UserID: &alice}, DueAt: ptr(now.Add(-3 * time.Hour))}})
	_, err := b.svc.Complete(b.ctx, b.tenant, doneLate.ID, alice)
	require.NoError(t, err)
	cancelled := b.createTask(t, taskOpts{NewTask{AccountID: globex.ID, Assignee: Assignee{UserID: &bob}, DueAt: ptr(now.Add(-90 * time.Minute))}})
	_, err = b.svc.Cancel(b.ctx, b.tenant, cancelled.ID, bob)
	require.NoError(t, err)

	tests := []struct {
		name   string
		filter Filter
		want   []*db.Task
	}{
		{"all", Filter{}, []*db.Task{doneLate, unassigned, cancelled, overdue, soon, later, undated}},
		{"assignee", Filter{AssigneeID: &alice}, []*db.Task{doneLate, overdue, undated}},
		{"assignee, open", Filter{AssigneeID: &alice, Statuses: []string{db.TaskOpen}}, []*db.Task{overdue, undated}},
		{"unassigned", Filter{Unassigned: true}, []*db.Task{unassigned}},
		{"team role by key", Filter{TeamRoleKey: "CSM"}, []*db.Task{overdue}},
		{"team role by id", Filter{TeamRoleKey: b.role(t, "SALES").ID.String()}, []*db.Task{later}},
		{"done or cancelled", Filter{Statuses: []string{db.TaskDone, db.TaskCancelled}}, []*db.Task{doneLate, cancelled}},
		{"due before", Filter{DueBefore: ptr(now.Add(2 * time.Hour))}, []*db.Task{doneLate, unassigned, cancelled, overdue, soon}},
		{"account", Filter{AccountID: &acme.ID}, []*db.Task{doneLate, overdue, soon}},
		{"overdue", Filter{Overdue: true}, []*db.Task{unassigned, overdue}},
		{"overdue of an assignee", Filter{Overdue: true, AssigneeID: &alice}, []*db.Task{overdue}},
		{"another workspace's user", Filter{AssigneeID: ptr(uuid.New())}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := ids(tc.want...)
			if len(want) == 0 {
				want = nil
			}
			require.Equal(t, want, b.listAll(t, tc.filter, 2))
			n, err := b.svc.Count(b.ctx, b.tenant, tc.filter)
			require.NoError(t, err)
			require.Equal(t, len(tc.want), n)
		})
	}

	t.Run("bad filters", func(t *testing.T) {
		t.Parallel()
		_, _, err := b.svc.List(b.ctx, b.tenant, Filter{Statuses: []string{"PENDING"}}, 10, nil)
		requireInvalid(t, err, "status")
		_, err = b.svc.Count(b.ctx, b.tenant, Filter{TeamRoleKey: "JANITOR"})
		requireInvalid(t, err, "teamRole")
	})
}

func TestSnoozeEffectiveStatus(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.createMember(t)
	task := b.createTask(t, taskOpts{NewTask{Assignee: Assignee{UserID: &alice}, DueAt: ptr(b.clock.Now().Add(30 * time.Minute))}})
	_, err := b.svc.Snooze(b.ctx, b.tenant, task.ID, b.clock.Now().Add(2*time.Hour))
	require.NoError(t, err)

	listed := func(status string) []uuid.UUID {
		t.Helper()
		return b.listAll(t, Filter{Statuses: []string{status}}, 10)
	}
	overdueCount := func() int {
		t.Helper()
		n, err := b.svc.Count(b.ctx, b.tenant, Filter{Overdue: true})
		require.NoError(t, err)
		return n
	}

	require.Equal(t, db.TaskSnoozed, b.reload(t, task.ID).EffectiveStatus(b.clock.Now()))
	require.Empty(t, listed(db.TaskOpen))
	require.Equal(t, ids(task), listed(db.TaskSnoozed))

	b.clock.Advance(time.Hour) // due has passed, snooze has not: hidden, so not overdue
	require.Zero(t, overdueCount())
	counts, err := b.svc.OverdueCounts(b.ctx, b.tenant, ByAssignee)
	require.NoError(t, err)
	require.Empty(t, counts)

	b.clock.Advance(time.Hour) // the snooze ends exactly now: open again, and overdue
	stored := b.reload(t, task.ID)
	require.Equal(t, db.TaskSnoozed, stored.Status, "nothing rewrote the row")
	require.Equal(t, db.TaskOpen, stored.EffectiveStatus(b.clock.Now()))
	require.True(t, stored.Overdue(b.clock.Now()))
	require.Equal(t, ids(task), listed(db.TaskOpen))
	require.Empty(t, listed(db.TaskSnoozed))
	require.Equal(t, 1, overdueCount())
	counts, err = b.svc.OverdueCounts(b.ctx, b.tenant, ByAssignee)
	require.NoError(t, err)
	require.Equal(t, []db.OverdueCount{{ID: &alice, Count: 1}}, counts)

	// An expired snooze can still be completed or snoozed again.
	_, err = b.svc.Snooze(b.ctx, b.tenant, task.ID, b.clock.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Zero(t, overdueCount())
}

func TestOverdueCounts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := b.createMember(t), b.createMember(t)
	acct := b.createAccount(t, accountOpts{})
	b.addTeamMember(t, acct.ID, "CSM", alice, b.clock.Now())
	b.addTeamMember(t, acct.ID, "SALES", bob, b.clock.Now())
	csm, sales, impl := b.role(t, "CSM"), b.role(t, "SALES"), b.role(t, "IMPLEMENTATION")
	past, future := ptr(b.clock.Now().Add(-time.Hour)), ptr(b.clock.Now().Add(time.Hour))

	create := func(a Assignee, due *time.Time) *db.Task {
		return b.createTask(t, taskOpts{NewTask{AccountID: acct.ID, Assignee: a, DueAt: due}})
	}
	create(Assignee{TeamRoleKey: "CSM"}, past)
	create(Assignee{TeamRoleKey: "CSM"}, past)
	create(Assignee{TeamRoleKey: "CSM"}, future) // not due yet
	create(Assignee{TeamRoleKey: "CSM"}, nil)    // never overdue
	create(Assignee{TeamRoleKey: "SALES"}, past)
	create(Assignee{UserID: &bob}, past)                  // bob, no role
	create(Assignee{TeamRoleKey: "IMPLEMENTATION"}, past) // nobody: unassigned
	done := create(Assignee{UserID: &alice}, past)
	_, err := b.svc.Complete(b.ctx, b.tenant, done.ID, alice)
	require.NoError(t, err)
	cancelled := create(Assignee{TeamRoleKey: "SALES"}, past)
	_, err = b.svc.Cancel(b.ctx, b.tenant, cancelled.ID, alice)
	require.NoError(t, err)

	byAssignee, err := b.svc.OverdueCounts(b.ctx, b.tenant, ByAssignee)
	require.NoError(t, err)
	require.ElementsMatch(t, []db.OverdueCount{{ID: &alice, Count: 2}, {ID: &bob, Count: 2}, {ID: nil, Count: 1}}, byAssignee)
	require.Nil(t, byAssignee[2].ID, "the unassigned group sorts after equal counts")

	byRole, err := b.svc.OverdueCounts(b.ctx, b.tenant, ByTeamRole)
	require.NoError(t, err)
	require.ElementsMatch(t, []db.OverdueCount{{ID: &csm.ID, Count: 2}, {ID: &sales.ID, Count: 1}, {ID: &impl.ID, Count: 1}, {ID: nil, Count: 1}}, byRole)
	require.Equal(t, &csm.ID, byRole[0].ID, "largest group first")

	_, err = b.svc.OverdueCounts(b.ctx, b.tenant, "ACCOUNT")
	requireInvalid(t, err, "by")

	other := setup(t)
	theirs, err := other.svc.OverdueCounts(other.ctx, other.tenant, ByAssignee)
	require.NoError(t, err)
	require.Empty(t, theirs, "counts are per workspace")
}
