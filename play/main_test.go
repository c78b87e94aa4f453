package play

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/invalid"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testBundle is one test's world: a fresh workspace with one member, and a Definitions
// service on a clock the test controls.
type testBundle struct {
	ctx    context.Context
	db     *dbtest.Database
	svc    *Definitions
	clock  *clocktest.Clock
	tenant db.Tenant
	user   uuid.UUID
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	d := dbtest.DB(t)
	clock := clocktest.New(time.Date(2026, 6, 15, 10, 30, 0, 0, time.UTC))
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Plays "+uuid.NewString()[:8])
	require.NoError(t, err)
	b := &testBundle{
		ctx:    ctx,
		db:     d,
		svc:    &Definitions{DB: d.Bun, Now: clock.Now},
		clock:  clock,
		tenant: db.Tenant{WorkspaceID: ws.ID},
	}
	b.user = b.createMember(t)
	return b
}

// createMember inserts a user and makes them a CSM of the bundle's workspace.
func (b *testBundle) createMember(t *testing.T) uuid.UUID {
	t.Helper()
	u := &db.User{Email: "user-" + uuid.NewString() + "@example.com", Name: "Member"}
	require.NoError(t, db.InsertUser(b.ctx, b.db.Bun, u))
	require.NoError(t, db.InsertMembership(b.ctx, b.db.Bun, b.tenant, &db.Membership{UserID: u.ID, Role: db.RoleCSM}))
	return u.ID
}

// playOpts configures createPlay; zero fields get defaults.
type playOpts struct {
	// Name defaults to a unique name.
	Name string
	// Scope defaults to ACCOUNT.
	Scope condition.Scope
	// Definition defaults to minimalDefinition.
	Definition string
}

// minimalDefinition is the smallest complete definition.
const minimalDefinition = `{"trigger": {"kind": "MANUAL"}, "steps": [{"kind": "WAIT", "duration": "1d"}]}`

// createPlay creates a play through the service and fails the test if it cannot.
func (b *testBundle) createPlay(t *testing.T, o playOpts) *db.Play {
	t.Helper()
	if o.Name == "" {
		o.Name = "Play " + uuid.NewString()[:8]
	}
	if o.Scope == "" {
		o.Scope = condition.ScopeAccount
	}
	if o.Definition == "" {
		o.Definition = minimalDefinition
	}
	p, err := b.svc.Create(b.ctx, b.tenant, b.user, NewPlay{Name: o.Name, Scope: o.Scope, Definition: json.RawMessage(o.Definition)})
	require.NoError(t, err)
	return p
}

// requireInvalid asserts err is bad input on field with message.
func requireInvalid(t *testing.T, err error, field, message string) {
	t.Helper()
	require.Error(t, err)
	e, ok := invalid.As(err)
	require.True(t, ok, "want *invalid.Error, got %v", err)
	require.Equal(t, field, e.Field, "message: %s", e.Message)
	require.Equal(t, message, e.Message)
}

// mustParse parses a complete definition the test expects to be valid.
func mustParse(t *testing.T, raw string, scope condition.Scope) *Definition {
	t.Helper()
	d, err := ParseDefinition([]byte(raw), scope)
	require.NoError(t, err, raw)
	return d
}

// marshal encodes v, failing the test on error.
func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
