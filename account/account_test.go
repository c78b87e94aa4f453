package account

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// requireInvalid asserts err is bad input naming field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	in, ok := invalid.As(err)
	require.True(t, ok, "want an invalid error on %s, got %v", field, err)
	require.Equal(t, field, in.Field)
	require.NotEmpty(t, in.Message)
}

// countAccounts counts the tenant's accounts, archived ones included.
func (b *testBundle) countAccounts(t *testing.T) int {
	t.Helper()
	n, err := b.tenant.Select(b.db.Bun, (*db.Account)(nil)).Count(b.ctx)
	require.NoError(t, err)
	return int(n)
}

func TestPatchSemantics(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.createMember(t)
	renewal := time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC)
	full := Patch{
		Domain:      set("Acme.example"),
		ExternalID:  set("crm-1"),
		OwnerID:     set(owner),
		Stage:       ptr("GROWTH"),
		ARRMinor:    ptr(int64(1_200_000)),
		ARRCurrency: ptr("EUR"),
		RenewalDate: set(renewal),
		HealthScore: set(72),
		Tags:        &[]string{"vip"},
		Custom:      ptr(json.RawMessage(`{"tier":"gold"}`)),
	}
	created := b.createAccount(t, accountOpts{Name: "Acme", Patch: full})
	require.Equal(t, "acme.example", *created.Domain, "domains are stored lower-case")

	t.Run("an empty patch changes nothing", func(t *testing.T) {
		before := b.reload(t, created.ID)
		after, err := b.svc.Update(b.ctx, b.tenant, created.ID, Patch{})
		require.NoError(t, err)
		requireSameFields(t, before, after)
		requireSameFields(t, before, b.reload(t, created.ID))
	})

	t.Run("absent fields are left alone", func(t *testing.T) {
		before := b.reload(t, created.ID)
		after, err := b.svc.Update(b.ctx, b.tenant, created.ID, Patch{Name: ptr("  Acme Corp  "), HealthScore: set(40)})
		require.NoError(t, err)
		require.Equal(t, "Acme Corp", after.Name, "the name is trimmed")
		require.Equal(t, 40, *after.HealthScore)
		before.Name, before.HealthScore = after.Name, after.HealthScore
		requireSameFields(t, before, b.reload(t, created.ID))
	})

	t.Run("null clears domain, owner, health score and renewal date", func(t *testing.T) {
		before := b.reload(t, created.ID)
		after, err := b.svc.Update(b.ctx, b.tenant, created.ID, Patch{
			Domain: null[string](), OwnerID: null[uuid.UUID](), HealthScore: null[int](), RenewalDate: null[time.Time](),
		})
		require.NoError(t, err)
		got := b.reload(t, created.ID)
		for _, a := range []*db.Account{after, got} {
			require.Nil(t, a.Domain)
			require.Nil(t, a.OwnerID)
			require.Nil(t, a.HealthScore)
			require.Nil(t, a.RenewalDate)
		}
		before.Domain, before.OwnerID, before.HealthScore, before.RenewalDate = nil, nil, nil, nil
		requireSameFields(t, before, got)
	})

	t.Run("an empty domain clears it too", func(t *testing.T) {
		_, err := b.svc.Update(b.ctx, b.tenant, created.ID, Patch{Domain: set("acme.example")})
		require.NoError(t, err)
		_, err = b.svc.Update(b.ctx, b.tenant, created.ID, Patch{Domain: set("")})
		require.NoError(t, err)
		require.Nil(t, b.reload(t, created.ID).Domain)
	})

	t.Run("values are set again after being cleared", func(t *testing.T) {
		_, err := b.svc.Update(b.ctx, b.tenant, created.ID, Patch{OwnerID: set(owner), HealthScore: set(0), RenewalDate: set(renewal)})
		require.NoError(t, err)
		got := b.reload(t, created.ID)
		require.Equal(t, owner, *got.OwnerID)
		require.Equal(t, 0, *got.HealthScore, "zero is a score, not a clear")
		require.True(t, renewal.Equal(*got.RenewalDate), "renewal date %v", got.RenewalDate)
	})
}

