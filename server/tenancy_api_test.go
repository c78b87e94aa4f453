package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

// tenantFixture is a workspace filled through the API with one of everything that has an id.
type tenantFixture struct {
	ws *servertest.Workspace
	// Global ids.
	user      string // a CSM
	admin     string
	workspace string
	account   string
	contact   string
	entry     string
	apiKey    string
	teamRoles []string
	// Other keys and names.
	externalID  string // the account's
	accountName string
	email       string // the contact's
	keySecret   string // of apiKey: WRITE and EVENTS_WRITE
}

// newTenant creates a workspace with a CSM, an account owned by and staffed with the CSM, a
// contact, a timeline entry, recorded events and an API key.
func newTenant(t *testing.T, env *servertest.Env) *tenantFixture {
	t.Helper()
	ws := env.NewWorkspace(t)
	tn := &tenantFixture{
		ws: ws, externalID: "crm-" + uuid.NewString(), accountName: "Acme " + uuid.NewString()[:8],
		email: "carla-" + uuid.NewString()[:8] + "@example.test",
	}
	userID, _ := ws.AddUser(t, db.RoleCSM)
	tn.user = nodeID("User", userID)
	tn.admin = nodeID("User", ws.AdminID)

	var meta struct {
		Me struct {
			Workspace struct {
				ID        string `json:"id"`
				TeamRoles []struct {
					ID string `json:"id"`
				} `json:"teamRoles"`
			} `json:"workspace"`
		} `json:"me"`
	}
	env.Do(t, ws.AdminToken, `{ me { workspace { id teamRoles { id } } } }`, nil).Decode(t, &meta)
	tn.workspace = meta.Me.Workspace.ID
	for _, r := range meta.Me.Workspace.TeamRoles {
		tn.teamRoles = append(tn.teamRoles, r.ID)
	}
	require.NotEmpty(t, tn.teamRoles)

	var acct struct {
		CreateAccount struct {
			ID string `json:"id"`
		} `json:"createAccount"`
	}
	env.Do(t, ws.AdminToken, createAccountOp, map[string]any{"in": map[string]any{
		"name": tn.accountName, "domain": "acme-" + uuid.NewString()[:8] + ".example", "externalId": tn.externalID,
		"ownerId": tn.user, "tags": []string{"vip"}, "healthScore": 70, "arrMinor": 1200000,
	}}).Decode(t, &acct)
	tn.account = acct.CreateAccount.ID

	env.Do(t, ws.AdminToken, `mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
		map[string]any{"a": tn.account, "m": []map[string]any{{"teamRoleId": tn.teamRoles[0], "userId": tn.user}}}).Decode(t, &struct{}{})

	var contact struct {
		CreateContact struct {
			ID string `json:"id"`
		} `json:"createContact"`
	}
	env.Do(t, ws.AdminToken, `mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"accountId": tn.account, "name": "Carla Contact", "email": tn.email, "title": "CTO"}}).Decode(t, &contact)
	tn.contact = contact.CreateContact.ID

	var entry struct {
		AddTimelineEntry struct {
			ID string `json:"id"`
		} `json:"addTimelineEntry"`
	}
	env.Do(t, ws.AdminToken, `mutation($in: TimelineEntryInput!) { addTimelineEntry(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"accountId": tn.account, "kind": "NOTE", "body": "Kickoff went well"}}).Decode(t, &entry)
	tn.entry = entry.AddTimelineEntry.ID

	key, secret := createAPIKey(t, env, ws.AdminToken, "partner sync", "WRITE", "EVENTS_WRITE")
	tn.apiKey, tn.keySecret = key.ID, secret

	env.Do(t, secret, `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []map[string]any{{
		"clientEventId": "seed-1", "accountId": tn.account, "contactEmail": tn.email, "name": "login",
		"occurredAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
	}}}).Decode(t, &struct{}{})
	return tn
}

