package server_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

const fxAccountsPageOp = `query($first: Int, $after: String, $filter: AccountFilter, $order: AccountOrder) {
	accounts(first: $first, after: $after, filter: $filter, orderBy: $order) {
		totalCount
		edges { cursor node { id name healthScore renewalDate createdAt } }
		pageInfo { hasNextPage endCursor }
	}
}`

// fxPage is one decoded page of accounts.
type fxPage struct {
	TotalCount int `json:"totalCount"`
	Edges      []struct {
		Cursor string    `json:"cursor"`
		Node   fxAccount `json:"node"`
	} `json:"edges"`
	PageInfo struct {
		HasNextPage bool    `json:"hasNextPage"`
		EndCursor   *string `json:"endCursor"`
	} `json:"pageInfo"`
}

func (f *fx) accountsPage(vars map[string]any) fxPage {
	f.t.Helper()
	var out struct {
		Accounts fxPage `json:"accounts"`
	}
	f.do(fxAccountsPageOp, vars).Decode(f.t, &out)
	return out.Accounts
}

// accountIDs lists the ids of every account of the workspace, straight from the database.
func (f *fx) accountIDs() []string {
	f.t.Helper()
	var rows []db.Account
	require.NoError(f.t, f.ws.Tenant.Select(f.env.Bun, &rows).Column("a.id").Scan(context.Background()))
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = fxID("Account", r.ID)
	}
	return ids
}

// fxSortKey is an account's position in one order, compared the way the database does: the
// folded sort value, then the id (uuids compare as their lower-case hex).
func fxSortKey(t testing.TB, field string, a fxAccount) func(b fxAccount) int {
	idOf := func(x fxAccount) string { return fxDBID(t, "Account", x.ID).String() }
	health := func(x fxAccount) int {
		if x.HealthScore == nil {
			return -1 // NULLs fold to -1: first ascending
		}
		return *x.HealthScore
	}
	renewal := func(x fxAccount) string {
		if x.RenewalDate == nil {
			return "~infinity" // NULLs fold to infinity: last ascending ('~' sorts after digits)
		}
		return *x.RenewalDate
	}
	return func(b fxAccount) int {
		var c int
		switch field {
		case "CREATED_AT":
			c = a.CreatedAt.Compare(b.CreatedAt)
		case "NAME":
			c = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		case "HEALTH_SCORE":
			c = cmp.Compare(health(a), health(b))
		case "RENEWAL_DATE":
			c = strings.Compare(renewal(a), renewal(b))
		default:
			t.Fatalf("unknown order %s", field)
		}
		if c != 0 {
			return c
		}
		return strings.Compare(idOf(a), idOf(b))
	}
}

// fxInserter creates accounts through the API from its own goroutine until stopped. After each
// account it signals progress, so a test can make sure inserts land between its requests.
type fxInserter struct {
	progress chan struct{}
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	created  int
	err      error
}

func (f *fx) startInserter(prefix string) *fxInserter {
	in := &fxInserter{progress: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	client, url, token := f.env.Server.Client(), f.env.URL+"/graphql", f.token
	go func() {
		defer close(in.done)
		for n := 0; ; n++ {
			select {
			case <-in.stop:
				return
			default:
			}
			input := map[string]any{"name": fmt.Sprintf("%s %04d", prefix, n)}
			if n%3 != 0 {
				input["healthScore"] = (n * 37) % 101
			}
			if n%4 != 0 {
				input["renewalDate"] = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n*11%700).Format(time.DateOnly)
			}
			if err := fxPostDecode(client, url, token, fxCreateAccountOp, map[string]any{"in": input}, nil); err != nil {
				in.mu.Lock()
				in.err = err
				in.mu.Unlock()
				return
			}
			in.mu.Lock()
			in.created++
			in.mu.Unlock()
			select {
			case in.progress <- struct{}{}:
			default:
			}
		}
	}()
	return in
}

// waitProgress blocks until the inserter has created one more account (or failed).
func (in *fxInserter) waitProgress(t testing.TB) {
	t.Helper()
	select {
	case <-in.progress:
	case <-in.done:
		in.mu.Lock()
		defer in.mu.Unlock()
		require.NoError(t, in.err, "the concurrent inserter failed")
		t.Fatal("the concurrent inserter stopped")
	case <-time.After(10 * time.Second):
		t.Fatal("the concurrent inserter made no progress")
	}
}

