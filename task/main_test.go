package task

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/invalid"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testBundle is one test's world: a fresh workspace, a Service on a clock the test controls.
type testBundle struct {
	ctx    context.Context
	db     *dbtest.Database
	svc    *Service
	clock  *clocktest.Clock
	tenant db.Tenant
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	d := dbtest.DB(t)
	clock := clocktest.New(time.Now().UTC().Truncate(time.Microsecond))
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Task test "+uuid.NewString()[:8])
	require.NoError(t, err)
	return &testBundle{
		ctx:    ctx,
		db:     d,
		svc:    &Service{DB: d.Bun, Now: clock.Now},
		clock:  clock,
		tenant: db.Tenant{WorkspaceID: ws.ID},
	}
}

// createMember inserts a user and makes them a CSM of the bundle's workspace.
func (b *testBundle) createMember(t *testing.T) uuid.UUID {
	t.Helper()
	u := &db.User{Email: "user-" + uuid.NewString() + "@example.com", Name: "Member"}
	require.NoError(t, db.InsertUser(b.ctx, b.db.Bun, u))
	require.NoError(t, db.InsertMembership(b.ctx, b.db.Bun, b.tenant, &db.Membership{UserID: u.ID, Role: db.RoleCSM}))
	return u.ID
}

// disableMember disables userID's membership.
func (b *testBundle) disableMember(t *testing.T, userID uuid.UUID) {
	t.Helper()
	require.NoError(t, db.DisableMembership(b.ctx, b.db.Bun, b.tenant, userID, b.clock.Now()))
}

// accountOpts configures createAccount; zero fields get defaults.
type accountOpts struct {
	OwnerID  *uuid.UUID
	Archived bool
}

// createAccount inserts an account of the bundle's workspace.
func (b *testBundle) createAccount(t *testing.T, opts accountOpts) *db.Account {
	t.Helper()
	a := &db.Account{
		Name: "Account " + uuid.NewString()[:8], Stage: "ONBOARDING", ARRCurrency: "USD",
		Tags: []string{}, Custom: json.RawMessage("{}"), OwnerID: opts.OwnerID,
	}
	if opts.Archived {
		now := b.clock.Now()
		a.ArchivedAt = &now
	}
	require.NoError(t, db.InsertAccount(b.ctx, b.db.Bun, b.tenant, a))
	return a
}

// createContact inserts a contact of accountID.
func (b *testBundle) createContact(t *testing.T, accountID uuid.UUID) *db.Contact {
	t.Helper()
	c := &db.Contact{AccountID: accountID, Name: "Contact", Email: uuid.NewString() + "@example.com", Custom: json.RawMessage("{}")}
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, c))
	return c
}

// role returns the workspace's team role with key.
func (b *testBundle) role(t *testing.T, key string) *db.TeamRole {
	t.Helper()
	r, err := db.TeamRoleByKeyOrID(b.ctx, b.db.Bun, b.tenant, key)
	require.NoError(t, err)
	return r
}

// addTeamMember puts userID on the account's team in the role with roleKey, added at addedAt.
func (b *testBundle) addTeamMember(t *testing.T, accountID uuid.UUID, roleKey string, userID uuid.UUID, addedAt time.Time) {
	t.Helper()
	m := &db.AccountTeamMember{AccountID: accountID, TeamRoleID: b.role(t, roleKey).ID, UserID: userID, CreatedAt: addedAt}
	_, err := db.Insert(b.tenant, b.db.Bun, m).Exec(b.ctx)
	require.NoError(t, err)
}

// taskOpts configures createTask: the NewTask is sent as given, except that a zero AccountID
// gets a fresh account and an empty Title a default.
type taskOpts struct {
	NewTask
}

// createTask creates a task through the service and fails the test if it cannot.
func (b *testBundle) createTask(t *testing.T, opts taskOpts) *db.Task {
	t.Helper()
	in := opts.NewTask
	if in.AccountID == uuid.Nil {
		in.AccountID = b.createAccount(t, accountOpts{}).ID
	}
	if in.Title == "" {
		in.Title = "Call the customer"
	}
	task, created, err := b.svc.Create(b.ctx, b.db.Bun, b.tenant, in)
	require.NoError(t, err)
	require.True(t, created)
	return task
}

// reload reads a task back from the database.
func (b *testBundle) reload(t *testing.T, id uuid.UUID) *db.Task {
	t.Helper()
	task, err := db.GetTask(b.ctx, b.db.Bun, b.tenant, id)
	require.NoError(t, err)
	return task
}

// countTasks counts every task of the bundle's workspace.
func (b *testBundle) countTasks(t *testing.T) int {
	t.Helper()
	n, err := b.tenant.Select(b.db.Bun, (*db.Task)(nil)).Count(b.ctx)
	require.NoError(t, err)
	return int(n)
}

// requireInvalid asserts err is bad input naming field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	in, ok := invalid.As(err)
	require.True(t, ok, "want an invalid error on %s, got %v", field, err)
	require.Equal(t, field, in.Field)
	require.NotEmpty(t, in.Message)
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
