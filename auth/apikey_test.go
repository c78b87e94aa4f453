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

func TestCreateAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)

	k, secret, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), "  Segment  ", []string{ScopeEventsWrite, ScopeRead, ScopeEventsWrite})
	require.NoError(t, err)
	require.Equal(t, "Segment", k.Name)
	require.Equal(t, []string{ScopeEventsWrite, ScopeRead}, k.Scopes)
	require.Equal(t, b.ws.ID, k.WorkspaceID)
	require.Equal(t, &b.admin.ID, k.CreatedBy)
	require.Nil(t, k.LastUsedAt)
	require.Nil(t, k.RevokedAt)

	require.True(t, strings.HasPrefix(secret, APIKeyPrefix))
	require.Len(t, secret, len(APIKeyPrefix)+40)
	require.Regexp(t, `^stw_[a-z2-7]{40}$`, secret)
	require.Equal(t, secret[:APIKeyShownLen], k.Prefix)
	require.Equal(t, hashSecret(secret), k.KeyHash)

	// Only the hash is stored.
	stored, err := db.GetAPIKey(b.ctx, b.db.Bun, b.tenant(), k.ID)
	require.NoError(t, err)
	require.NotContains(t, string(stored.KeyHash), secret[APIKeyShownLen:])

	_, secret2, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), "Segment", []string{ScopeRead})
	require.NoError(t, err)
	require.NotEqual(t, secret, secret2)
}

func TestCreateAPIKeyValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)

	tests := []struct {
		name   string
		key    string
		scopes []string
		field  string
	}{
		{"empty name", "", []string{ScopeRead}, "input.name"},
		{"blank name", "   ", []string{ScopeRead}, "input.name"},
		{"long name", strings.Repeat("é", MaxAPIKeyNameLen+1), []string{ScopeRead}, "input.name"},
		{"no scopes", "k", nil, "input.scopes"},
		{"unknown scope", "k", []string{ScopeRead, "admin"}, "input.scopes"},
		{"enum spelling is not a scope", "k", []string{"READ"}, "input.scopes"},
	}
	for _, tt := range tests {
		_, _, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), tt.key, tt.scopes)
		ie, ok := invalid.As(err)
		require.True(t, ok, "%s: %v", tt.name, err)
		require.Equal(t, tt.field, ie.Field, tt.name)
	}

	_, _, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), strings.Repeat("é", MaxAPIKeyNameLen), []string{ScopeRead})
	require.NoError(t, err)

	// Only admins manage keys, and never keys themselves.
	_, _, err = b.svc.CreateAPIKey(b.ctx, &Viewer{WorkspaceID: b.ws.ID, UserID: uuid.New(), Role: db.RoleManager}, "k", []string{ScopeRead})
	require.ErrorIs(t, err, ErrForbidden)
	_, _, err = b.svc.CreateAPIKey(b.ctx, &Viewer{WorkspaceID: b.ws.ID, APIKeyID: uuid.New(), Scopes: []string{ScopeWrite}}, "k", []string{ScopeRead})
	require.ErrorIs(t, err, ErrForbidden)
	_, _, err = b.svc.CreateAPIKey(b.ctx, nil, "k", []string{ScopeRead})
	require.ErrorIs(t, err, ErrUnauthenticated)
}

func TestAPIKeyAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)

	k, secret, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), "Events only", []string{ScopeEventsWrite})
	require.NoError(t, err)

	v, err := b.svc.Authenticate(b.ctx, secret)
	require.NoError(t, err)
	require.Equal(t, &Viewer{WorkspaceID: b.ws.ID, APIKeyID: k.ID, Scopes: []string{ScopeEventsWrite}}, v)
	require.True(t, v.IsAPIKey())

	// Scopes decide, through the one policy.
	require.NoError(t, Authorize(v, db.RoleCSM, ScopeEventsWrite))
	require.ErrorIs(t, Authorize(v, db.RoleViewer, ScopeRead), ErrForbidden)
	require.ErrorIs(t, Authorize(v, db.RoleCSM, ScopeWrite), ErrForbidden)
	require.ErrorIs(t, Authorize(v, db.RoleAdmin, ""), ErrForbidden)

	// Near misses fail.
	for _, bad := range []string{
		secret[:len(secret)-1],
		secret + "a",
		secret[:len(secret)-1] + flip(secret[len(secret)-1]),
		strings.ToUpper(secret),
	} {
		_, err := b.svc.Authenticate(b.ctx, bad)
		require.ErrorIs(t, err, ErrUnauthenticated)
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func TestAPIKeyLastUsedIsThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)

	k, secret, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), "CRM sync", []string{ScopeWrite})
	require.NoError(t, err)
	lastUsed := func() *time.Time {
		got, err := db.GetAPIKey(b.ctx, b.db.Bun, b.tenant(), k.ID)
		require.NoError(t, err)
		return got.LastUsedAt
	}

	start := b.clock.Now()
	_, err = b.svc.Authenticate(b.ctx, secret)
	require.NoError(t, err)
	require.NotNil(t, lastUsed())
	require.True(t, start.Equal(*lastUsed()))

	// Within the interval: no write.
	b.clock.Advance(APIKeyTouchInterval - time.Second)
	_, err = b.svc.Authenticate(b.ctx, secret)
	require.NoError(t, err)
	require.True(t, start.Equal(*lastUsed()))

	// After it: one write.
	b.clock.Advance(2 * time.Second)
	_, err = b.svc.Authenticate(b.ctx, secret)
	require.NoError(t, err)
	require.True(t, b.clock.Now().Equal(*lastUsed()))

	// The query itself refuses a fresh timestamp, even if a caller skipped the check.
	wrote, err := db.TouchAPIKey(b.ctx, b.db.Bun, b.tenant(), k.ID, b.clock.Now().Add(time.Second), b.clock.Now().Add(-APIKeyTouchInterval))
	require.NoError(t, err)
	require.False(t, wrote)
}

func TestRevokeAPIKey(t *testing.T) {
	t.Parallel()
	b := setup(t)

	k, secret, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), "Old integration", []string{ScopeRead})
	require.NoError(t, err)
	keep, keepSecret, err := b.svc.CreateAPIKey(b.ctx, b.adminViewer(), "Current integration", []string{ScopeRead})
	require.NoError(t, err)

	revoked, err := b.svc.RevokeAPIKey(b.ctx, b.adminViewer(), k.ID)
	require.NoError(t, err)
	require.NotNil(t, revoked.RevokedAt)
	firstRevocation := *revoked.RevokedAt

	_, err = b.svc.Authenticate(b.ctx, secret)
	require.ErrorIs(t, err, ErrUnauthenticated)
	_, err = b.svc.Authenticate(b.ctx, keepSecret)
	require.NoError(t, err)

	// Revoking again keeps the first time.
	b.clock.Advance(time.Hour)
	again, err := b.svc.RevokeAPIKey(b.ctx, b.adminViewer(), k.ID)
	require.NoError(t, err)
	require.True(t, firstRevocation.Equal(*again.RevokedAt))

	keys, err := b.svc.ListAPIKeys(b.ctx, b.adminViewer())
	require.NoError(t, err)
	require.Len(t, keys, 2)
	ids := []uuid.UUID{keys[0].ID, keys[1].ID}
	require.ElementsMatch(t, []uuid.UUID{k.ID, keep.ID}, ids)

	// Another workspace's admin sees neither the key nor a way to revoke it.
	other := setup(t)
	_, err = other.svc.RevokeAPIKey(other.ctx, other.adminViewer(), keep.ID)
	require.ErrorIs(t, err, db.ErrNotFound)
	otherKeys, err := other.svc.ListAPIKeys(other.ctx, other.adminViewer())
	require.NoError(t, err)
	require.Empty(t, otherKeys)
	_, err = b.svc.Authenticate(b.ctx, keepSecret)
	require.NoError(t, err)

	_, err = b.svc.RevokeAPIKey(b.ctx, b.adminViewer(), uuid.New())
	require.ErrorIs(t, err, db.ErrNotFound)
}
