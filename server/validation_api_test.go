package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

// Helpers shared by the validation, pagination, events, limits and dataloader API tests. Their
// names start with fx so they do not collide with other test files of the package.

// fx is one workspace driven through the API by its admin.
type fx struct {
	t     testing.TB
	env   *servertest.Env
	ws    *servertest.Workspace
	token string
}

// newFx starts a server (with opts) and a workspace on it.
func newFx(t testing.TB, opts ...servertest.Option) *fx {
	t.Helper()
	env := servertest.New(t, opts...)
	return fxOn(t, env)
}

// fxOn makes a new workspace on a running server.
func fxOn(t testing.TB, env *servertest.Env) *fx {
	t.Helper()
	ws := env.NewWorkspace(t)
	return &fx{t: t, env: env, ws: ws, token: ws.AdminToken}
}

// do runs one operation as the workspace admin.
func (f *fx) do(query string, vars map[string]any) *servertest.Response {
	f.t.Helper()
	return f.env.Do(f.t, f.token, query, vars)
}

// fxAccount is an Account as the tests read it.
type fxAccount struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Domain         *string    `json:"domain"`
	ExternalID     *string    `json:"externalId"`
	Stage          string     `json:"stage"`
	HealthScore    *int       `json:"healthScore"`
	RenewalDate    *string    `json:"renewalDate"`
	Tags           []string   `json:"tags"`
	LastLoginAt    *time.Time `json:"lastLoginAt"`
	LastActivityAt *time.Time `json:"lastActivityAt"`
	CreatedAt      time.Time  `json:"createdAt"`
	ArchivedAt     *time.Time `json:"archivedAt"`
	Owner          *struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"owner"`
}

// fxAccountFields selects every fxAccount field.
const fxAccountFields = `id name domain externalId stage healthScore renewalDate tags lastLoginAt lastActivityAt createdAt archivedAt owner { id name }`

const fxCreateAccountOp = `mutation($in: CreateAccountInput!) { createAccount(input: $in) { ` + fxAccountFields + ` } }`

// createAccount creates an account from input and fails the test if it cannot.
func (f *fx) createAccount(input map[string]any) fxAccount {
	f.t.Helper()
	var out struct {
		CreateAccount fxAccount `json:"createAccount"`
	}
	f.do(fxCreateAccountOp, map[string]any{"in": input}).Decode(f.t, &out)
	return out.CreateAccount
}

// createContact adds a contact and returns its id.
func (f *fx) createContact(accountID, name, email string) string {
	f.t.Helper()
	var out struct {
		CreateContact struct {
			ID string `json:"id"`
		} `json:"createContact"`
	}
	f.do(`mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"accountId": accountID, "name": name, "email": email}}).Decode(f.t, &out)
	return out.CreateContact.ID
}

// teamRoleIDs returns the workspace's team role ids in display order.
func (f *fx) teamRoleIDs() []string {
	f.t.Helper()
	var out struct {
		TeamRoles []struct {
			ID string `json:"id"`
		} `json:"teamRoles"`
	}
	f.do(`{ teamRoles { id } }`, nil).Decode(f.t, &out)
	ids := make([]string, len(out.TeamRoles))
	for i, r := range out.TeamRoles {
		ids[i] = r.ID
	}
	return ids
}

// fxID builds a global id the way graph/id.go documents it: base64url("Kind:uuid").
func fxID(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}

// fxDBID decodes a global id of kind back to its uuid.
func fxDBID(t testing.TB, kind, id string) uuid.UUID {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(id)
	require.NoError(t, err)
	k, rest, ok := strings.Cut(string(raw), ":")
	require.True(t, ok)
	require.Equal(t, kind, k)
	return uuid.MustParse(rest)
}

// fxLeaks are strings that betray SQL, driver or Go internals in a client message.
var fxLeaks = []string{"SELECT", "INSERT", "UPDATE ", "pq:", "SQLSTATE", "bun:", ".go:", "pgx", "violates", "internal error"}

