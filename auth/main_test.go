package auth

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testPassword is the password of every user the factories create.
const testPassword = "correct horse battery"

// testBundle is one test's world: a fresh workspace with one admin, and a Service on a clock the
// test controls.
type testBundle struct {
	ctx   context.Context
	db    *dbtest.Database
	svc   *Service
	clock *clocktest.Clock
	ws    *db.Workspace
	admin *db.User
}

// adminViewer is the bundle admin as the resolvers would see them.
func (b *testBundle) adminViewer() *Viewer {
	return &Viewer{WorkspaceID: b.ws.ID, UserID: b.admin.ID, Role: db.RoleAdmin}
}

func testKeyset(t *testing.T) *Keyset {
	t.Helper()
	ks, err := NewKeyset(Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	return ks
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	d := dbtest.DB(t)
	clock := clocktest.New(time.Now().Truncate(time.Second))
	svc := &Service{
		DB:           d.Bun,
		Tokens:       &Issuer{Keys: testKeyset(t), Now: clock.Now},
		PasswordCost: bcrypt.MinCost,
		Now:          clock.Now,
	}
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Test "+uuid.NewString()[:8])
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, db: d, svc: svc, clock: clock, ws: ws}
	b.admin = b.createMember(t, memberOpts{Role: db.RoleAdmin})
	return b
}

// memberOpts configures createMember; zero fields get defaults.
type memberOpts struct {
	// Workspace defaults to the bundle's workspace.
	Workspace uuid.UUID
	// Role defaults to CSM.
	Role string
	// User reuses an existing user instead of creating one.
	User *db.User
}

// createMember inserts a user with testPassword (unless opts.User is given) and makes them a
// member, bypassing the service so that tests can build any state.
func (b *testBundle) createMember(t *testing.T, opts memberOpts) *db.User {
	t.Helper()
	if opts.Workspace == uuid.Nil {
		opts.Workspace = b.ws.ID
	}
	if opts.Role == "" {
		opts.Role = db.RoleCSM
	}
	u := opts.User
	if u == nil {
		hash, err := HashPasswordCost(testPassword, bcrypt.MinCost)
		require.NoError(t, err)
		u = &db.User{Email: uniqueEmail(), Name: "Test User", PasswordHash: hash}
		require.NoError(t, db.InsertUser(b.ctx, b.db.Bun, u))
	}
	m := &db.Membership{UserID: u.ID, Role: opts.Role, CreatedAt: b.clock.Now()}
	require.NoError(t, db.InsertMembership(b.ctx, b.db.Bun, db.Tenant{WorkspaceID: opts.Workspace}, m))
	return u
}

// uniqueEmail returns an address no other test uses: users are global to the database.
func uniqueEmail() string {
	return "user-" + uuid.NewString() + "@example.com"
}

// tenant is the bundle's workspace as a query scope.
func (b *testBundle) tenant() db.Tenant { return db.Tenant{WorkspaceID: b.ws.ID} }
