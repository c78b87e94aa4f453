package auth

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// familyTokens returns every refresh token of the family, oldest first.
func (b *testBundle) familyTokens(t *testing.T, familyID uuid.UUID) []db.RefreshToken {
	t.Helper()
	var rts []db.RefreshToken
	err := db.Tenant{WorkspaceID: b.ws.ID}.Select(b.db.Bun, &rts).
		Where("rt.family_id = ?", familyID).
		OrderExpr("rt.created_at, rt.id").
		Scan(b.ctx)
	require.NoError(t, err)
	return rts
}

// tokenRow returns the stored row of a refresh token secret.
func (b *testBundle) tokenRow(t *testing.T, token string) *db.RefreshToken {
	t.Helper()
	rt, err := db.RefreshTokenByHash(b.ctx, b.db.Bun, hashSecret(token), false)
	require.NoError(t, err)
	return rt
}

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setup(t)

	sess, err := b.svc.Login(b.ctx, "  "+b.admin.Email+" ", testPassword)
	require.NoError(t, err)
	require.Equal(t, b.admin.ID, sess.UserID)
	require.Equal(t, b.ws.ID, sess.WorkspaceID)
	require.Equal(t, db.RoleAdmin, sess.Role)
	require.Equal(t, b.clock.Now().Add(DefaultAccessTTL), sess.ExpiresAt)
	require.NotEmpty(t, sess.RefreshToken)

	v, err := b.svc.Authenticate(b.ctx, sess.AccessToken)
	require.NoError(t, err)
	require.True(t, sess.ExpiresAt.Equal(v.ExpiresAt), "the viewer knows when its token expires")
	require.Equal(t, &Viewer{WorkspaceID: b.ws.ID, UserID: b.admin.ID, Role: db.RoleAdmin, ExpiresAt: v.ExpiresAt}, v)

	// The refresh token is stored as a hash only, in a family of its own.
	rt := b.tokenRow(t, sess.RefreshToken)
	require.NotEqual(t, []byte(sess.RefreshToken), rt.TokenHash)
	require.Equal(t, b.admin.ID, rt.UserID)
	require.True(t, b.clock.Now().Add(DefaultRefreshTTL).Equal(rt.ExpiresAt), "expires_at %s", rt.ExpiresAt)
	require.Nil(t, rt.UsedAt)
	require.Nil(t, rt.RevokedAt)

	// Emails match whatever their case.
	_, err = b.svc.Login(b.ctx, mixedCase(b.admin.Email), testPassword)
	require.NoError(t, err)
}

func mixedCase(s string) string {
	out := []byte(s)
	for i := 0; i < len(out); i += 2 {
		if out[i] >= 'a' && out[i] <= 'z' {
			out[i] -= 'a' - 'A'
		}
	}
	return string(out)
}

func TestLoginFailuresLookAlike(t *testing.T) {
	t.Parallel()
	b := setup(t)

	noMembership := &db.User{Email: uniqueEmail(), Name: "Loner"}
	hash, err := HashPasswordCost(testPassword, b.svc.PasswordCost)
	require.NoError(t, err)
	noMembership.PasswordHash = hash
	require.NoError(t, db.InsertUser(b.ctx, b.db.Bun, noMembership))

	disabled := b.createMember(t, memberOpts{})
	_, err = b.svc.DisableUser(b.ctx, b.adminViewer(), disabled.ID)
	require.NoError(t, err)

	cases := map[string][2]string{
		"wrong password":      {b.admin.Email, "not the password"},
		"empty password":      {b.admin.Email, ""},
		"unknown email":       {uniqueEmail(), testPassword},
		"empty email":         {"", testPassword},
		"no membership":       {noMembership.Email, testPassword},
		"only membership off": {disabled.Email, testPassword},
		"near-miss email":     {b.admin.Email + "x", testPassword},
	}
	for name, c := range cases {
		sess, err := b.svc.Login(b.ctx, c[0], c[1])
		require.ErrorIs(t, err, ErrUnauthenticated, name)
		require.Nil(t, sess, name)
		require.Equal(t, "unauthenticated: invalid email or password", err.Error(), name)
	}
}