// fxRequireError asserts resp failed with one error of code (and extensions.field, when
// field is not empty), with a message that is clear and leaks nothing, and no data.
func fxRequireError(t testing.TB, resp *servertest.Response, code, field string) servertest.Error {
	t.Helper()
	require.Len(t, resp.Errors, 1, "want one error, got data %s errors %+v", resp.Data, resp.Errors)
	e := resp.Errors[0]
	require.Equal(t, code, resp.Code(), "error: %+v", e)
	if field != "" {
		require.Equal(t, field, resp.Field(), "error: %+v", e)
		require.True(t, strings.HasPrefix(e.Message, field+": "), "the message names the field: %q", e.Message)
		require.Greater(t, len(e.Message), len(field)+len(": ")+3, "the message says what is wrong: %q", e.Message)
	}
	require.NotEmpty(t, e.Message)
	for _, leak := range fxLeaks {
		require.NotContains(t, e.Message, leak, "the message leaks internals")
	}
	if len(resp.Data) > 0 && string(resp.Data) != "null" {
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(resp.Data, &fields))
		for name, v := range fields {
			require.Equal(t, "null", string(v), "field %s has data", name)
		}
	}
	return e
}

// fxState is everything a workspace holds that the account API can change, read from the
// database: any write at all (even one that only bumps updated_at) shows as a difference.
type fxState struct {
	Accounts []db.Account
	Contacts []db.Contact
	Timeline []db.TimelineEntry
	Events   []db.Event
	Team     []db.AccountTeamMember
}

func (f *fx) state() fxState {
	f.t.Helper()
	ctx := context.Background()
	var s fxState
	tn, b := f.ws.Tenant, f.env.Bun
	require.NoError(f.t, tn.Select(b, &s.Accounts).OrderExpr("a.id").Scan(ctx))
	require.NoError(f.t, tn.Select(b, &s.Contacts).OrderExpr("c.id").Scan(ctx))
	require.NoError(f.t, tn.Select(b, &s.Timeline).OrderExpr("te.id").Scan(ctx))
	require.NoError(f.t, tn.Select(b, &s.Events).OrderExpr("e.id").Scan(ctx))
	require.NoError(f.t, tn.Select(b, &s.Team).OrderExpr("atm.account_id, atm.team_role_id, atm.user_id").Scan(ctx))
	return s
}

// requireUnchanged asserts the workspace is exactly as it was in before.
func (f *fx) requireUnchanged(before fxState) {
	f.t.Helper()
	after := f.state()
	require.Len(f.t, after.Accounts, len(before.Accounts), "accounts")
	require.Len(f.t, after.Contacts, len(before.Contacts), "contacts")
	require.Len(f.t, after.Timeline, len(before.Timeline), "timeline entries")
	require.Len(f.t, after.Events, len(before.Events), "events")
	require.Len(f.t, after.Team, len(before.Team), "team members")
	want, err := json.Marshal(before)
	require.NoError(f.t, err)
	got, err := json.Marshal(after)
	require.NoError(f.t, err)
	require.JSONEq(f.t, string(want), string(got), "no row changed")
}

// fxInvalidCase is one refused operation.
type fxInvalidCase struct {
	name  string
	query string
	vars  map[string]any
	code  string
	field string
}

func TestValidationRefusesBadInputAndChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFx(t)

	member, _ := f.ws.AddUser(t, db.RoleCSM)
	stranger := newFx(t)
	acme := f.createAccount(map[string]any{"name": "Acme", "externalId": "crm-acme", "domain": "acme.example", "healthScore": 70})
	globex := f.createAccount(map[string]any{"name": "Globex", "externalId": "crm-globex"})
	archived := f.createAccount(map[string]any{"name": "Gone"})
	f.do(`mutation($id: ID!) { archiveAccount(id: $id) { id } }`, map[string]any{"id": archived.ID}).Decode(t, &struct{}{})
	ana := f.createContact(acme.ID, "Ana", "ana@acme.example")
	f.createContact(acme.ID, "Bo", "bo@acme.example")
	roles := f.teamRoleIDs()
	memberID, adminID := fxID("User", member), fxID("User", f.ws.AdminID)
	strangerID := fxID("User", stranger.ws.AdminID)
	f.do(`mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`,
		map[string]any{"a": acme.ID, "m": []any{map[string]any{"teamRoleId": roles[0], "userId": adminID}}}).Decode(t, &struct{}{})
	now := time.Now().UTC()
	f.do(`mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted } }`, map[string]any{"e": []any{
		map[string]any{"clientEventId": "seed-1", "accountId": acme.ID, "name": "login", "occurredAt": now.Add(-time.Hour)},
	}}).Decode(t, &struct{}{})

	const (
		create    = `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`
		update    = `mutation($id: ID!, $in: AccountInput!) { updateAccount(id: $id, input: $in) { id } }`
		contact   = `mutation($in: CreateContactInput!) { createContact(input: $in) { id } }`
		updateCt  = `mutation($id: ID!, $in: UpdateContactInput!) { updateContact(id: $id, input: $in) { id } }`
		timeline  = `mutation($in: TimelineEntryInput!) { addTimelineEntry(input: $in) { id } }`
		team      = `mutation($a: ID!, $m: [TeamMemberInput!]!) { setAccountTeam(accountId: $a, members: $m) { id } }`
		events    = `mutation($e: [EventInput!]!) { recordEvents(events: $e) { accepted duplicates } }`
		badInput  = "BAD_USER_INPUT"
		conflict  = "CONFLICT"
		notFound  = "NOT_FOUND"
		invalidOp = "GRAPHQL_VALIDATION_FAILED"
		parse     = "GRAPHQL_PARSE_FAILED"
	)
	named := func(extra map[string]any) map[string]any {
		in := map[string]any{"name": "New account"}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	upd := func(id string, in map[string]any) map[string]any { return map[string]any{"id": id, "in": in} }
	tags := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("tag-%d", i)
		}
		return out
	}
	newContact := func(extra map[string]any) map[string]any {
		in := map[string]any{"accountId": acme.ID, "name": "Cy", "email": "cy@acme.example"}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	entry := func(extra map[string]any) map[string]any {
		in := map[string]any{"accountId": acme.ID, "kind": "NOTE", "body": "Kick-off call"}
		for k, v := range extra {
			in[k] = v
		}
		return map[string]any{"in": in}
	}
	// batch is three events of which only the third is bad.
	batch := func(third map[string]any) map[string]any {
		ev := func(id string) map[string]any {
			return map[string]any{"clientEventId": id, "accountId": globex.ID, "name": "login", "occurredAt": now.Add(-time.Minute)}
		}
		bad := ev("batch-3")
		for k, v := range third {
			if v == nil {
				delete(bad, k)
			} else {
				bad[k] = v
			}
		}
		return map[string]any{"e": []any{ev("batch-1"), ev("batch-2"), bad}}
	}
	member2 := func(role, user string) map[string]any { return map[string]any{"teamRoleId": role, "userId": user} }

	cases := []fxInvalidCase{
		// createAccount: the domain's rules.
		{"create: name too long", create, named(map[string]any{"name": strings.Repeat("n", 201)}), badInput, "input.name"},
		{"create: empty name", create, named(map[string]any{"name": ""}), badInput, "input.name"},
		{"create: blank name", create, named(map[string]any{"name": "   "}), badInput, "input.name"},
		{"create: health 101", create, named(map[string]any{"healthScore": 101}), badInput, "input.healthScore"},
		{"create: health -1", create, named(map[string]any{"healthScore": -1}), badInput, "input.healthScore"},
		{"create: negative ARR", create, named(map[string]any{"arrMinor": -100}), badInput, "input.arrMinor"},
		{"create: lower-case currency", create, named(map[string]any{"arrCurrency": "usd"}), badInput, "input.arrCurrency"},
		{"create: bad domain", create, named(map[string]any{"domain": "not a domain"}), badInput, "input.domain"},
		{"create: domain with a path", create, named(map[string]any{"domain": "acme.example/x"}), badInput, "input.domain"},
		{"create: custom attributes array", create, named(map[string]any{"customAttributes": []any{1, 2}}), badInput, "input.customAttributes"},
		{"create: custom attributes string", create, named(map[string]any{"customAttributes": "tier=gold"}), badInput, "input.customAttributes"},
		{"create: 51 tags", create, named(map[string]any{"tags": tags(51)}), badInput, "input.tags"},
		{"create: blank tag", create, named(map[string]any{"tags": []string{"ok", " "}}), badInput, "input.tags"},
		{"create: renewal 2026-13-45", create, named(map[string]any{"renewalDate": "2026-13-45"}), badInput, "input.renewalDate"},
		{"create: renewal as a timestamp", create, named(map[string]any{"renewalDate": "2026-01-02T00:00:00Z"}), badInput, "input.renewalDate"},
		{"create: renewal literal", `mutation { createAccount(input: {name: "X", renewalDate: "2026-13-45"}) { id } }`, nil, badInput, "input.renewalDate"},
		{"create: duplicate externalId", create, named(map[string]any{"externalId": "crm-acme"}), conflict, "input.externalId"},
		{"create: owner not a global id", create, named(map[string]any{"ownerId": "not-an-id"}), badInput, "input.ownerId"},
		{"create: owner is an account id", create, named(map[string]any{"ownerId": acme.ID}), badInput, "input.ownerId"},
		{"create: owner of another workspace", create, named(map[string]any{"ownerId": strangerID}), badInput, "input.ownerId"},
		{"create: bad enum variable", create, named(map[string]any{"stage": "WON"}), invalidOp, ""},
		{"create: bad enum literal", `mutation { createAccount(input: {name: "X", stage: WON}) { id } }`, nil, invalidOp, ""},
		{"create: unknown input field", create, named(map[string]any{"color": "red"}), invalidOp, ""},
		{"create: name missing", create, map[string]any{"in": map[string]any{"domain": "x.example"}}, invalidOp, ""},
		{"create: health as a string", create, named(map[string]any{"healthScore": "high"}), invalidOp, ""},
		{"create: health as a fraction", create, named(map[string]any{"healthScore": 50.5}), invalidOp, ""},
		{"create: input not an object", create, map[string]any{"in": "Acme"}, invalidOp, ""},
		{"create: variable of the wrong type", `mutation($n: Int!) { createAccount(input: {name: $n}) { id } }`, map[string]any{"n": 1}, invalidOp, ""},
		{"create: unknown selection", `mutation { createAccount(input: {name: "X"}) { id colour } }`, nil, invalidOp, ""},
		{"create: malformed syntax", `mutation { createAccount(input: {name: "X"} { id }`, nil, parse, ""},
		{"create: unterminated string", `mutation { createAccount(input: {name: "X}) { id } }`, nil, parse, ""},

		// updateAccount: the same rules, and the target must exist.
		{"update: empty name", update, upd(acme.ID, map[string]any{"name": ""}), badInput, "input.name"},
		{"update: name too long", update, upd(acme.ID, map[string]any{"name": strings.Repeat("n", 201)}), badInput, "input.name"},
		{"update: health 101", update, upd(acme.ID, map[string]any{"healthScore": 101}), badInput, "input.healthScore"},
		{"update: negative ARR", update, upd(acme.ID, map[string]any{"arrMinor": -1}), badInput, "input.arrMinor"},
		{"update: currency usd", update, upd(acme.ID, map[string]any{"arrCurrency": "usd"}), badInput, "input.arrCurrency"},
		{"update: bad domain", update, upd(acme.ID, map[string]any{"domain": "-acme.example"}), badInput, "input.domain"},
		{"update: custom attributes array", update, upd(acme.ID, map[string]any{"customAttributes": []any{"a"}}), badInput, "input.customAttributes"},
		{"update: 51 tags", update, upd(acme.ID, map[string]any{"tags": tags(51)}), badInput, "input.tags"},
		{"update: renewal 2026-13-45", update, upd(acme.ID, map[string]any{"renewalDate": "2026-13-45"}), badInput, "input.renewalDate"},
		{"update: duplicate externalId", update, upd(globex.ID, map[string]any{"externalId": "crm-acme"}), conflict, "input.externalId"},
		{"update: blank externalId", update, upd(globex.ID, map[string]any{"externalId": " "}), badInput, "input.externalId"},
		{"update: owner of another kind", update, upd(acme.ID, map[string]any{"ownerId": ana}), badInput, "input.ownerId"},
		{"update: valid name, bad health", update, upd(acme.ID, map[string]any{"name": "Renamed", "healthScore": 101}), badInput, "input.healthScore"},
		{"update: bad enum", update, upd(acme.ID, map[string]any{"stage": "won"}), invalidOp, ""},
		{"update: id not a global id", update, upd("12345", map[string]any{"name": "X"}), notFound, ""},
		{"update: id of a contact", update, upd(ana, map[string]any{"name": "X"}), notFound, ""},
		{"update: unknown account", update, upd(fxID("Account", uuid.New()), map[string]any{"name": "X"}), notFound, ""},
		{"update: account of another workspace", update, upd(fxID("Account", stranger.createAccount(map[string]any{"name": "Theirs"}).dbID(t)), map[string]any{"name": "X"}), notFound, ""},

		// createContact and updateContact.
		{"contact: bad email", contact, newContact(map[string]any{"email": "not-an-email"}), badInput, "input.email"},
		{"contact: email with a display name", contact, newContact(map[string]any{"email": "Cy <cy@acme.example>"}), badInput, "input.email"},
		{"contact: duplicate email", contact, newContact(map[string]any{"email": "ANA@acme.example"}), conflict, "input.email"},
		{"contact: empty name", contact, newContact(map[string]any{"name": ""}), badInput, "input.name"},
		{"contact: title too long", contact, newContact(map[string]any{"title": strings.Repeat("t", 201)}), badInput, "input.title"},
		{"contact: custom attributes array", contact, newContact(map[string]any{"customAttributes": []any{}}), badInput, "input.customAttributes"},
		{"contact: account id garbage", contact, newContact(map[string]any{"accountId": "%%%"}), badInput, "input.accountId"},
		{"contact: account id of a user", contact, newContact(map[string]any{"accountId": memberID}), badInput, "input.accountId"},
		{"contact: unknown account", contact, newContact(map[string]any{"accountId": fxID("Account", uuid.New())}), badInput, "input.accountId"},
		{"contact: archived account", contact, newContact(map[string]any{"accountId": archived.ID}), badInput, "input.accountId"},
		{"contact: email missing", contact, map[string]any{"in": map[string]any{"accountId": acme.ID, "name": "Cy"}}, invalidOp, ""},
		{"update contact: bad email", updateCt, upd(ana, map[string]any{"email": "ana@"}), badInput, "input.email"},
		{"update contact: duplicate email", updateCt, upd(ana, map[string]any{"email": "Bo@Acme.example"}), conflict, "input.email"},
		{"update contact: blank name", updateCt, upd(ana, map[string]any{"name": " "}), badInput, "input.name"},
		{"update contact: id of an account", updateCt, upd(acme.ID, map[string]any{"name": "X"}), notFound, ""},

		// addTimelineEntry.
		{"timeline: empty body", timeline, entry(map[string]any{"body": "  "}), badInput, "input.body"},
		{"timeline: body too long", timeline, entry(map[string]any{"body": strings.Repeat("b", 20_001)}), badInput, "input.body"},
		{"timeline: bad kind", timeline, entry(map[string]any{"kind": "TWEET"}), invalidOp, ""},
		{"timeline: bad time", timeline, entry(map[string]any{"occurredAt": "yesterday"}), badInput, "input.occurredAt"},
		{"timeline: account id of a contact", timeline, entry(map[string]any{"accountId": ana}), badInput, "input.accountId"},
		{"timeline: unknown account", timeline, entry(map[string]any{"accountId": fxID("Account", uuid.New())}), badInput, "input.accountId"},

		// setAccountTeam: a refused team leaves the old one.
		{"team: unknown role", team, map[string]any{"a": acme.ID, "m": []any{member2(roles[1], memberID), member2(fxID("TeamRole", uuid.New()), memberID)}}, badInput, "members[1].teamRoleId"},
		{"team: role id of a user", team, map[string]any{"a": acme.ID, "m": []any{member2(memberID, memberID)}}, badInput, "members[0].teamRoleId"},
		{"team: user of another workspace", team, map[string]any{"a": acme.ID, "m": []any{member2(roles[0], memberID), member2(roles[1], strangerID)}}, badInput, "members[1].userId"},
		{"team: user id garbage", team, map[string]any{"a": acme.ID, "m": []any{member2(roles[0], "me")}}, badInput, "members[0].userId"},
		{"team: account id of a contact", team, map[string]any{"a": ana, "m": []any{}}, notFound, ""},
		{"team: member missing a field", team, map[string]any{"a": acme.ID, "m": []any{map[string]any{"teamRoleId": roles[0]}}}, invalidOp, ""},

		// recordEvents: a bad third event refuses the whole batch.
		{"events: third in the far future", events, batch(map[string]any{"occurredAt": now.Add(48 * time.Hour)}), badInput, "events[2].occurredAt"},
		{"events: third with a bad time", events, batch(map[string]any{"occurredAt": "last tuesday"}), badInput, "events[2].occurredAt"},
		{"events: third for an unknown externalId", events, batch(map[string]any{"accountId": nil, "accountExternalId": "crm-nobody"}), badInput, "events[2].accountExternalId"},
		{"events: third with both account keys", events, batch(map[string]any{"accountExternalId": "crm-globex"}), badInput, "events[2].accountId"},
		{"events: third with an account id of a contact", events, batch(map[string]any{"accountId": ana}), badInput, "events[2].accountId"},
		{"events: third with an unknown contact", events, batch(map[string]any{"contactEmail": "nobody@globex.example"}), badInput, "events[2].contactEmail"},
		{"events: third with a blank name", events, batch(map[string]any{"name": " "}), badInput, "events[2].name"},
		{"events: third with array properties", events, batch(map[string]any{"properties": []any{1}}), badInput, "events[2].properties"},
		{"events: third with no client id", events, batch(map[string]any{"clientEventId": ""}), badInput, "events[2].clientEventId"},
		{"events: third missing occurredAt", events, batch(map[string]any{"occurredAt": nil}), invalidOp, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.state()
			resp := f.do(tc.query, tc.vars)
			fxRequireError(t, resp, tc.code, tc.field)
			f.requireUnchanged(before)
		})
	}

	// The fixtures themselves still read back as they were made.
	var out struct {
		Account fxAccount `json:"account"`
	}
	f.do(`query($id: ID!) { account(id: $id) { `+fxAccountFields+` } }`, map[string]any{"id": acme.ID}).Decode(t, &out)
	require.Equal(t, "Acme", out.Account.Name)
	require.Equal(t, 70, *out.Account.HealthScore)
}

