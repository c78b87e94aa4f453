package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

func requireField(t *testing.T, err error, field string, msgAndArgs ...any) {
	t.Helper()
	ie, ok := invalid.As(err)
	require.True(t, ok, "want invalid error on %s, got %v", field, err)
	require.Equal(t, field, ie.Field, msgAndArgs...)
}

func TestInviteUser(t *testing.T) {
	t.Parallel()
	b := setup(t)

	email := uniqueEmail()
	m, err := b.svc.InviteUser(b.ctx, b.adminViewer(), " "+email+" ", " Ada Lovelace ", db.RoleCSM, "s3cret-enough")
	require.NoError(t, err)
	require.Equal(t, email, m.Email)
	require.Equal(t, "Ada Lovelace", m.Name)
	require.Equal(t, db.RoleCSM, m.Role)
	require.Nil(t, m.DisabledAt)
	require.Empty(t, m.PasswordHash, "members are read without the hash")

	sess, err := b.svc.Login(b.ctx, email, "s3cret-enough")
	require.NoError(t, err)
	require.Equal(t, m.ID, sess.UserID)
	require.Equal(t, db.RoleCSM, sess.Role)

	// Inviting the same person again, in any case, is a conflict.
	_, err = b.svc.InviteUser(b.ctx, b.adminViewer(), strings.ToUpper(email), "Ada", db.RoleViewer, "another-password")
	require.ErrorIs(t, err, db.ErrConflict)

	members, err := db.ListMembers(b.ctx, b.db.Bun, b.tenant())
	require.NoError(t, err)
	require.Len(t, members, 2)
}

func TestInviteExistingUserKeepsTheirPassword(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)

	// The other workspace's admin is invited here, later: same user, new membership.
	b.clock.Advance(time.Minute)
	m, err := b.svc.InviteUser(b.ctx, b.adminViewer(), other.admin.Email, "Renamed", db.RoleViewer, "attacker-chosen")
	require.NoError(t, err)
	require.Equal(t, other.admin.ID, m.ID)
	require.Equal(t, other.admin.Name, m.Name)
	require.Equal(t, db.RoleViewer, m.Role)

	_, err = b.svc.Login(b.ctx, other.admin.Email, "attacker-chosen")
	require.ErrorIs(t, err, ErrUnauthenticated)
	sess, err := b.svc.Login(b.ctx, other.admin.Email, testPassword)
	require.NoError(t, err)
	require.Equal(t, other.ws.ID, sess.WorkspaceID, "their first workspace stays the login workspace")
}

func TestInviteUserValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)

	ok := func() (string, string, string, string) { return uniqueEmail(), "Grace", db.RoleViewer, "long-enough" }
	tests := []struct {
		name  string
		edit  func(email, name, role, pw *string)
		field string
	}{
		{"empty email", func(e, _, _, _ *string) { *e = "" }, "input.email"},
		{"not an email", func(e, _, _, _ *string) { *e = "grace" }, "input.email"},
		{"display name form", func(e, _, _, _ *string) { *e = "Grace <grace@example.com>" }, "input.email"},
		{"too long email", func(e, _, _, _ *string) { *e = strings.Repeat("a", 250) + "@example.com" }, "input.email"},
		{"empty name", func(_, n, _, _ *string) { *n = " " }, "input.name"},
		{"long name", func(_, n, _, _ *string) { *n = strings.Repeat("n", MaxUserNameLen+1) }, "input.name"},
		{"unknown role", func(_, _, r, _ *string) { *r = "OWNER" }, "input.role"},
		{"lowercase role", func(_, _, r, _ *string) { *r = "admin" }, "input.role"},
		{"short password", func(_, _, _, p *string) { *p = "1234567" }, "input.password"},
		{"password over bcrypt's limit", func(_, _, _, p *string) { *p = strings.Repeat("p", MaxPasswordBytes+1) }, "input.password"},
	}
	for _, tt := range tests {
		email, name, role, pw := ok()
		tt.edit(&email, &name, &role, &pw)
		_, err := b.svc.InviteUser(b.ctx, b.adminViewer(), email, name, role, pw)
		requireField(t, err, tt.field, tt.name)
	}

	_, err := b.svc.InviteUser(b.ctx, &Viewer{WorkspaceID: b.ws.ID, UserID: b.admin.ID, Role: db.RoleManager}, uniqueEmail(), "G", db.RoleViewer, "long-enough")
	require.ErrorIs(t, err, ErrForbidden)
}