func TestLoginPicksEarliestActiveMembership(t *testing.T) {
	t.Parallel()
	b := setup(t)

	other, err := db.CreateWorkspace(b.ctx, b.db.Bun, "Other")
	require.NoError(t, err)
	third, err := db.CreateWorkspace(b.ctx, b.db.Bun, "Third")
	require.NoError(t, err)

	u := b.createMember(t, memberOpts{Role: db.RoleViewer}) // earliest
	b.clock.Advance(time.Minute)
	b.createMember(t, memberOpts{Workspace: other.ID, User: u, Role: db.RoleManager})
	b.clock.Advance(time.Minute)
	b.createMember(t, memberOpts{Workspace: third.ID, User: u, Role: db.RoleCSM})

	sess, err := b.svc.Login(b.ctx, u.Email, testPassword)
	require.NoError(t, err)
	require.Equal(t, b.ws.ID, sess.WorkspaceID)
	require.Equal(t, db.RoleViewer, sess.Role)

	_, err = b.svc.DisableUser(b.ctx, b.adminViewer(), u.ID)
	require.NoError(t, err)
	sess, err = b.svc.Login(b.ctx, u.Email, testPassword)
	require.NoError(t, err)
	require.Equal(t, other.ID, sess.WorkspaceID)
	require.Equal(t, db.RoleManager, sess.Role)
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	b := setup(t)

	first, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
	require.NoError(t, err)
	family := b.tokenRow(t, first.RefreshToken).FamilyID

	b.clock.Advance(time.Minute)
	second, err := b.svc.Refresh(b.ctx, first.RefreshToken)
	require.NoError(t, err)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken)
	require.NotEqual(t, first.AccessToken, second.AccessToken)
	require.Equal(t, b.clock.Now().Add(DefaultAccessTTL), second.ExpiresAt)
	require.Equal(t, family, b.tokenRow(t, second.RefreshToken).FamilyID)
	require.NotNil(t, b.tokenRow(t, first.RefreshToken).UsedAt)

	v, err := b.svc.Authenticate(b.ctx, second.AccessToken)
	require.NoError(t, err)
	require.Equal(t, b.admin.ID, v.UserID)

	// The new token keeps rotating.
	third, err := b.svc.Refresh(b.ctx, second.RefreshToken)
	require.NoError(t, err)

	// Replaying a used token is theft: refused, and the whole family dies with it...
	b.clock.Advance(time.Minute)
	_, err = b.svc.Refresh(b.ctx, first.RefreshToken)
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.ErrorContains(t, err, "reuse")
	for _, rt := range b.familyTokens(t, family) {
		require.NotNil(t, rt.RevokedAt, "token %s of the family is not revoked", rt.ID)
	}
	require.Len(t, b.familyTokens(t, family), 3)

	// ...including the newest token, which the legitimate holder (or the thief) has.
	_, err = b.svc.Refresh(b.ctx, third.RefreshToken)
	require.ErrorIs(t, err, ErrUnauthenticated)

	// Another login is unaffected.
	other, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
	require.NoError(t, err)
	_, err = b.svc.Refresh(b.ctx, other.RefreshToken)
	require.NoError(t, err)
}