// requireSameFields compares the client-visible fields of two accounts (updated_at aside).
func requireSameFields(t *testing.T, want, got *db.Account) {
	t.Helper()
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.Name, got.Name)
	require.Equal(t, want.Domain, got.Domain)
	require.Equal(t, want.ExternalID, got.ExternalID)
	require.Equal(t, want.OwnerID, got.OwnerID)
	require.Equal(t, want.Stage, got.Stage)
	require.Equal(t, want.ARRMinor, got.ARRMinor)
	require.Equal(t, want.ARRCurrency, got.ARRCurrency)
	require.Equal(t, want.RenewalDate == nil, got.RenewalDate == nil)
	if want.RenewalDate != nil {
		require.True(t, want.RenewalDate.Equal(*got.RenewalDate))
	}
	require.Equal(t, want.HealthScore, got.HealthScore)
	require.Equal(t, want.Tags, got.Tags)
	require.JSONEq(t, string(want.Custom), string(got.Custom))
	require.Equal(t, want.ArchivedAt == nil, got.ArchivedAt == nil)
}

func TestCreateAndUpdateValidate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stranger := uuid.New()
	existing := b.createAccount(t, accountOpts{Patch: Patch{ExternalID: set("taken")}})
	tests := []struct {
		name  string
		patch Patch
		field string
	}{
		{"blank name", Patch{Name: ptr("   ")}, "name"},
		{"name too long", Patch{Name: ptr(strings.Repeat("n", 201))}, "name"},
		{"bad domain", Patch{Domain: set("not a domain")}, "domain"},
		{"domain with scheme", Patch{Domain: set("https://acme.example")}, "domain"},
		{"empty externalId", Patch{ExternalID: set(" ")}, "externalId"},
		{"owner not a member", Patch{OwnerID: set(stranger)}, "ownerId"},
		{"unknown stage", Patch{Stage: ptr("LOST")}, "stage"},
		{"negative ARR", Patch{ARRMinor: ptr(int64(-1))}, "arrMinor"},
		{"lower-case currency", Patch{ARRCurrency: ptr("usd")}, "arrCurrency"},
		{"health 101", Patch{HealthScore: set(101)}, "healthScore"},
		{"health -1", Patch{HealthScore: set(-1)}, "healthScore"},
		{"custom array", Patch{Custom: ptr(json.RawMessage(`[1,2]`))}, "customAttributes"},
		{"custom null", Patch{Custom: ptr(json.RawMessage(`null`))}, "customAttributes"},
		{"custom too big", Patch{Custom: ptr(json.RawMessage(`{"a":"` + strings.Repeat("x", 16<<10) + `"}`))}, "customAttributes"},
		{"duplicate externalId", Patch{ExternalID: set("taken")}, "externalId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := b.countAccounts(t)
			p := tt.patch
			if p.Name == nil {
				p.Name = ptr("Valid name")
			}
			_, err := b.svc.Create(b.ctx, b.tenant, p)
			requireInvalid(t, err, tt.field)
			require.Equal(t, before, b.countAccounts(t), "nothing is created")

			target := b.createAccount(t, accountOpts{})
			was := b.reload(t, target.ID)
			_, err = b.svc.Update(b.ctx, b.tenant, target.ID, tt.patch)
			requireInvalid(t, err, tt.field)
			requireSameFields(t, was, b.reload(t, target.ID))
		})
	}

	t.Run("a duplicate externalId is a conflict", func(t *testing.T) {
		_, err := b.svc.Create(b.ctx, b.tenant, Patch{Name: ptr("Dup"), ExternalID: set("taken")})
		require.ErrorIs(t, err, db.ErrConflict)
		other := b.createAccount(t, accountOpts{})
		_, err = b.svc.Update(b.ctx, b.tenant, other.ID, Patch{ExternalID: set(*existing.ExternalID)})
		require.ErrorIs(t, err, db.ErrConflict)
	})

	t.Run("create requires a name", func(t *testing.T) {
		_, err := b.svc.Create(b.ctx, b.tenant, Patch{})
		requireInvalid(t, err, "name")
	})

	t.Run("an account of another workspace is not found", func(t *testing.T) {
		other := setup(t)
		_, err := other.svc.Update(other.ctx, other.tenant, existing.ID, Patch{Name: ptr("Hijack")})
		require.ErrorIs(t, err, db.ErrNotFound)
		require.NotEqual(t, "Hijack", b.reload(t, existing.ID).Name)
	})
}