// tenantSnapshotOp reads everything of a workspace that a cross-tenant call could change. It
// leaves out ApiKey.lastUsedAt, which using a key changes by design.
const tenantSnapshotOp = `query($account: ID!, $contact: ID!, $entry: ID!) {
	me { workspace { id name teamRoles { id key name } } }
	accounts(first: 50, filter: {includeArchived: true}) { totalCount edges { node { ...acct } } }
	account(id: $account) { ...acct }
	contact(id: $contact) { ...contact account { id } }
	node(id: $entry) { ... on TimelineEntry { id kind body occurredAt createdAt author { id } account { id } } }
	users { id email name role disabled }
	apiKeys { id name prefix scopes createdAt revokedAt }
}
fragment contact on Contact {
	id name email title persona lastSeenAt emailOptOut customAttributes createdAt updatedAt archivedAt
}
fragment acct on Account {
	id name domain externalId owner { id } team { role { id } user { id } } stage
	arr { amountMinor currency } renewalDate healthScore tags customAttributes
	lastLoginAt lastActivityAt createdAt updatedAt archivedAt
	contacts(first: 10) { totalCount edges { node { ...contact } } }
	timeline(first: 10) { edges { node { id kind body occurredAt } } }
}`

// snapshot reads tn's data with its own admin token.
func (tn *tenantFixture) snapshot(t *testing.T, env *servertest.Env) string {
	t.Helper()
	resp := env.Do(t, tn.ws.AdminToken, tenantSnapshotOp, map[string]any{"account": tn.account, "contact": tn.contact, "entry": tn.entry})
	require.Empty(t, resp.Errors, "snapshot failed")
	return string(resp.Data)
}

// crossTenantCase is one operation called by workspace A with an id of workspace B, and again
// with a made-up id of the same kind; both answers must be identical.
type crossTenantCase struct {
	name  string
	query string
	// vars builds the variables from A's and B's ids.
	vars func(a, b *tenantFixture) map[string]any
	// code and field are the expected error (field only for BAD_USER_INPUT).
	code, field string
	// adminOnly operations are closed to API keys.
	adminOnly bool
}

// madeUp returns a fixture whose ids are of the right kinds but name nothing.
func madeUp() *tenantFixture {
	return &tenantFixture{
		user:       nodeID("User", uuid.New()),
		admin:      nodeID("User", uuid.New()),
		workspace:  nodeID("Workspace", uuid.New()),
		account:    nodeID("Account", uuid.New()),
		externalID: "crm-" + uuid.NewString(),
		contact:    nodeID("Contact", uuid.New()),
		email:      "nobody-" + uuid.NewString()[:8] + "@example.test",
		entry:      nodeID("TimelineEntry", uuid.New()),
		apiKey:     nodeID("ApiKey", uuid.New()),
		teamRoles:  []string{nodeID("TeamRole", uuid.New())},
	}
}