// finish stops the inserter and returns how many accounts it created.
func (in *fxInserter) finish(t testing.TB) int {
	t.Helper()
	close(in.stop)
	<-in.done
	in.mu.Lock()
	defer in.mu.Unlock()
	require.NoError(t, in.err)
	return in.created
}

func TestPaginationIsCompleteAndOrderedUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	variants := []string{"acct", "Acct", "ACCT"}
	for i := range 120 {
		n := (i * 53) % 120 // a shuffled, unique number
		if i%15 == 14 {
			n = ((i - 1) * 53) % 120 // the same name as the previous one, in another case: a tie
		}
		in := map[string]any{"name": fmt.Sprintf("%s %03d", variants[i%3], n)}
		if i%5 != 0 {
			in["healthScore"] = (i % 7) * 15 // many ties
		}
		if i%4 != 0 {
			in["renewalDate"] = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%9).Format(time.DateOnly)
		}
		f.createAccount(in)
	}

	for _, field := range []string{"CREATED_AT", "NAME", "HEALTH_SCORE", "RENEWAL_DATE"} {
		for _, dir := range []string{"ASC", "DESC"} {
			t.Run(field+" "+dir, func(t *testing.T) {
				existing := f.accountIDs()
				require.GreaterOrEqual(t, len(existing), 120)
				inserter := f.startInserter("late " + strings.ToLower(field+" "+dir))
				inserter.waitProgress(t)

				var seen []fxAccount
				var after any
				for page := 0; ; page++ {
					require.Less(t, page, 100, "paging does not end")
					p := f.accountsPage(map[string]any{"first": 25, "after": after, "order": map[string]any{"field": field, "direction": dir}})
					require.LessOrEqual(t, len(p.Edges), 25)
					require.GreaterOrEqual(t, p.TotalCount, len(existing))
					for _, e := range p.Edges {
						require.NotEmpty(t, e.Cursor)
						seen = append(seen, e.Node)
					}
					if len(p.Edges) > 0 {
						require.NotNil(t, p.PageInfo.EndCursor)
						require.Equal(t, p.Edges[len(p.Edges)-1].Cursor, *p.PageInfo.EndCursor, "endCursor is the last edge's cursor")
					}
					if !p.PageInfo.HasNextPage {
						break
					}
					require.Len(t, p.Edges, 25, "only the last page is short")
					after = *p.PageInfo.EndCursor
					inserter.waitProgress(t) // at least one account lands between two pages
				}
				created := inserter.finish(t)
				require.Positive(t, created)

				counts := map[string]int{}
				for _, a := range seen {
					counts[a.ID]++
					require.Equal(t, 1, counts[a.ID], "account %s (%s) is listed twice", a.ID, a.Name)
				}
				for _, id := range existing {
					require.Equal(t, 1, counts[id], "account %s that existed before paging is missing", id)
				}
				for i := 1; i < len(seen); i++ {
					c := fxSortKey(t, field, seen[i-1])(seen[i])
					if dir == "DESC" {
						c = -c
					}
					require.Negative(t, c, "%s %s: %+v is listed before %+v", field, dir, seen[i-1], seen[i])
				}
			})
		}
	}
}

