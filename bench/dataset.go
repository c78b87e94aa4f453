package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/seed"
)

// WorkspaceName is the name of the benchmark workspace of n accounts. Run finds the workspace
// again by this name, so a dataset is seeded once per database and size.
func WorkspaceName(n int) string { return fmt.Sprintf("Bench %d", n) }

// dataset is the prepared benchmark workspace and the user the load runs as.
type dataset struct {
	summary Dataset
	viewer  auth.Viewer
}

// ensureDataset finds the workspace WorkspaceName(n) or creates it with seed.Bulk, and tops it
// up when an earlier seed was interrupted (Bulk commits batch by batch). seed.Bulk gives
// accounts an owner and contacts but no team, which the accounts page shows, so each account
// without a team is given one here: its owner as CSM and a member picked by hash of the account
// id as Sales. After any change the tables are vacuumed and analyzed, so that every run
// measures the same plans on settled data.
func ensureDataset(ctx context.Context, pool *pgxpool.Pool, n int, progress io.Writer) (*dataset, error) {
	name := WorkspaceName(n)
	ds := &dataset{summary: Dataset{WorkspaceName: name, Accounts: n}}
	var have int
	err := pool.QueryRow(ctx, `
		SELECT w.id, (SELECT count(*) FROM accounts a WHERE a.workspace_id = w.id)
		FROM workspaces w WHERE w.name = $1 ORDER BY w.created_at, w.id LIMIT 1`, name).
		Scan(&ds.summary.WorkspaceID, &have)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("find bench workspace: %w", err)
	case have > n:
		return nil, fmt.Errorf("bench workspace %q (%s) has %d accounts, more than %d: rename or delete it",
			name, ds.summary.WorkspaceID, have, n)
	}

	if have < n {
		fmt.Fprintf(progress, "seeding %d accounts into workspace %q (cached for later runs)\n", n-have, name)
		start := time.Now()
		res, err := seed.Bulk(ctx, pool, seed.BulkOptions{
			WorkspaceID:   ds.summary.WorkspaceID,
			WorkspaceName: name,
			Accounts:      n - have,
			Progress:      progress,
			// A top-up generates other companies than the interrupted run did.
			Seed: uint64(have) + 1,
		})
		if err != nil {
			return nil, fmt.Errorf("seed bench workspace: %w", err)
		}
		ds.summary.WorkspaceID = res.WorkspaceID
		ds.summary.Seeded = true
		ds.summary.SeedSeconds = time.Since(start).Seconds()
	}

	tag, err := pool.Exec(ctx, assignTeamsSQL, ds.summary.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("assign bench account teams: %w", err)
	}
	ds.summary.TeamMembersNew = tag.RowsAffected()

	if ds.summary.Seeded || ds.summary.TeamMembersNew > 0 {
		fmt.Fprintln(progress, "vacuuming and analyzing the seeded tables")
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) accounts, contacts, account_team_members, memberships, users",
			pgx.QueryExecModeSimpleProtocol); err != nil {
			return nil, fmt.Errorf("vacuum bench tables: %w", err)
		}
	}

	err = pool.QueryRow(ctx, `
		SELECT user_id, role FROM memberships
		WHERE workspace_id = $1 AND disabled_at IS NULL
		ORDER BY role = 'ADMIN' DESC, created_at, user_id LIMIT 1`, ds.summary.WorkspaceID).
		Scan(&ds.viewer.UserID, &ds.viewer.Role)
	if err != nil {
		return nil, fmt.Errorf("pick bench user: %w", err)
	}
	ds.viewer.WorkspaceID = ds.summary.WorkspaceID
	return ds, nil
}

// assignTeamsSQL gives every account of workspace $1 that has no team its owner as CSM and one
// active member as Sales, chosen by a hash of the account id so that runs agree. The members are
// read once into an array rather than once per account.
const assignTeamsSQL = `
WITH members AS (
    SELECT array_agg(user_id ORDER BY user_id) AS ids
    FROM memberships WHERE workspace_id = $1 AND disabled_at IS NULL
)
INSERT INTO account_team_members (workspace_id, account_id, team_role_id, user_id, created_at)
SELECT a.workspace_id, a.id, r.id,
       CASE r.key
           WHEN 'CSM' THEN a.owner_id
           ELSE mem.ids[1 + (abs(hashtext(a.id::text)::bigint) % cardinality(mem.ids))::int]
       END,
       a.created_at
FROM accounts a
CROSS JOIN members mem
JOIN team_roles r ON r.workspace_id = a.workspace_id AND r.key IN ('CSM', 'SALES')
WHERE a.workspace_id = $1
  AND cardinality(mem.ids) > 0
  AND (r.key <> 'CSM' OR a.owner_id IS NOT NULL)
  AND NOT EXISTS (
      SELECT 1 FROM account_team_members t WHERE t.workspace_id = a.workspace_id AND t.account_id = a.id)`