func TestTagsAreNormalized(t *testing.T) {
	t.Parallel()
	b := setup(t)

	a := b.createAccount(t, accountOpts{Patch: Patch{Tags: &[]string{"  churn-risk ", "vip", "vip", "churn-risk", "VIP"}}})
	require.Equal(t, []string{"churn-risk", "vip", "VIP"}, a.Tags, "trimmed, deduplicated, first order kept")
	require.Equal(t, a.Tags, b.reload(t, a.ID).Tags)

	fifty := make([]string, 50)
	for i := range fifty {
		fifty[i] = "tag-" + strings.Repeat("x", i%10) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	_, err := b.svc.Update(b.ctx, b.tenant, a.ID, Patch{Tags: &fifty})
	require.NoError(t, err)
	require.Len(t, b.reload(t, a.ID).Tags, 50)

	_, err = b.svc.Update(b.ctx, b.tenant, a.ID, Patch{Tags: &[]string{}})
	require.NoError(t, err)
	require.Empty(t, b.reload(t, a.ID).Tags, "an empty list clears the tags")

	for name, tags := range map[string][]string{
		"51 tags":      append(append([]string{}, fifty...), "one-more"),
		"blank tag":    {"ok", "  "},
		"tag too long": {strings.Repeat("t", 65)},
	} {
		_, err := b.svc.Update(b.ctx, b.tenant, a.ID, Patch{Tags: &tags})
		requireInvalid(t, err, "tags")
		require.Empty(t, b.reload(t, a.ID).Tags, name)
	}
}

func TestUpsertByExternalID(t *testing.T) {
	t.Parallel()
	b := setup(t)

	_, err := b.svc.UpsertByExternalID(b.ctx, b.tenant, "crm-7", Patch{HealthScore: set(50)})
	requireInvalid(t, err, "name")
	require.Zero(t, b.countAccounts(t), "an upsert that cannot create creates nothing")

	created, err := b.svc.UpsertByExternalID(b.ctx, b.tenant, "crm-7", Patch{Name: ptr("Initech"), HealthScore: set(50)})
	require.NoError(t, err)
	require.Equal(t, "crm-7", *created.ExternalID)

	updated, err := b.svc.UpsertByExternalID(b.ctx, b.tenant, "crm-7", Patch{HealthScore: set(65), Tags: &[]string{"synced"}})
	require.NoError(t, err)
	require.Equal(t, created.ID, updated.ID, "the second upsert updates the same account")
	got := b.reload(t, created.ID)
	require.Equal(t, "Initech", got.Name, "a name left out is kept")
	require.Equal(t, 65, *got.HealthScore)
	require.Equal(t, []string{"synced"}, got.Tags)
	require.Equal(t, 1, b.countAccounts(t))

	_, err = b.svc.UpsertByExternalID(b.ctx, b.tenant, "  ", Patch{Name: ptr("Blank")})
	requireInvalid(t, err, "externalId")
	_, err = b.svc.UpsertByExternalID(b.ctx, b.tenant, strings.Repeat("e", 201), Patch{Name: ptr("Long")})
	requireInvalid(t, err, "externalId")
	require.Equal(t, 1, b.countAccounts(t))
}

func TestUpsertByExternalIDConcurrentCreatesOne(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const workers = 8
	for round := range 5 {
		externalID := "race-" + uuid.NewString()
		ids := make([]uuid.UUID, workers)
		errs := make([]error, workers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range workers {
			wg.Go(func() {
				<-start
				a, err := b.svc.UpsertByExternalID(b.ctx, b.tenant, externalID, Patch{Name: ptr("Racer"), ARRMinor: ptr(int64(i))})
				errs[i] = err
				if err == nil {
					ids[i] = a.ID
				}
			})
		}
		close(start)
		wg.Wait()
		for i := range workers {
			require.NoError(t, errs[i], "round %d worker %d", round, i)
			require.Equal(t, ids[0], ids[i], "round %d: every upsert returns the one account", round)
		}
		n, err := b.tenant.Select(b.db.Bun, (*db.Account)(nil)).Where("a.external_id = ?", externalID).Count(b.ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n, "round %d: exactly one account", round)
	}
}

func TestSetTeam(t *testing.T) {
	t.Parallel()
	b := setup(t)
	roles, err := db.ListTeamRoles(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(roles), 2)
	csm, sales := roles[0].ID, roles[1].ID
	ana, bo := b.createMember(t), b.createMember(t)
	a := b.createAccount(t, accountOpts{})

	team := func() []TeamAssignment {
		t.Helper()
		rows, err := db.TeamMembersByAccountIDs(b.ctx, b.db.Bun, b.tenant, []uuid.UUID{a.ID})
		require.NoError(t, err)
		out := make([]TeamAssignment, len(rows))
		for i, r := range rows {
			out[i] = TeamAssignment{TeamRoleID: r.TeamRoleID, UserID: r.UserID}
		}
		return out
	}

	_, err = b.svc.SetTeam(b.ctx, b.tenant, a.ID, []TeamAssignment{
		{csm, ana}, {sales, bo}, {csm, ana}, {sales, ana}, {sales, bo},
	})
	require.NoError(t, err)
	require.ElementsMatch(t, []TeamAssignment{{csm, ana}, {sales, bo}, {sales, ana}}, team(), "repeats are kept once")

	_, err = b.svc.SetTeam(b.ctx, b.tenant, a.ID, []TeamAssignment{{sales, bo}})
	require.NoError(t, err)
	require.Equal(t, []TeamAssignment{{sales, bo}}, team(), "the team is replaced, not added to")

	other := setup(t)
	otherRoles, err := db.ListTeamRoles(other.ctx, other.db.Bun, other.tenant)
	require.NoError(t, err)
	outsider := other.createMember(t)
	for name, tt := range map[string]struct {
		members []TeamAssignment
		field   string
	}{
		"unknown role":             {[]TeamAssignment{{csm, ana}, {uuid.New(), bo}}, "members[1].teamRoleId"},
		"role of another space":    {[]TeamAssignment{{otherRoles[0].ID, ana}}, "members[0].teamRoleId"},
		"unknown user":             {[]TeamAssignment{{csm, uuid.New()}}, "members[0].userId"},
		"user of another space":    {[]TeamAssignment{{csm, ana}, {csm, bo}, {sales, outsider}}, "members[2].userId"},
		"valid then invalid (all)": {[]TeamAssignment{{csm, ana}, {csm, ana}, {sales, uuid.New()}}, "members[2].userId"},
	} {
		_, err := b.svc.SetTeam(b.ctx, b.tenant, a.ID, tt.members)
		requireInvalid(t, err, tt.field)
		require.Equal(t, []TeamAssignment{{sales, bo}}, team(), "%s: a refused team leaves the old one", name)
	}

	_, err = b.svc.SetTeam(b.ctx, b.tenant, a.ID, nil)
	require.NoError(t, err)
	require.Empty(t, team(), "an empty list clears the team")

	_, err = b.svc.SetTeam(b.ctx, b.tenant, uuid.New(), []TeamAssignment{{csm, ana}})
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestSetTeamKeepsWhenStayingMembersJoined(t *testing.T) {
	t.Parallel()
	b := setup(t)
	roles, err := db.ListTeamRoles(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	csm := roles[0].ID
	ana, bo := b.createMember(t), b.createMember(t)
	a := b.createAccount(t, accountOpts{})

	joined := func() map[uuid.UUID]time.Time {
		t.Helper()
		rows, err := db.TeamMembersByAccountIDs(b.ctx, b.db.Bun, b.tenant, []uuid.UUID{a.ID})
		require.NoError(t, err)
		out := map[uuid.UUID]time.Time{}
		for _, r := range rows {
			out[r.UserID] = r.CreatedAt
		}
		return out
	}
	_, err = b.svc.SetTeam(b.ctx, b.tenant, a.ID, []TeamAssignment{{csm, ana}})
	require.NoError(t, err)
	first := joined()[ana]
	_, err = b.svc.SetTeam(b.ctx, b.tenant, a.ID, []TeamAssignment{{csm, bo}, {csm, ana}})
	require.NoError(t, err)
	after := joined()
	require.Len(t, after, 2)
	require.True(t, after[ana].Equal(first), "a member who stays keeps the time they joined")
	require.False(t, after[bo].Before(first))
}
