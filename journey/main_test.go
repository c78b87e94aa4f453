package journey

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
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testBundle is one test's world: a fresh workspace (with the default team roles) and one
// member, and a Definitions service on a clock the test controls.
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
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Journeys "+uuid.NewString()[:8])
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

// journeyOpts configures createJourney; zero fields get defaults.
type journeyOpts struct {
	// Name defaults to a unique name.
	Name string
	Key  string
	// Stage defaults to ONBOARDING.
	Stage string
	// Definition defaults to minimalDefinition.
	Definition string
}

// minimalDefinition is the smallest complete definition.
const minimalDefinition = `{"trigger": {"kind": "MANUAL"}, "milestones": [{"key": "only", "name": "Only", "target": "7d",
  "steps": [{"key": "call", "kind": "TASK", "task": {"title": "Call", "assignee": {"kind": "TEAM_ROLE", "teamRole": "CSM"}}}]}]}`

// createJourney creates a journey through the service and fails the test if it cannot.
func (b *testBundle) createJourney(t *testing.T, o journeyOpts) *db.Journey {
	t.Helper()
	if o.Name == "" {
		o.Name = "Journey " + uuid.NewString()[:8]
	}
	if o.Stage == "" {
		o.Stage = "ONBOARDING"
	}
	if o.Definition == "" {
		o.Definition = minimalDefinition
	}
	j, err := b.svc.Create(b.ctx, b.tenant, b.user, NewJourney{Key: o.Key, Name: o.Name, Stage: o.Stage, Definition: json.RawMessage(o.Definition)})
	require.NoError(t, err)
	return j
}

// draft parses j's draft, failing the test if it has none.
func draft(t *testing.T, j *db.Journey) *Definition {
	t.Helper()
	d, err := Draft(j)
	require.NoError(t, err)
	require.NotNil(t, d, "journey has no draft")
	return d
}

// keys lists the milestone keys of d, and for each its step keys after a colon.
func keys(d *Definition) []string {
	var out []string
	for _, m := range d.Milestones {
		s := m.Key + ":"
		for i, st := range m.Steps {
			if i > 0 {
				s += ","
			}
			s += st.Key
		}
		out = append(out, s)
	}
	return out
}
