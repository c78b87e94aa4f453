package account

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
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
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Account test "+uuid.NewString()[:8])
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

// accountOpts configures createAccount; zero fields get defaults.
type accountOpts struct {
	// Name defaults to a unique name.
	Name string
	// Patch is applied on top of the name.
	Patch Patch
}

// createAccount creates an account through the service and fails the test if it cannot.
func (b *testBundle) createAccount(t *testing.T, opts accountOpts) *db.Account {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "Account " + uuid.NewString()[:8]
	}
	p := opts.Patch
	p.Name = &opts.Name
	a, err := b.svc.Create(b.ctx, b.tenant, p)
	require.NoError(t, err)
	return a
}

// reload reads an account back from the database.
func (b *testBundle) reload(t *testing.T, id uuid.UUID) *db.Account {
	t.Helper()
	a, err := db.GetAccount(b.ctx, b.db.Bun, b.tenant, id)
	require.NoError(t, err)
	return a
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// set is a patch field sent with a value.
func set[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: &v} }

// null is a patch field sent as null: it clears the value.
func null[T any]() Optional[T] { return Optional[T]{Set: true} }