func TestSetUserRoleLastAdminGuard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.adminViewer()

	// The only admin cannot step down.
	_, err := b.svc.SetUserRole(b.ctx, v, b.admin.ID, db.RoleManager)
	requireField(t, err, "role")
	require.ErrorContains(t, err, "last active admin")

	// Setting the same role is a no-op, even for the last admin.
	m, err := b.svc.SetUserRole(b.ctx, v, b.admin.ID, db.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, db.RoleAdmin, m.Role)

	// With a second admin, one may step down; then the other is the last.
	second := b.createMember(t, memberOpts{Role: db.RoleCSM})
	m, err = b.svc.SetUserRole(b.ctx, v, second.ID, db.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, db.RoleAdmin, m.Role)
	_, err = b.svc.SetUserRole(b.ctx, v, b.admin.ID, db.RoleViewer)
	require.NoError(t, err)
	_, err = b.svc.SetUserRole(b.ctx, &Viewer{WorkspaceID: b.ws.ID, UserID: second.ID, Role: db.RoleAdmin}, second.ID, db.RoleCSM)
	requireField(t, err, "role")

	// A disabled admin does not count.
	third := b.createMember(t, memberOpts{Role: db.RoleAdmin})
	_, err = b.svc.DisableUser(b.ctx, &Viewer{WorkspaceID: b.ws.ID, UserID: second.ID, Role: db.RoleAdmin}, third.ID)
	require.NoError(t, err)
	_, err = b.svc.SetUserRole(b.ctx, &Viewer{WorkspaceID: b.ws.ID, UserID: second.ID, Role: db.RoleAdmin}, second.ID, db.RoleCSM)
	requireField(t, err, "role")

	_, err = b.svc.SetUserRole(b.ctx, v, second.ID, "OWNER")
	requireField(t, err, "role")
	_, err = b.svc.SetUserRole(b.ctx, v, uuid.New(), db.RoleCSM)
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestDisableUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.adminViewer()

	u := b.createMember(t, memberOpts{Role: db.RoleCSM})
	s1, err := b.svc.Login(b.ctx, u.Email, testPassword)
	require.NoError(t, err)
	s2, err := b.svc.Login(b.ctx, u.Email, testPassword)
	require.NoError(t, err)

	// The same user's tokens in another workspace are not this workspace's business.
	other, err := db.CreateWorkspace(b.ctx, b.db.Bun, "Elsewhere")
	require.NoError(t, err)
	b.createMember(t, memberOpts{Workspace: other.ID, User: u})
	elsewhere := &db.RefreshToken{FamilyID: uuid.New(), UserID: u.ID, TokenHash: hashSecret(uuid.NewString()), ExpiresAt: b.clock.Now().Add(DefaultRefreshTTL)}
	require.NoError(t, db.InsertRefreshToken(b.ctx, b.db.Bun, db.Tenant{WorkspaceID: other.ID}, elsewhere))

	m, err := b.svc.DisableUser(b.ctx, v, u.ID)
	require.NoError(t, err)
	require.NotNil(t, m.DisabledAt)
	require.True(t, b.clock.Now().Equal(*m.DisabledAt))

	for _, s := range []*Session{s1, s2} {
		require.NotNil(t, b.tokenRow(t, s.RefreshToken).RevokedAt)
	}
	require.Nil(t, b.tokenRowByHash(t, elsewhere.TokenHash).RevokedAt)

	// Disabling twice keeps the first time.
	b.clock.Advance(time.Second)
	again, err := b.svc.DisableUser(b.ctx, v, u.ID)
	require.NoError(t, err)
	require.True(t, m.DisabledAt.Equal(*again.DisabledAt))

	// Still listed, as disabled.
	got, err := db.GetMember(b.ctx, b.db.Bun, b.tenant(), u.ID)
	require.NoError(t, err)
	require.NotNil(t, got.DisabledAt)
}

func (b *testBundle) tokenRowByHash(t *testing.T, hash []byte) *db.RefreshToken {
	t.Helper()
	rt, err := db.RefreshTokenByHash(b.ctx, b.db.Bun, hash, false)
	require.NoError(t, err)
	return rt
}