func TestPaginationRefusesBadArguments(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	for i := range 3 {
		f.createAccount(map[string]any{"name": fmt.Sprintf("Account %d", i), "healthScore": i})
	}
	const op = `query($first: Int, $after: String, $order: AccountOrder) {
		accounts(first: $first, after: $after, orderBy: $order) { edges { node { id } } pageInfo { endCursor } }
	}`
	cursorOf := func(order map[string]any) string {
		t.Helper()
		var out struct {
			Accounts struct {
				PageInfo struct {
					EndCursor string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"accounts"`
		}
		f.do(op, map[string]any{"first": 1, "order": order}).Decode(t, &out)
		require.NotEmpty(t, out.Accounts.PageInfo.EndCursor)
		return out.Accounts.PageInfo.EndCursor
	}
	nameAsc := map[string]any{"field": "NAME", "direction": "ASC"}
	nameDesc := map[string]any{"field": "NAME", "direction": "DESC"}
	health := map[string]any{"field": "HEALTH_SCORE"}
	renewal := map[string]any{"field": "RENEWAL_DATE"}
	nameCursor := cursorOf(nameAsc)
	createdCursor := cursorOf(nil)
	encode := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	id := uuid.NewString()

	t.Run("first out of range", func(t *testing.T) {
		fxRequireError(t, f.do(op, map[string]any{"first": 101}), "BAD_USER_INPUT", "first")
		fxRequireError(t, f.do(op, map[string]any{"first": -1}), "BAD_USER_INPUT", "first")
		var out struct {
			Accounts struct {
				Edges []any `json:"edges"`
			} `json:"accounts"`
		}
		f.do(op, map[string]any{"first": 100}).Decode(t, &out)
		require.Len(t, out.Accounts.Edges, 3, "100 is allowed")
	})

	t.Run("a cursor of another order", func(t *testing.T) {
		for name, c := range map[string]struct {
			after string
			order map[string]any
		}{
			"name asc cursor, name desc":  {nameCursor, nameDesc},
			"name cursor, created order":  {nameCursor, nil},
			"created cursor, name order":  {createdCursor, nameAsc},
			"created cursor, health":      {createdCursor, health},
			"name cursor, renewal order":  {nameCursor, renewal},
			"a cursor without an order":   {encode(`{"k":"x","i":"` + id + `"}`), nil},
			"a cursor of another list":    {encode(`{"o":"contacts","k":"2026-01-01T00:00:00Z","i":"` + id + `"}`), nil},
			"health cursor, health desc":  {cursorOf(health), map[string]any{"field": "HEALTH_SCORE", "direction": "DESC"}},
			"renewal cursor, created asc": {cursorOf(renewal), map[string]any{"field": "CREATED_AT", "direction": "ASC"}},
		} {
			t.Run(name, func(t *testing.T) {
				fxRequireError(t, f.do(op, map[string]any{"after": c.after, "order": c.order}), "BAD_USER_INPUT", "after")
			})
		}
	})

	t.Run("a tampered cursor", func(t *testing.T) {
		for name, c := range map[string]struct {
			after string
			order map[string]any
			field string
		}{
			"not base64":            {"!!!not-a-cursor!!!", nil, "after"},
			"base64 of garbage":     {encode("garbage"), nil, "after"},
			"base64 of a JSON list": {encode(`[1,2,3]`), nil, "after"},
			"no id":                 {encode(`{"o":"accounts:CREATED_AT:a","k":"2026-01-01"}`), nil, "after"},
			"bad id":                {encode(`{"o":"accounts:CREATED_AT:a","k":"2026-01-01","i":"x"}`), nil, "after"},
			"key not a date":        {encode(`{"o":"accounts:CREATED_AT:a","k":"not-a-date","i":"` + id + `"}`), nil, ""},
			"key not a number":      {encode(`{"o":"accounts:HEALTH_SCORE:a","k":"abc","i":"` + id + `"}`), health, ""},
			"key out of range":      {encode(`{"o":"accounts:HEALTH_SCORE:a","k":"99999999999","i":"` + id + `"}`), health, ""},
			"key not a day":         {encode(`{"o":"accounts:RENEWAL_DATE:a","k":"2026-13-45","i":"` + id + `"}`), renewal, ""},
			"key with a quote":      {encode(`{"o":"accounts:CREATED_AT:a","k":"2026-01-01'; --","i":"` + id + `"}`), nil, ""},
		} {
			t.Run(name, func(t *testing.T) {
				fxRequireError(t, f.do(op, map[string]any{"after": c.after, "order": c.order}), "BAD_USER_INPUT", c.field)
			})
		}
	})

	t.Run("cursors of the same order work", func(t *testing.T) {
		var out struct {
			Accounts struct {
				Edges []any `json:"edges"`
			} `json:"accounts"`
		}
		f.do(op, map[string]any{"after": nameCursor, "order": nameAsc}).Decode(t, &out)
		require.Len(t, out.Accounts.Edges, 2)
		f.do(op, map[string]any{"after": createdCursor, "order": map[string]any{"field": "CREATED_AT", "direction": "ASC"}}).Decode(t, &out)
		require.Len(t, out.Accounts.Edges, 2, "ASC is the default direction")
	})
}

func TestAccountFilters(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	ana, _ := f.ws.AddUser(t, db.RoleCSM)
	bo, _ := f.ws.AddUser(t, db.RoleCSM)
	anaID, boID := fxID("User", ana), fxID("User", bo)

	mk := func(in map[string]any) string { return f.createAccount(in).ID }
	acme := mk(map[string]any{"name": "Acme Corp", "domain": "acme.example", "ownerId": anaID, "stage": "GROWTH",
		"healthScore": 80, "renewalDate": "2027-01-15", "tags": []string{"vip", "emea"}})
	globex := mk(map[string]any{"name": "Globex", "domain": "globex-corp.example", "ownerId": boID, "stage": "AT_RISK",
		"healthScore": 20, "renewalDate": "2026-11-01", "tags": []string{"churn-risk"}})
	uptime := mk(map[string]any{"name": "100% Uptime Ltd", "stage": "ONBOARDING"})
	under := mk(map[string]any{"name": "under_score inc", "domain": "underscore.example", "stage": "RENEWAL",
		"healthScore": 49, "renewalDate": "2026-12-31", "tags": []string{"vip"}})
	initech := mk(map[string]any{"name": "Initech", "domain": "INITECH.example", "stage": "ADOPTION",
		"healthScore": 10, "renewalDate": "2027-06-30", "tags": []string{"VIP"}})
	umbrella := mk(map[string]any{"name": "Umbrella", "domain": "umbrella.example", "ownerId": anaID, "stage": "CHURNED",
		"healthScore": 50, "renewalDate": "2026-01-01", "tags": []string{"emea"}})
	f.do(`mutation($id: ID!) { archiveAccount(id: $id) { id } }`, map[string]any{"id": umbrella}).Decode(t, &struct{}{})

	now := time.Now().UTC()
	f.do(`mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []any{
		map[string]any{"clientEventId": "l1", "accountId": acme, "name": "login", "occurredAt": now.Add(-24 * time.Hour)},
		map[string]any{"clientEventId": "l2", "accountId": globex, "name": "login", "occurredAt": now.Add(-10 * 24 * time.Hour)},
		map[string]any{"clientEventId": "l3", "accountId": umbrella, "name": "login", "occurredAt": now.Add(-30 * 24 * time.Hour)},
		map[string]any{"clientEventId": "x1", "accountId": under, "name": "report_viewed", "occurredAt": now.Add(-time.Hour)},
	}}).Decode(t, &struct{}{})

	fiveDaysAgo := now.Add(-5 * 24 * time.Hour).Format(time.RFC3339)
	tests := []struct {
		name   string
		filter map[string]any
		want   []string
	}{
		{"no filter leaves archived out", map[string]any{}, []string{acme, globex, uptime, under, initech}},
		{"includeArchived", map[string]any{"includeArchived": true}, []string{acme, globex, uptime, under, initech, umbrella}},
		{"includeArchived false", map[string]any{"includeArchived": false}, []string{acme, globex, uptime, under, initech}},
		{"search a name", map[string]any{"search": "acme"}, []string{acme}},
		{"search is case-insensitive", map[string]any{"search": "ACME cOrP"}, []string{acme}},
		{"search is trimmed", map[string]any{"search": "  initech  "}, []string{initech}},
		{"search a substring of names and domains", map[string]any{"search": "corp"}, []string{acme, globex}},
		{"search a domain only", map[string]any{"search": "globex-corp.ex"}, []string{globex}},
		{"search a lower-cased domain", map[string]any{"search": "initech.EXAMPLE"}, []string{initech}},
		{"search escapes %", map[string]any{"search": "%"}, []string{uptime}},
		{"search escapes _", map[string]any{"search": "_"}, []string{under}},
		{"search escapes % inside", map[string]any{"search": "0% up"}, []string{uptime}},
		{"search misses archived", map[string]any{"search": "umbrella"}, nil},
		{"search finds archived when asked", map[string]any{"search": "umbrella", "includeArchived": true}, []string{umbrella}},
		{"search with no match", map[string]any{"search": "zzz"}, nil},
		{"owner", map[string]any{"ownerId": anaID}, []string{acme}},
		{"owner with archived", map[string]any{"ownerId": anaID, "includeArchived": true}, []string{acme, umbrella}},
		{"other owner", map[string]any{"ownerId": boID}, []string{globex}},
		{"owner who owns nothing", map[string]any{"ownerId": fxID("User", f.ws.AdminID)}, nil},
		{"one stage", map[string]any{"stage": []string{"RENEWAL"}}, []string{under}},
		{"several stages", map[string]any{"stage": []string{"GROWTH", "AT_RISK", "CHURNED"}}, []string{acme, globex}},
		{"healthBelow is strict and skips unknown scores", map[string]any{"healthBelow": 50}, []string{globex, under, initech}},
		{"healthBelow 0", map[string]any{"healthBelow": 0}, nil},
		{"lastLoginBefore counts accounts never logged in", map[string]any{"lastLoginBefore": fiveDaysAgo}, []string{globex, uptime, under, initech}},
		{"lastLoginBefore with archived", map[string]any{"lastLoginBefore": fiveDaysAgo, "includeArchived": true}, []string{globex, uptime, under, initech, umbrella}},
		{"renewalBefore is strict and skips unknown dates", map[string]any{"renewalBefore": "2027-01-15"}, []string{globex, under}},
		{"renewalBefore with archived", map[string]any{"renewalBefore": "2027-01-01", "includeArchived": true}, []string{globex, under, umbrella}},
		{"tag", map[string]any{"tag": "vip"}, []string{acme, under}},
		{"tags are case-sensitive", map[string]any{"tag": "VIP"}, []string{initech}},
		{"tag on archived", map[string]any{"tag": "emea", "includeArchived": true}, []string{acme, umbrella}},
		{"unknown tag", map[string]any{"tag": "nope"}, nil},
		{"filters combine", map[string]any{"tag": "vip", "healthBelow": 50}, []string{under}},
		{"filters combine to nothing", map[string]any{"search": "globex", "stage": []string{"GROWTH"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := f.accountsPage(map[string]any{"first": 100, "filter": tc.filter})
			var got []string
			for _, e := range p.Edges {
				got = append(got, e.Node.ID)
			}
			require.ElementsMatch(t, tc.want, got)
			require.Equal(t, len(tc.want), p.TotalCount, "totalCount")
			require.False(t, p.PageInfo.HasNextPage)
		})
	}

	t.Run("filtered pages", func(t *testing.T) {
		var got []string
		var after any
		for {
			p := f.accountsPage(map[string]any{"first": 1, "after": after, "filter": map[string]any{"tag": "emea", "includeArchived": true},
				"order": map[string]any{"field": "NAME"}})
			require.Equal(t, 2, p.TotalCount, "totalCount counts the whole filter, not the page")
			require.Len(t, p.Edges, 1)
			got = append(got, p.Edges[0].Node.ID)
			if !p.PageInfo.HasNextPage {
				break
			}
			after = *p.PageInfo.EndCursor
		}
		require.Equal(t, []string{acme, umbrella}, got)
	})

	t.Run("a bad owner id", func(t *testing.T) {
		for _, id := range []string{"nobody", acme} {
			fxRequireError(t, f.do(fxAccountsPageOp, map[string]any{"filter": map[string]any{"ownerId": id}}), "BAD_USER_INPUT", "filter.ownerId")
		}
	})

	t.Run("a bad date or time", func(t *testing.T) {
		fxRequireError(t, f.do(fxAccountsPageOp, map[string]any{"filter": map[string]any{"renewalBefore": "2027-02-30"}}), "BAD_USER_INPUT", "filter.renewalBefore")
		fxRequireError(t, f.do(fxAccountsPageOp, map[string]any{"filter": map[string]any{"lastLoginBefore": "last week"}}), "BAD_USER_INPUT", "filter.lastLoginBefore")
	})
}
