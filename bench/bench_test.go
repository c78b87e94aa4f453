package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var testKey = auth.Key{ID: "bench-test", Secret: []byte("0123456789abcdef0123456789abcdef-bench")}

// TestRun runs the whole pipeline on a small workspace: seed, both servers, the equivalence
// check, statement counts and short load phases.
func TestRun(t *testing.T) {
	t.Parallel()
	d := dbtest.DB(t)
	keys, err := auth.NewKeyset(testKey)
	require.NoError(t, err)
	ctx := context.Background()
	// A pool of its own, so that bun's statement counter sees only this run's server.
	bunDB, pool, err := db.Open(ctx, d.URL, db.PoolConfig{MaxConns: 10})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bunDB.Close(); pool.Close() })

	rep, err := Run(ctx, Options{
		Bun: bunDB, Pool: pool, Keys: keys,
		Accounts: 200, Warmup: 200 * time.Millisecond, Duration: time.Second, Rate: 50, Workers: 4,
		StatementSamples: 5,
	})
	require.NoError(t, err)

	require.True(t, rep.Dataset.Seeded)
	require.Equal(t, WorkspaceName(200), rep.Dataset.WorkspaceName)
	require.Positive(t, rep.Dataset.TeamMembersNew)
	require.Equal(t, rep.ResponseBytes[TargetGraphQL], rep.ResponseBytes[TargetBaseline], "same JSON, byte for byte")

	g, b := rep.Target(TargetGraphQL), rep.Target(TargetBaseline)
	require.NotNil(t, g)
	require.NotNil(t, b)
	// Accounts, owners, teams, team users, first contacts: five when every loader batch
	// gathers all its keys within its wait, more when a batch is split on a busy machine.
	require.GreaterOrEqual(t, g.StatementsPerRequest, 4.0)
	require.LessOrEqual(t, g.StatementsPerRequest, 8.0)
	require.Equal(t, 1.0, b.StatementsPerRequest)
	for _, tr := range []*TargetResult{g, b} {
		for _, p := range []Phase{tr.Saturation, tr.FixedRate} {
			require.Positive(t, p.Requests, tr.Name)
			require.Zero(t, p.Failures, "%s: %v", tr.Name, p.Errors)
			require.Positive(t, p.Throughput, tr.Name)
			require.Positive(t, p.P99Ms, tr.Name)
		}
		require.Equal(t, 4, tr.Saturation.Workers)
		require.Equal(t, 50, tr.FixedRate.Rate)
	}
	require.Positive(t, rep.Ratio)

	var table strings.Builder
	require.NoError(t, rep.WriteTable(&table))
	require.Contains(t, table.String(), "ratio GraphQL/hand-written")
	t.Log("\n" + table.String())
	_, err = json.Marshal(rep)
	require.NoError(t, err)

	t.Run("cached", func(t *testing.T) {
		ds, err := ensureDataset(ctx, d.Pool, 200, io.Discard)
		require.NoError(t, err)
		require.False(t, ds.summary.Seeded)
		require.Zero(t, ds.summary.TeamMembersNew)
		require.Equal(t, rep.Dataset.WorkspaceID, ds.summary.WorkspaceID)
	})
}

// TestBaselineMatchesGraphQL compares the two answers field by field on the first page: the
// same owners, teams and contact emails in the same order, with owners and teams present.
func TestBaselineMatchesGraphQL(t *testing.T) {
	t.Parallel()
	d := dbtest.DB(t)
	keys, err := auth.NewKeyset(testKey)
	require.NoError(t, err)
	ctx := context.Background()
	opts, err := Options{Bun: d.Bun, Pool: d.Pool, Keys: keys}.withDefaults()
	require.NoError(t, err)

	ds, err := ensureDataset(ctx, d.Pool, 60, io.Discard)
	require.NoError(t, err)
	issuer := &auth.Issuer{Keys: keys}
	token, _, err := issuer.Issue(ds.viewer)
	require.NoError(t, err)
	gqlURL, stop, err := startServer(ctx, opts, issuer)
	require.NoError(t, err)
	t.Cleanup(stop)
	baseURL, stopBaseline, err := serve(NewBaseline(d.Pool, issuer))
	require.NoError(t, err)
	t.Cleanup(stopBaseline)

	body := []byte(`{"query":` + mustJSON(t, AccountsPageQuery) + `}`)
	gql := fetchPage(t, gqlURL+"/graphql", token, body)
	base := fetchPage(t, baseURL+BaselinePath, token, body)

	require.Len(t, gql.Data.Accounts.Edges, PageSize)
	require.Equal(t, gql, base)
	var owners, teams, emails int
	for _, e := range base.Data.Accounts.Edges {
		if e.Node.Owner != nil {
			owners++
		}
		teams += len(e.Node.Team)
		emails += len(e.Node.Contacts.Edges)
	}
	require.Greater(t, owners, PageSize/2)
	require.Greater(t, teams, PageSize)
	require.Equal(t, 3*PageSize, emails, "seed.Bulk gives every account three contacts")

	t.Run("bad token", func(t *testing.T) {
		_, raw := post(t, gqlURL+"/graphql", "not-a-token", body)
		require.Contains(t, string(raw), `"code":"UNAUTHENTICATED"`)
		status, raw := post(t, baseURL+BaselinePath, "not-a-token", body)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Contains(t, string(raw), `"code":"UNAUTHENTICATED"`)
	})
}

func fetchPage(t *testing.T, url, token string, body []byte) pageResponse {
	t.Helper()
	status, raw := post(t, url, token, body)
	require.Equal(t, http.StatusOK, status, string(raw))
	require.NotContains(t, string(raw), `"errors"`)
	var page pageResponse
	require.NoError(t, json.Unmarshal(raw, &page))
	return page
}

func post(t *testing.T, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
