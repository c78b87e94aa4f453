package seed

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// demoNow is the moment the demo tests describe.
var demoNow = time.Date(2026, 12, 4, 15, 30, 0, 0, time.UTC)

// The demo only seeds an empty database, and every test package has one database, so the
// demo tests run in sequence inside one test rather than in parallel with the bulk tests.
func TestDemo(t *testing.T) {
	ctx := context.Background()
	d := dbtest.DB(t)
	b := d.Bun

	start := time.Now()
	created, err := Demo(ctx, b, demoNow)
	require.NoError(t, err)
	require.True(t, created)
	t.Logf("demo seeded in %s", time.Since(start))
	require.Less(t, time.Since(start), 5*time.Second)

	ws := new(db.Workspace)
	require.NoError(t, b.NewSelect().Model(ws).Where("name = ?", DemoWorkspaceName).Scan(ctx))
	before := demoCounts(t, b)
	t.Logf("demo rows: %v", before)

	t.Run("Counts", func(t *testing.T) {
		require.Equal(t, 1, before["workspaces"])
		require.Equal(t, 5, before["users"])
		require.Equal(t, 5, before["memberships"])
		require.Equal(t, demoAccounts, before["accounts"])
		require.InDelta(t, 4*demoAccounts, before["contacts"], 0.1*4*demoAccounts)
		require.Greater(t, before["events"], 5000)
		require.Greater(t, before["timeline_entries"], demoAccounts)
		require.Greater(t, before["account_team_members"], demoAccounts)
	})

	t.Run("AdminLogsIn", func(t *testing.T) {
		u, err := db.GetUserByEmail(ctx, b, DemoAdminEmail)
		require.NoError(t, err)
		require.True(t, auth.CheckPassword(u.PasswordHash, DemoAdminPassword))
		m, err := db.GetMembership(ctx, b, db.Tenant{WorkspaceID: ws.ID}, u.ID)
		require.NoError(t, err)
		require.Equal(t, db.RoleAdmin, m.Role)
	})

	t.Run("DerivedColumnsMatchEvents", func(t *testing.T) {
		requireDerivedColumnsMatch(t, b, ws.ID)
	})

	t.Run("PlaysHaveMatches", func(t *testing.T) {
		var quiet, overdueReview, unintegrated, churnedPastRenewal int
		require.NoError(t, b.NewRaw(`
			SELECT count(*) FROM accounts
			WHERE stage <> 'CHURNED' AND last_login_at < ?`, demoNow.Add(-darkAfter)).Scan(ctx, &quiet))
		require.NoError(t, b.NewRaw(`
			SELECT count(*) FROM (
				SELECT account_id FROM timeline_entries WHERE kind = 'BUSINESS_REVIEW'
				GROUP BY account_id HAVING max(occurred_at) < ?) x`, demoNow.Add(-90*day)).Scan(ctx, &overdueReview))
		require.NoError(t, b.NewRaw(`
			SELECT count(*) FROM accounts a WHERE stage = 'ONBOARDING' AND NOT EXISTS (
				SELECT 1 FROM events e WHERE e.workspace_id = a.workspace_id AND e.account_id = a.id
				AND e.name = 'integration_connected')`).Scan(ctx, &unintegrated))
		require.NoError(t, b.NewRaw(`
			SELECT count(*) FROM accounts WHERE stage = 'CHURNED' AND renewal_date < ?`, demoNow).Scan(ctx, &churnedPastRenewal))
		t.Logf("quiet 14+ days: %d, business review overdue: %d, onboarding without integration: %d", quiet, overdueReview, unintegrated)
		require.Greater(t, quiet, 5)
		require.Greater(t, overdueReview, 5)
		require.Greater(t, unintegrated, 0)
		require.Greater(t, churnedPastRenewal, 0)
	})

	t.Run("SecondCallDoesNothing", func(t *testing.T) {
		created, err := Demo(ctx, b, demoNow.Add(time.Hour))
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, before, demoCounts(t, b))
	})

	t.Run("Journeys", func(t *testing.T) {
		testDemoJourneys(t, d, ws.ID)
	})
}

// TestDemoGeneratorIsDeterministic checks the in-memory generation, which needs no database.
func TestDemoGeneratorIsDeterministic(t *testing.T) {
	t.Parallel()
	gen := func() *demoGen {
		g := newDemoGen(demoNow, demoStaff{csms: make([]uuid.UUID, 2)}, map[string]uuid.UUID{})
		g.generate()
		return g
	}
	a, b := gen(), gen()
	require.Equal(t, len(a.events), len(b.events))
	for i := range a.accounts {
		require.Equal(t, *a.accounts[i], *b.accounts[i])
	}
	for i := range a.events {
		require.Equal(t, *a.events[i], *b.events[i])
	}
}

// requireDerivedColumnsMatch checks that the workspace's accounts.last_login_at and
// last_activity_at and contacts.last_seen_at are exactly what its events imply.
func requireDerivedColumnsMatch(t *testing.T, b *bun.DB, ws uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	var n int
	require.NoError(t, b.NewRaw(`
		SELECT count(*) FROM accounts a
		LEFT JOIN (
			SELECT account_id, max(occurred_at) AS activity, max(occurred_at) FILTER (WHERE name = 'login') AS login
			FROM events WHERE workspace_id = ?0 GROUP BY account_id
		) e ON e.account_id = a.id
		WHERE a.workspace_id = ?0
		AND (a.last_activity_at IS DISTINCT FROM e.activity OR a.last_login_at IS DISTINCT FROM e.login)`, ws).
		Scan(ctx, &n))
	require.Zero(t, n, "accounts whose last_login_at/last_activity_at disagree with their events")
	require.NoError(t, b.NewRaw(`
		SELECT count(*) FROM contacts c
		LEFT JOIN (
			SELECT contact_id, max(occurred_at) AS seen FROM events
			WHERE workspace_id = ?0 AND contact_id IS NOT NULL GROUP BY contact_id
		) e ON e.contact_id = c.id
		WHERE c.workspace_id = ?0 AND c.last_seen_at IS DISTINCT FROM e.seen`, ws).
		Scan(ctx, &n))
	require.Zero(t, n, "contacts whose last_seen_at disagrees with their events")
}

// demoCounts counts the rows of every table the demo writes.
func demoCounts(t *testing.T, b *bun.DB) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range []string{
		"workspaces", "users", "memberships", "team_roles", "accounts", "account_team_members",
		"contacts", "events", "timeline_entries",
	} {
		var n int
		require.NoError(t, b.NewRaw("SELECT count(*) FROM ?", bun.Ident(table)).Scan(context.Background(), &n))
		counts[table] = n
	}
	return counts
}
