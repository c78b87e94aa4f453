package seed

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestBulk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.DB(t)
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

	var progress bytes.Buffer
	res, err := Bulk(ctx, d.Pool, BulkOptions{
		WorkspaceName: "Bulk test",
		Accounts:      2000,
		BatchSize:     300, // several batches, the last one short, over both connections
		Progress:      &progress,
		Seed:          7,
		Now:           now,
	})
	require.NoError(t, err)
	require.NotEqual(t, uuid.Nil, res.WorkspaceID)
	require.Equal(t, 6, res.Users) // an admin and five CSMs
	require.EqualValues(t, 2000, res.Accounts)
	require.EqualValues(t, 2000*DefaultContactsPerAccount, res.Contacts)
	require.EqualValues(t, 2000*DefaultEventsPerAccount, res.Events)
	require.Positive(t, res.Elapsed)
	require.Contains(t, progress.String(), "2000/2000")
	ws := res.WorkspaceID

	t.Run("RowsInTheWorkspace", func(t *testing.T) {
		require.Equal(t, 2000, countIn(t, d.Bun, "accounts", ws))
		require.Equal(t, 6000, countIn(t, d.Bun, "contacts", ws))
		require.Equal(t, 10000, countIn(t, d.Bun, "events", ws))
		require.Equal(t, 6, countIn(t, d.Bun, "memberships", ws))
		require.Equal(t, 4, countIn(t, d.Bun, "team_roles", ws))
	})

	t.Run("References", func(t *testing.T) {
		// The composite foreign keys already keep rows in their parent's workspace; these also
		// check what they cannot: an event's contact works at the event's account, and owners
		// are members of the workspace.
		for name, query := range map[string]string{
			"contact without account": `SELECT count(*) FROM contacts c WHERE c.workspace_id = ?0
				AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.workspace_id = c.workspace_id AND a.id = c.account_id)`,
			"event without account": `SELECT count(*) FROM events e WHERE e.workspace_id = ?0
				AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.workspace_id = e.workspace_id AND a.id = e.account_id)`,
			"event contact at another account": `SELECT count(*) FROM events e
				JOIN contacts c ON c.workspace_id = e.workspace_id AND c.id = e.contact_id
				WHERE e.workspace_id = ?0 AND c.account_id <> e.account_id`,
			"owner not a CSM member": `SELECT count(*) FROM accounts a WHERE a.workspace_id = ?0 AND a.owner_id IS NOT NULL
				AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.workspace_id = a.workspace_id
					AND m.user_id = a.owner_id AND m.role = 'CSM')`,
			"duplicate contact email": `SELECT count(*) FROM (SELECT 1 FROM contacts WHERE workspace_id = ?0
				GROUP BY account_id, lower(email) HAVING count(*) > 1) x`,
			"event in the future or before the window": `SELECT count(*) FROM events WHERE workspace_id = ?0
				AND (occurred_at > ?1 OR occurred_at < ?1::timestamptz - interval '31 days')`,
		} {
			var n int
			require.NoError(t, d.Bun.NewRaw(query, ws, now).Scan(ctx, &n))
			require.Zero(t, n, name)
		}
	})

	t.Run("DerivedColumnsMatchEvents", func(t *testing.T) {
		requireDerivedColumnsMatch(t, d.Bun, ws)

		var quiet int
		require.NoError(t, d.Bun.NewRaw(`SELECT count(*) FROM accounts WHERE workspace_id = ? AND last_login_at < ?`,
			ws, now.Add(-darkAfter)).Scan(ctx, &quiet))
		require.Greater(t, quiet, 100, "some accounts have not logged in for 14 days")
	})

	t.Run("UsersLogIn", func(t *testing.T) {
		members, err := db.ListMembers(ctx, d.Bun, db.Tenant{WorkspaceID: ws})
		require.NoError(t, err)
		require.Len(t, members, 6)
		u, err := db.GetUserByEmail(ctx, d.Bun, members[0].Email)
		require.NoError(t, err)
		require.True(t, auth.CheckPassword(u.PasswordHash, DemoAdminPassword))
	})

	t.Run("AgainIntoTheSameWorkspace", func(t *testing.T) {
		again, err := Bulk(ctx, d.Pool, BulkOptions{WorkspaceID: ws, Accounts: 150, ContactsPerAccount: 2, EventsPerAccount: -1, Seed: 7, Now: now.Add(time.Hour)})
		require.NoError(t, err)
		require.Zero(t, again.Users, "the workspace's CSMs are reused")
		require.EqualValues(t, 150, again.Accounts)
		require.EqualValues(t, 300, again.Contacts)
		require.Zero(t, again.Events)
		require.Equal(t, 2150, countIn(t, d.Bun, "accounts", ws))
		a, err := db.GetAccountByExternalID(ctx, d.Bun, db.Tenant{WorkspaceID: ws}, "crm-0002150")
		require.NoError(t, err)
		require.Nil(t, a.LastLoginAt)
	})
}