func TestDisableUserGuards(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.adminViewer()

	_, err := b.svc.DisableUser(b.ctx, v, b.admin.ID)
	requireField(t, err, "userId")
	require.ErrorContains(t, err, "yourself")

	// A caller whose token still says ADMIN after losing it cannot remove the last admin.
	demoted := b.createMember(t, memberOpts{Role: db.RoleManager})
	_, err = b.svc.DisableUser(b.ctx, &Viewer{WorkspaceID: b.ws.ID, UserID: demoted.ID, Role: db.RoleAdmin}, b.admin.ID)
	requireField(t, err, "userId")
	require.ErrorContains(t, err, "last active admin")

	_, err = b.svc.DisableUser(b.ctx, v, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)

	// A member of another workspace is not found here.
	other := setup(t)
	_, err = b.svc.DisableUser(b.ctx, v, other.admin.ID)
	require.ErrorIs(t, err, db.ErrNotFound)
	_, err = b.svc.SetUserRole(b.ctx, v, other.admin.ID, db.RoleViewer)
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestMemberQueriesStayInTheirWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)

	mine := b.createMember(t, memberOpts{Role: db.RoleViewer})
	shared := other.createMember(t, memberOpts{})
	b.createMember(t, memberOpts{User: shared, Role: db.RoleManager})

	got, err := db.UsersByIDs(b.ctx, b.db.Bun, b.tenant(), []uuid.UUID{mine.ID, shared.ID, other.admin.ID, uuid.New()})
	require.NoError(t, err)
	roles := map[uuid.UUID]string{}
	for _, m := range got {
		roles[m.ID] = m.Role
	}
	require.Equal(t, map[uuid.UUID]string{mine.ID: db.RoleViewer, shared.ID: db.RoleManager}, roles)

	none, err := db.UsersByIDs(b.ctx, b.db.Bun, b.tenant(), nil)
	require.NoError(t, err)
	require.Empty(t, none)

	_, err = db.GetMember(b.ctx, b.db.Bun, b.tenant(), other.admin.ID)
	require.ErrorIs(t, err, db.ErrNotFound)

	list, err := db.ListMembers(b.ctx, b.db.Bun, other.tenant())
	require.NoError(t, err)
	require.Len(t, list, 2)
	for _, m := range list {
		require.NotEqual(t, mine.ID, m.ID)
		require.Equal(t, m.Email == shared.Email, m.ID == shared.ID)
	}
}

func TestCreateWorkspaceSeedsTeamRoles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setup(t)

	roles, err := db.ListTeamRoles(b.ctx, b.db.Bun, b.tenant())
	require.NoError(t, err)
	var got [][2]string
	for _, r := range roles {
		require.Equal(t, b.ws.ID, r.WorkspaceID)
		got = append(got, [2]string{r.Key, r.Name})
	}
	require.Equal(t, [][2]string{
		{"CSM", "CSM"},
		{"SALES", "Sales"},
		{"IMPLEMENTATION", "Implementation"},
		{"EXECUTIVE_SPONSOR", "Executive Sponsor"},
	}, got)

	otherRoles, err := db.ListTeamRoles(other.ctx, other.db.Bun, other.tenant())
	require.NoError(t, err)
	byID, err := db.TeamRolesByIDs(b.ctx, b.db.Bun, b.tenant(), []uuid.UUID{roles[1].ID, otherRoles[0].ID})
	require.NoError(t, err)
	require.Len(t, byID, 1)
	require.Equal(t, roles[1].ID, byID[0].ID)

	ws, err := db.GetWorkspace(b.ctx, b.db.Bun, b.ws.ID)
	require.NoError(t, err)
	require.Equal(t, b.ws.Name, ws.Name)
	_, err = db.GetWorkspace(b.ctx, b.db.Bun, uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}

func TestLastAdminGuardUnderConcurrency(t *testing.T) {
	t.Parallel()

	for range 5 {
		b := setup(t)
		second := b.createMember(t, memberOpts{Role: db.RoleAdmin})
		first := b.adminViewer()
		other := &Viewer{WorkspaceID: b.ws.ID, UserID: second.ID, Role: db.RoleAdmin}

		// Each admin demotes themself at the same time: one must be refused.
		errs := make(chan error, 2)
		go func() { _, err := b.svc.SetUserRole(b.ctx, first, first.UserID, db.RoleCSM); errs <- err }()
		go func() { _, err := b.svc.SetUserRole(b.ctx, other, other.UserID, db.RoleCSM); errs <- err }()
		var refused int
		for range 2 {
			if err := <-errs; err != nil {
				requireField(t, err, "role")
				refused++
			}
		}
		require.Equal(t, 1, refused)

		admins, err := db.ListMembers(b.ctx, b.db.Bun, b.tenant())
		require.NoError(t, err)
		var n int
		for _, m := range admins {
			if m.Role == db.RoleAdmin {
				n++
			}
		}
		require.Equal(t, 1, n)
	}
}