func TestRefreshConcurrentUseIsReuse(t *testing.T) {
	t.Parallel()
	b := setup(t)

	sess, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
	require.NoError(t, err)

	const n = 5
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		oks  int
		errs []error
	)
	for range n {
		wg.Go(func() {
			_, err := b.svc.Refresh(b.ctx, sess.RefreshToken)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				oks++
			} else {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, 1, oks, "exactly one refresh may win: %v", errs)
	for _, err := range errs {
		require.ErrorIs(t, err, ErrUnauthenticated)
	}
	for _, rt := range b.familyTokens(t, b.tokenRow(t, sess.RefreshToken).FamilyID) {
		require.NotNil(t, rt.RevokedAt)
	}
}

func TestRefreshRejects(t *testing.T) {
	t.Parallel()

	t.Run("unknown token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tok := range []string{"", "nope", uuid.NewString()} {
			_, err := b.svc.Refresh(b.ctx, tok)
			require.ErrorIs(t, err, ErrUnauthenticated)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		sess, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
		require.NoError(t, err)
		b.clock.Advance(DefaultRefreshTTL)
		_, err = b.svc.Refresh(b.ctx, sess.RefreshToken)
		require.ErrorIs(t, err, ErrUnauthenticated)
		// Not reuse: the family is left alone.
		require.Nil(t, b.tokenRow(t, sess.RefreshToken).RevokedAt)
	})

	t.Run("custom TTL", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.svc.RefreshTTL = time.Hour
		sess, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
		require.NoError(t, err)
		b.clock.Advance(59 * time.Minute)
		sess, err = b.svc.Refresh(b.ctx, sess.RefreshToken)
		require.NoError(t, err)
		b.clock.Advance(time.Hour)
		_, err = b.svc.Refresh(b.ctx, sess.RefreshToken)
		require.ErrorIs(t, err, ErrUnauthenticated)
	})

	t.Run("disabled user", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.createMember(t, memberOpts{})
		sess, err := b.svc.Login(b.ctx, u.Email, testPassword)
		require.NoError(t, err)
		_, err = b.svc.DisableUser(b.ctx, b.adminViewer(), u.ID)
		require.NoError(t, err)
		_, err = b.svc.Refresh(b.ctx, sess.RefreshToken)
		require.ErrorIs(t, err, ErrUnauthenticated)
	})

	t.Run("membership disabled behind the service's back", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		u := b.createMember(t, memberOpts{})
		sess, err := b.svc.Login(b.ctx, u.Email, testPassword)
		require.NoError(t, err)
		// Only the membership, not the tokens: the refresh itself must check.
		require.NoError(t, db.DisableMembership(b.ctx, b.db.Bun, db.Tenant{WorkspaceID: b.ws.ID}, u.ID, b.clock.Now()))
		_, err = b.svc.Refresh(b.ctx, sess.RefreshToken)
		require.ErrorIs(t, err, ErrUnauthenticated)
	})
}

func TestRefreshRereadsRole(t *testing.T) {
	t.Parallel()
	b := setup(t)

	u := b.createMember(t, memberOpts{Role: db.RoleViewer})
	sess, err := b.svc.Login(b.ctx, u.Email, testPassword)
	require.NoError(t, err)
	require.Equal(t, db.RoleViewer, sess.Role)

	_, err = b.svc.SetUserRole(b.ctx, b.adminViewer(), u.ID, db.RoleManager)
	require.NoError(t, err)
	sess, err = b.svc.Refresh(b.ctx, sess.RefreshToken)
	require.NoError(t, err)
	require.Equal(t, db.RoleManager, sess.Role)
	v, err := b.svc.Authenticate(b.ctx, sess.AccessToken)
	require.NoError(t, err)
	require.Equal(t, db.RoleManager, v.Role)
}

func TestLogout(t *testing.T) {
	t.Parallel()
	b := setup(t)

	sess, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
	require.NoError(t, err)
	next, err := b.svc.Refresh(b.ctx, sess.RefreshToken)
	require.NoError(t, err)

	// Logging out with the current token ends the whole family.
	require.NoError(t, b.svc.Logout(b.ctx, next.RefreshToken))
	_, err = b.svc.Refresh(b.ctx, next.RefreshToken)
	require.ErrorIs(t, err, ErrUnauthenticated)
	for _, rt := range b.familyTokens(t, b.tokenRow(t, sess.RefreshToken).FamilyID) {
		require.NotNil(t, rt.RevokedAt)
	}

	// Idempotent, and silent about tokens it does not know.
	require.NoError(t, b.svc.Logout(b.ctx, next.RefreshToken))
	require.NoError(t, b.svc.Logout(b.ctx, "never-issued"))
	require.NoError(t, b.svc.Logout(b.ctx, ""))

	// Other sessions of the user live on.
	other, err := b.svc.Login(b.ctx, b.admin.Email, testPassword)
	require.NoError(t, err)
	_, err = b.svc.Refresh(b.ctx, other.RefreshToken)
	require.NoError(t, err)
}

func TestAuthenticateRejectsGarbage(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, bearer := range []string{"", "garbage", APIKeyPrefix, APIKeyPrefix + "short", "Bearer x.y.z"} {
		v, err := b.svc.Authenticate(b.ctx, bearer)
		require.True(t, errors.Is(err, ErrUnauthenticated), "bearer %q: %v", bearer, err)
		require.Nil(t, v)
	}
}