func TestBulkUnknownWorkspace(t *testing.T) {
	t.Parallel()
	_, err := Bulk(context.Background(), dbtest.DB(t).Pool, BulkOptions{WorkspaceID: uuid.New(), Accounts: 10})
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestBulkOptionsValidate(t *testing.T) {
	t.Parallel()
	_, err := BulkOptions{}.withDefaults()
	require.ErrorContains(t, err, "Accounts")
	_, err = BulkOptions{Accounts: 1, BatchSize: -1}.withDefaults()
	require.ErrorContains(t, err, "BatchSize")

	o, err := BulkOptions{Accounts: 1, ContactsPerAccount: -1}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 0, o.ContactsPerAccount)
	require.Equal(t, DefaultEventsPerAccount, o.EventsPerAccount)
	require.Equal(t, DefaultBulkBatchSize, o.BatchSize)
	require.Equal(t, DefaultBulkConnections, o.Connections)
	require.Equal(t, DefaultBulkWorkspaceName, o.WorkspaceName)
}

// TestBulkBatchIsDeterministic checks that a batch depends on the seed and its number only.
func TestBulkBatchIsDeterministic(t *testing.T) {
	t.Parallel()
	opts, err := BulkOptions{Accounts: 100, BatchSize: 40, Seed: 3, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}.withDefaults()
	require.NoError(t, err)
	g := &bulkGen{opts: opts, setup: &bulkSetup{csms: []uuid.UUID{uuid.New()}}, idBase: opts.Now.UnixMilli(), runTag: "x"}
	a, b := g.batch(2), g.batch(2)
	require.Len(t, a.accounts, 20)
	require.Equal(t, a.accounts, b.accounts)
	require.Equal(t, a.contacts, b.contacts)
	require.Equal(t, a.events, b.events)
	require.NotEqual(t, g.batch(1).accounts[0].name+g.batch(1).accounts[1].name, a.accounts[0].name+a.accounts[1].name)
}

// TestBulkMillion measures the goal size: a million accounts with their contacts and events.
// It takes minutes, so it runs only when STEWARD_SEED_MILLION=1:
//
//	STEWARD_SEED_MILLION=1 go test ./seed/ -run TestBulkMillion -timeout 20m -v
func TestBulkMillion(t *testing.T) {
	if os.Getenv("STEWARD_SEED_MILLION") != "1" {
		t.Skip("set STEWARD_SEED_MILLION=1 to load a million accounts")
	}
	t.Parallel() // after TestDemo, which needs the database without workspaces
	res, err := Bulk(context.Background(), dbtest.DB(t).Pool, BulkOptions{Accounts: 1_000_000, Seed: 1, Progress: os.Stderr})
	require.NoError(t, err)
	t.Logf("%d accounts, %d contacts, %d events in %s: %.0f rows/s",
		res.Accounts, res.Contacts, res.Events, res.Elapsed.Round(time.Millisecond), res.RowsPerSecond())
}

// countIn counts table's rows in workspace ws.
func countIn(t *testing.T, b *bun.DB, table string, ws uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.NewRaw("SELECT count(*) FROM ? WHERE workspace_id = ?", bun.Ident(table), ws).Scan(context.Background(), &n))
	return n
}