func crossTenantCases() []crossTenantCase {
	id := func(pick func(*tenantFixture) string) func(a, b *tenantFixture) map[string]any {
		return func(_, b *tenantFixture) map[string]any { return map[string]any{"id": pick(b)} }
	}
	node := `query($id: ID!) { node(id: $id) { id } }`
	now := time.Now().UTC().Format(time.RFC3339)
	return []crossTenantCase{
		// Queries.
		{name: "account", query: `query($id: ID!) { account(id: $id) { id name } }`, vars: id(func(b *tenantFixture) string { return b.account }), code: "NOT_FOUND"},
		{name: "accountByExternalId", query: `query($id: String!) { accountByExternalId(externalId: $id) { id name } }`, vars: id(func(b *tenantFixture) string { return b.externalID }), code: "NOT_FOUND"},
		{name: "contact", query: `query($id: ID!) { contact(id: $id) { id name email } }`, vars: id(func(b *tenantFixture) string { return b.contact }), code: "NOT_FOUND"},
		{name: "node Account", query: node, vars: id(func(b *tenantFixture) string { return b.account }), code: "NOT_FOUND"},
		{name: "node Contact", query: node, vars: id(func(b *tenantFixture) string { return b.contact }), code: "NOT_FOUND"},
		{name: "node TimelineEntry", query: node, vars: id(func(b *tenantFixture) string { return b.entry }), code: "NOT_FOUND"},
		{name: "node User", query: node, vars: id(func(b *tenantFixture) string { return b.user }), code: "NOT_FOUND"},
		{name: "node ApiKey", query: node, vars: id(func(b *tenantFixture) string { return b.apiKey }), code: "NOT_FOUND", adminOnly: true},
		{name: "node TeamRole", query: node, vars: id(func(b *tenantFixture) string { return b.teamRoles[0] }), code: "NOT_FOUND"},
		{name: "node Workspace", query: node, vars: id(func(b *tenantFixture) string { return b.workspace }), code: "NOT_FOUND"},

		// Account mutations on B's account.
		{name: "updateAccount", query: `mutation($id: ID!) { updateAccount(id: $id, input: {name: "Hijacked", healthScore: 1}) { id name } }`,
			vars: id(func(b *tenantFixture) string { return b.account }), code: "NOT_FOUND"},
		{name: "archiveAccount", query: `mutation($id: ID!) { archiveAccount(id: $id) { id archivedAt } }`,
			vars: id(func(b *tenantFixture) string { return b.account }), code: "NOT_FOUND"},
		{name: "setAccountOwner B account, A user", query: `mutation($a: ID!, $u: ID) { setAccountOwner(accountId: $a, userId: $u) { id } }`,
			vars: func(a, b *tenantFixture) map[string]any { return map[string]any{"a": b.account, "u": a.user} }, code: "NOT_FOUND"},
		{name: "setAccountOwner B account, null", query: `mutation($a: ID!) { setAccountOwner(accountId: $a, userId: null) { id } }`,
			vars: func(_, b *tenantFixture) map[string]any { return map[string]any{"a": b.account} }, code: "NOT_FOUND"},
		{name: "setAccountTeam B account, A members", query: `mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
			vars: func(a, b *tenantFixture) map[string]any {
				return map[string]any{"a": b.account, "m": []map[string]any{{"teamRoleId": a.teamRoles[1], "userId": a.user}}}
			}, code: "NOT_FOUND"},
		{name: "setAccountTeam B account, empty team", query: `mutation($a: ID!) { setAccountTeam(accountId: $a, members: []) { id } }`,
			vars: func(_, b *tenantFixture) map[string]any { return map[string]any{"a": b.account} }, code: "NOT_FOUND"},

		// B's ids inside A's operations.
		{name: "setAccountOwner A account, B user", query: `mutation($a: ID!, $u: ID) { setAccountOwner(accountId: $a, userId: $u) { id } }`,
			vars: func(a, b *tenantFixture) map[string]any { return map[string]any{"a": a.account, "u": b.user} }, code: "BAD_USER_INPUT", field: "userId"},
		{name: "setAccountTeam B role", query: `mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
			vars: func(a, b *tenantFixture) map[string]any {
				return map[string]any{"a": a.account, "m": []map[string]any{{"teamRoleId": b.teamRoles[0], "userId": a.user}}}
			}, code: "BAD_USER_INPUT", field: "members[0].teamRoleId"},
		{name: "setAccountTeam B user", query: `mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
			vars: func(a, b *tenantFixture) map[string]any {
				return map[string]any{"a": a.account, "m": []map[string]any{
					{"teamRoleId": a.teamRoles[0], "userId": a.user}, {"teamRoleId": a.teamRoles[1], "userId": b.user},
				}}
			}, code: "BAD_USER_INPUT", field: "members[1].userId"},
		{name: "createAccount with B owner", query: createAccountOp,
			vars: func(_, b *tenantFixture) map[string]any {
				return map[string]any{"in": map[string]any{"name": "New", "ownerId": b.user}}
			},
			code: "BAD_USER_INPUT", field: "input.ownerId"},
		{name: "updateAccount with B owner", query: `mutation($id: ID!, $in: AccountInput!) { updateAccount(id: $id, input: $in) { id } }`,
			vars: func(a, b *tenantFixture) map[string]any {
				return map[string]any{"id": a.account, "in": map[string]any{"ownerId": b.user}}
			},
			code: "BAD_USER_INPUT", field: "input.ownerId"},
		{name: "createContact on B account", query: `mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`,
			vars: func(_, b *tenantFixture) map[string]any {
				return map[string]any{"in": map[string]any{"accountId": b.account, "name": "Mallory", "email": "mallory@example.test"}}
			}, code: "BAD_USER_INPUT", field: "input.accountId"},
		{name: "updateContact", query: `mutation($id: ID!) { updateContact(id: $id, input: {name: "Hijacked", emailOptOut: true}) { id } }`,
			vars: id(func(b *tenantFixture) string { return b.contact }), code: "NOT_FOUND"},
		{name: "archiveContact", query: `mutation($id: ID!) { archiveContact(id: $id) { id } }`,
			vars: id(func(b *tenantFixture) string { return b.contact }), code: "NOT_FOUND"},
		{name: "addTimelineEntry on B account", query: `mutation($in: TimelineEntryInput!) { addTimelineEntry(input: $in) { id } }`,
			vars: func(_, b *tenantFixture) map[string]any {
				return map[string]any{"in": map[string]any{"accountId": b.account, "kind": "CALL", "body": "planted"}}
			}, code: "BAD_USER_INPUT", field: "input.accountId"},
		{name: "recordEvents B accountId", query: `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`,
			vars: func(_, b *tenantFixture) map[string]any {
				return map[string]any{"e": []map[string]any{{"clientEventId": "x-1", "accountId": b.account, "name": "login", "occurredAt": now}}}
			}, code: "BAD_USER_INPUT", field: "events[0].accountId"},
		{name: "recordEvents B externalId", query: `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`,
			vars: func(_, b *tenantFixture) map[string]any {
				return map[string]any{"e": []map[string]any{{"clientEventId": "x-2", "accountExternalId": b.externalID, "name": "login", "occurredAt": now}}}
			}, code: "BAD_USER_INPUT", field: "events[0].accountExternalId"},
		{name: "recordEvents B account among A's", query: `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`,
			vars: func(a, b *tenantFixture) map[string]any {
				return map[string]any{"e": []map[string]any{
					{"clientEventId": "x-3", "accountId": a.account, "name": "login", "occurredAt": now},
					{"clientEventId": "x-4", "accountId": b.account, "name": "login", "occurredAt": now},
				}}
			}, code: "BAD_USER_INPUT", field: "events[1].accountId"},
		{name: "recordEvents B contact email on A account", query: `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`,
			vars: func(a, b *tenantFixture) map[string]any {
				return map[string]any{"e": []map[string]any{{"clientEventId": "x-5", "accountId": a.account, "contactEmail": b.email, "name": "login", "occurredAt": now}}}
			}, code: "BAD_USER_INPUT", field: "events[0].contactEmail"},

		// Administration.
		{name: "setUserRole", query: setRoleOp, vars: func(_, b *tenantFixture) map[string]any { return map[string]any{"id": b.user, "role": "ADMIN"} },
			code: "NOT_FOUND", adminOnly: true},
		{name: "setUserRole B admin", query: setRoleOp, vars: func(_, b *tenantFixture) map[string]any {
			return map[string]any{"id": b.admin, "role": "VIEWER"}
		}, code: "NOT_FOUND", adminOnly: true},
		{name: "disableUser", query: disableOp, vars: id(func(b *tenantFixture) string { return b.user }), code: "NOT_FOUND", adminOnly: true},
		{name: "revokeApiKey", query: `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`,
			vars: id(func(b *tenantFixture) string { return b.apiKey }), code: "NOT_FOUND", adminOnly: true},
	}
}

// sameAnswer asserts that two responses are identical: status, data and errors.
func sameAnswer(t *testing.T, want, got *servertest.Response) {
	t.Helper()
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.Errors, got.Errors)
	norm := func(raw json.RawMessage) string {
		if len(raw) == 0 {
			return "null"
		}
		return string(raw)
	}
	require.JSONEq(t, norm(want.Data), norm(got.Data))
}

func TestCrossTenantIDs(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a, b := newTenant(t, env), newTenant(t, env)
	fake := madeUp()

	callers := []struct {
		name  string
		token string
	}{
		{"admin", a.ws.AdminToken},
		{"api key", a.keySecret},
	}
	// The cases run one after another: each checks that neither workspace changed, which a
	// concurrent case would blur.
	for _, caller := range callers {
		for _, tc := range crossTenantCases() {
			if tc.adminOnly && caller.name != "admin" {
				continue
			}
			t.Run(caller.name+"/"+tc.name, func(t *testing.T) {
				beforeA, beforeB := a.snapshot(t, env), b.snapshot(t, env)

				got := env.Do(t, caller.token, tc.query, tc.vars(a, b))
				gqlErr := requireOnlyError(t, got, tc.code)
				if tc.field != "" {
					require.Equal(t, tc.field, got.Field())
				}
				if tc.code == "NOT_FOUND" {
					require.Equal(t, "not found", gqlErr.Message)
				}
				// Someone else's id answers exactly as an id that names nothing.
				sameAnswer(t, env.Do(t, caller.token, tc.query, tc.vars(a, fake)), got)

				require.Equal(t, beforeB, b.snapshot(t, env), "workspace B changed")
				require.Equal(t, beforeA, a.snapshot(t, env), "workspace A changed")
			})
		}
	}

	// The same ids work for their own workspace, so the cases above are not vacuous.
	t.Run("control: B's ids work for B", func(t *testing.T) {
		node := `query($id: ID!) { node(id: $id) { id } }`
		for _, q := range []struct {
			query  string
			vars   map[string]any
			wantID string
		}{
			{`query($id: ID!) { account(id: $id) { id } }`, map[string]any{"id": b.account}, b.account},
			{`query($id: String!) { accountByExternalId(externalId: $id) { id } }`, map[string]any{"id": b.externalID}, b.account},
			{`query($id: ID!) { contact(id: $id) { id } }`, map[string]any{"id": b.contact}, b.contact},
			{node, map[string]any{"id": b.account}, b.account},
			{node, map[string]any{"id": b.contact}, b.contact},
			{node, map[string]any{"id": b.entry}, b.entry},
			{node, map[string]any{"id": b.user}, b.user},
			{node, map[string]any{"id": b.apiKey}, b.apiKey},
			{node, map[string]any{"id": b.teamRoles[0]}, b.teamRoles[0]},
			{node, map[string]any{"id": b.workspace}, b.workspace},
		} {
			var out map[string]struct {
				ID string `json:"id"`
			}
			env.Do(t, b.ws.AdminToken, q.query, q.vars).Decode(t, &out)
			require.Len(t, out, 1)
			for _, v := range out {
				require.Equal(t, q.wantID, v.ID, "%s %v", q.query, q.vars)
			}
		}
	})
}

func TestUpsertByExternalIDStaysInTenant(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a, b := newTenant(t, env), newTenant(t, env)
	beforeB := b.snapshot(t, env)
	countA := accountCount(t, env, a.ws.AdminToken)

	type acct struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		ExternalID string `json:"externalId"`
		Owner      *struct {
			ID string `json:"id"`
		} `json:"owner"`
	}
	var out struct {
		Upsert acct `json:"upsertAccountByExternalId"`
	}
	env.Do(t, a.ws.AdminToken, `mutation($x: String!) {
		upsertAccountByExternalId(externalId: $x, input: {name: "A's copy", healthScore: 5}) { id name externalId owner { id } }
	}`, map[string]any{"x": b.externalID}).Decode(t, &out)
	require.NotEqual(t, b.account, out.Upsert.ID, "the upsert reached B's account")
	require.Equal(t, "A's copy", out.Upsert.Name)
	require.Equal(t, b.externalID, out.Upsert.ExternalID)
	require.Nil(t, out.Upsert.Owner)
	require.Equal(t, countA+1, accountCount(t, env, a.ws.AdminToken))

	// Each workspace finds its own account under the externalId.
	byExternal := func(token string) acct {
		var out struct {
			Account acct `json:"accountByExternalId"`
		}
		env.Do(t, token, `query($x: String!) { accountByExternalId(externalId: $x) { id name externalId owner { id } } }`,
			map[string]any{"x": b.externalID}).Decode(t, &out)
		return out.Account
	}
	require.Equal(t, out.Upsert.ID, byExternal(a.ws.AdminToken).ID)
	fromB := byExternal(b.ws.AdminToken)
	require.Equal(t, b.account, fromB.ID)
	require.Equal(t, b.accountName, fromB.Name)
	require.Equal(t, beforeB, b.snapshot(t, env), "workspace B changed")

	// A second upsert updates A's copy, still not B's.
	env.Do(t, a.ws.AdminToken, `mutation($x: String!) { upsertAccountByExternalId(externalId: $x, input: {name: "A's copy 2"}) { id name externalId owner { id } } }`,
		map[string]any{"x": b.externalID}).Decode(t, &out)
	require.Equal(t, byExternal(a.ws.AdminToken).ID, out.Upsert.ID)
	require.Equal(t, "A's copy 2", out.Upsert.Name)
	require.Equal(t, countA+1, accountCount(t, env, a.ws.AdminToken))
	require.Equal(t, beforeB, b.snapshot(t, env), "workspace B changed")

	// The same holds for an API key.
	env.Do(t, a.keySecret, `mutation($x: String!) { upsertAccountByExternalId(externalId: $x, input: {name: "A's copy 3"}) { id name externalId owner { id } } }`,
		map[string]any{"x": b.externalID}).Decode(t, &out)
	require.Equal(t, byExternal(a.ws.AdminToken).ID, out.Upsert.ID)
	require.Equal(t, beforeB, b.snapshot(t, env), "workspace B changed")
}

func TestListsDoNotLeak(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a, b := newTenant(t, env), newTenant(t, env)

	const listsOp = `query($owner: ID, $search: String) {
		accounts(first: 100, filter: {includeArchived: true}) { totalCount edges { node { id owner { id } team { role { id } user { id } } } } }
		owned: accounts(filter: {ownerId: $owner, includeArchived: true}) { totalCount edges { node { id } } }
		found: accounts(filter: {search: $search, includeArchived: true}) { totalCount edges { node { id } } }
		users { id }
		teamRoles { id }
		apiKeys { id }
		me { workspace { id teamRoles { id } } }
	}`
	type idOnly struct {
		ID string `json:"id"`
	}
	type conn struct {
		TotalCount int `json:"totalCount"`
		Edges      []struct {
			Node struct {
				ID    string  `json:"id"`
				Owner *idOnly `json:"owner"`
				Team  []struct {
					Role idOnly `json:"role"`
					User idOnly `json:"user"`
				} `json:"team"`
			} `json:"node"`
		} `json:"edges"`
	}
	type lists struct {
		Accounts  conn     `json:"accounts"`
		Owned     conn     `json:"owned"`
		Found     conn     `json:"found"`
		Users     []idOnly `json:"users"`
		TeamRoles []idOnly `json:"teamRoles"`
		APIKeys   []idOnly `json:"apiKeys"`
		Me        struct {
			Workspace struct {
				ID        string   `json:"id"`
				TeamRoles []idOnly `json:"teamRoles"`
			} `json:"workspace"`
		} `json:"me"`
	}
	// ids lists every id a workspace's lists show.
	ids := func(l lists) map[string]bool {
		out := map[string]bool{l.Me.Workspace.ID: true}
		for _, c := range []conn{l.Accounts, l.Owned, l.Found} {
			for _, e := range c.Edges {
				out[e.Node.ID] = true
				if e.Node.Owner != nil {
					out[e.Node.Owner.ID] = true
				}
				for _, m := range e.Node.Team {
					out[m.Role.ID], out[m.User.ID] = true, true
				}
			}
		}
		for _, group := range [][]idOnly{l.Users, l.TeamRoles, l.APIKeys, l.Me.Workspace.TeamRoles} {
			for _, x := range group {
				out[x.ID] = true
			}
		}
		return out
	}
	owns := func(tn *tenantFixture) []string {
		out := []string{tn.workspace, tn.account, tn.user, tn.admin, tn.apiKey}
		return append(out, tn.teamRoles...)
	}

	for _, tc := range []struct {
		name        string
		self, other *tenantFixture
	}{{"A", a, b}, {"B", b, a}} {
		t.Run(tc.name, func(t *testing.T) {
			var l lists
			env.Do(t, tc.self.ws.AdminToken, listsOp, map[string]any{"owner": tc.other.user, "search": tc.other.accountName}).Decode(t, &l)
			seen := ids(l)
			for _, id := range owns(tc.self) {
				require.True(t, seen[id], "own id %s is not listed", id)
			}
			for _, id := range owns(tc.other) {
				require.False(t, seen[id], "the other workspace's id %s is listed", id)
			}
			require.Equal(t, 1, l.Accounts.TotalCount)
			require.Len(t, l.Accounts.Edges, 1)
			require.Zero(t, l.Owned.TotalCount)
			require.Empty(t, l.Owned.Edges)
			require.Zero(t, l.Found.TotalCount)
			require.Empty(t, l.Found.Edges)
			require.Len(t, l.Users, 2)
			require.Len(t, l.APIKeys, 1)
			require.Len(t, l.TeamRoles, len(tc.self.teamRoles))
		})
	}
}
