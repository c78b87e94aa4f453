package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

const fxRelationsOp = `query($n: Int) {
	accounts(first: $n) { edges { node { owner { name } team { user { name } } contacts(first: 5) { edges { node { email } } } } } }
}`

// fxRelations is the answer of fxRelationsOp.
type fxRelations struct {
	Accounts struct {
		Edges []struct {
			Node struct {
				Owner *struct {
					Name string `json:"name"`
				} `json:"owner"`
				Team []struct {
					User struct {
						Name string `json:"name"`
					} `json:"user"`
				} `json:"team"`
				Contacts struct {
					Edges []struct {
						Node struct {
							Email string `json:"email"`
						} `json:"node"`
					} `json:"edges"`
				} `json:"contacts"`
			} `json:"node"`
		} `json:"edges"`
	} `json:"accounts"`
}

// fxSeeded is what one seeded account should read back as.
type fxSeeded struct {
	owner    string
	team     []string
	contacts []string
}

// TestRelationsAreBatched is not parallel: it measures batching, which depends on timing, and
// other tests running alongside make loader batches split more often.
func TestRelationsAreBatched(t *testing.T) {
	f := newFx(t, servertest.WithOwnDB())
	ctx := context.Background()
	svc := &account.Service{DB: f.env.Bun, Now: time.Now}
	tn := f.ws.Tenant

	// Owners and team members are distinct users with distinct names, so every page has both
	// to load (a loader caches a user it has loaded for one role).
	users := make([]uuid.UUID, 9)
	names := make([]string, len(users))
	for i := range users {
		names[i] = fmt.Sprintf("Member %d", i)
		u := &db.User{Email: fmt.Sprintf("member-%d-%s@example.test", i, uuid.NewString()[:8]), Name: names[i]}
		require.NoError(t, db.InsertUser(ctx, f.env.Bun, u))
		require.NoError(t, db.InsertMembership(ctx, f.env.Bun, tn, &db.Membership{UserID: u.ID, Role: db.RoleCSM}))
		users[i] = u.ID
	}
	owners, members := users[:3], users[3:]
	roles, err := db.ListTeamRoles(ctx, f.env.Bun, tn)
	require.NoError(t, err)

	// 60 accounts, each with an owner, a two-member team and six contacts.
	var want []fxSeeded
	for i := range 60 {
		name, owner := fmt.Sprintf("Account %02d", i), owners[i%len(owners)]
		a, err := svc.Create(ctx, tn, account.Patch{Name: &name, OwnerID: account.Optional[uuid.UUID]{Set: true, Value: &owner}})
		require.NoError(t, err)
		first, second := 3+i%len(members), 3+(i+1)%len(members)
		_, err = svc.SetTeam(ctx, tn, a.ID, []account.TeamAssignment{
			{TeamRoleID: roles[0].ID, UserID: users[first]}, {TeamRoleID: roles[1].ID, UserID: users[second]},
		})
		require.NoError(t, err)
		seeded := fxSeeded{owner: names[i%len(owners)], team: []string{names[first], names[second]}}
		for j := range 6 {
			email := fmt.Sprintf("contact-%d@account-%02d.example", j, i)
			contactName := "Contact"
			_, err := svc.CreateContact(ctx, tn, a.ID, account.ContactPatch{Name: &contactName, Email: &email})
			require.NoError(t, err)
			if j < 5 {
				seeded.contacts = append(seeded.contacts, email)
			}
		}
		want = append(want, seeded)
	}

	// Loaders gather keys for a short wait (2ms) before they fetch, so a busy scheduler can
	// split a batch now and then (on a loaded 2-core machine an attempt cost 12 instead of 5).
	// Each page size is therefore measured several times: every size must cost the usual,
	// small number of statements at least once, which a query per account never would at 60.
	const attempts = 5
	counts := map[int][]uint32{}
	frequency := map[uint32]int{}
	for _, n := range []int{5, 20, 50, 1, 60} {
		for range attempts {
			var out fxRelations
			before := f.env.Bun.DBStats().Queries
			resp := f.do(fxRelationsOp, map[string]any{"n": n})
			count := f.env.Bun.DBStats().Queries - before
			counts[n] = append(counts[n], count)
			frequency[count]++
			resp.Decode(t, &out)
			fxRequireRelations(t, want[:n], out)
		}
	}
	usual := uint32(0)
	for count, k := range frequency {
		if k > frequency[usual] || (k == frequency[usual] && count < usual) {
			usual = count
		}
	}
	t.Logf("SQL statements per operation, by page size: %v", counts)
	require.LessOrEqual(t, usual, uint32(8), "statements per operation: %v", counts)
	for n, cs := range counts {
		require.Contains(t, cs, usual, "page size %d never costs the %d statements other sizes do: %v", n, usual, counts)
	}
}

// fxRequireRelations asserts that out lists the seeded accounts of want, in order, with their
// owners, teams and first five contacts.
func fxRequireRelations(t *testing.T, want []fxSeeded, out fxRelations) {
	t.Helper()
	require.Len(t, out.Accounts.Edges, len(want))
	for i, e := range out.Accounts.Edges {
		node := e.Node
		require.NotNil(t, node.Owner, "account %d", i)
		require.Equal(t, want[i].owner, node.Owner.Name, "account %d owner", i)
		var team []string
		for _, m := range node.Team {
			team = append(team, m.User.Name)
		}
		require.Equal(t, want[i].team, team, "account %d team, in role order", i)
		var emails []string
		for _, c := range node.Contacts.Edges {
			emails = append(emails, c.Node.Email)
		}
		require.Equal(t, want[i].contacts, emails, "account %d: its first five contacts", i)
	}
}