// dbID is the account's database id.
func (a fxAccount) dbID(t testing.TB) uuid.UUID { return fxDBID(t, "Account", a.ID) }

func TestValidationAcceptsBoundaryValues(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	// The edges of each rule are accepted, so the refusals above are the rules and not an
	// accident of the fixture.
	a := f.createAccount(map[string]any{
		"name": strings.Repeat("n", 200), "healthScore": 100, "arrMinor": 0, "arrCurrency": "EUR",
		"domain": "Sub.Acme.Example", "tags": func() []string {
			out := make([]string, 50)
			for i := range out {
				out[i] = fmt.Sprintf("t%d", i)
			}
			return out
		}(), "customAttributes": map[string]any{}, "renewalDate": "2028-02-29",
	})
	require.Equal(t, 100, *a.HealthScore)
	require.Equal(t, "sub.acme.example", *a.Domain)
	require.Equal(t, "2028-02-29", *a.RenewalDate)
	require.Len(t, a.Tags, 50)
	b := f.createAccount(map[string]any{"name": "Zero", "healthScore": 0})
	require.Equal(t, 0, *b.HealthScore)
	f.createContact(a.ID, "Ana", "ana@acme.example")
	f.createContact(b.ID, "Ana", "ana@acme.example") // the same email on another account is fine
}
