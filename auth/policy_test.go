package auth

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()

	user := func(role string) *Viewer {
		return &Viewer{WorkspaceID: uuid.New(), UserID: uuid.New(), Role: role}
	}
	key := func(scopes ...string) *Viewer {
		return &Viewer{WorkspaceID: uuid.New(), APIKeyID: uuid.New(), Scopes: scopes}
	}
	tests := []struct {
		name    string
		viewer  *Viewer
		minRole string
		scope   string
		want    error
	}{
		{"nil viewer", nil, db.RoleViewer, ScopeRead, ErrUnauthenticated},

		{"admin may do admin things", user(db.RoleAdmin), db.RoleAdmin, "", nil},
		{"admin may do viewer things", user(db.RoleAdmin), db.RoleViewer, ScopeRead, nil},
		{"manager below admin", user(db.RoleManager), db.RoleAdmin, "", ErrForbidden},
		{"manager above csm", user(db.RoleManager), db.RoleCSM, ScopeWrite, nil},
		{"csm at csm", user(db.RoleCSM), db.RoleCSM, ScopeWrite, nil},
		{"csm below manager", user(db.RoleCSM), db.RoleManager, "", ErrForbidden},
		{"viewer at viewer", user(db.RoleViewer), db.RoleViewer, ScopeRead, nil},
		{"viewer below csm", user(db.RoleViewer), db.RoleCSM, ScopeWrite, ErrForbidden},
		{"unknown user role", user("OWNER"), db.RoleViewer, ScopeRead, ErrForbidden},
		{"empty user role", user(""), db.RoleViewer, ScopeRead, ErrForbidden},
		{"unknown required role fails closed", user(db.RoleAdmin), "ROOT", "", ErrForbidden},

		{"key: field closed to keys", key(ScopeRead, ScopeWrite, ScopeEventsWrite), db.RoleViewer, "", ErrForbidden},
		{"key: read may read", key(ScopeRead), db.RoleViewer, ScopeRead, nil},
		{"key: read may not write", key(ScopeRead), db.RoleCSM, ScopeWrite, ErrForbidden},
		{"key: write may write", key(ScopeWrite), db.RoleCSM, ScopeWrite, nil},
		{"key: write may read", key(ScopeWrite), db.RoleViewer, ScopeRead, nil},
		{"key: write may not record events", key(ScopeWrite), db.RoleCSM, ScopeEventsWrite, ErrForbidden},
		{"key: events may record events", key(ScopeEventsWrite), db.RoleCSM, ScopeEventsWrite, nil},
		{"key: events may not read", key(ScopeEventsWrite), db.RoleViewer, ScopeRead, ErrForbidden},
		{"key: events may not write", key(ScopeEventsWrite), db.RoleCSM, ScopeWrite, ErrForbidden},
		{"key: no scopes", key(), db.RoleViewer, ScopeRead, ErrForbidden},
		{"key: unknown scope held", key("admin"), db.RoleViewer, ScopeRead, ErrForbidden},
		{"key: role claim ignored", &Viewer{APIKeyID: uuid.New(), Role: db.RoleAdmin}, db.RoleAdmin, "", ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Authorize(tt.viewer, tt.minRole, tt.scope)
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
}

func TestViewerContext(t *testing.T) {
	t.Parallel()

	_, ok := ViewerFrom(context.Background())
	require.False(t, ok)

	v := &Viewer{WorkspaceID: uuid.New(), UserID: uuid.New(), Role: db.RoleCSM}
	got, ok := ViewerFrom(WithViewer(context.Background(), v))
	require.True(t, ok)
	require.Same(t, v, got)
	require.Equal(t, db.Tenant{WorkspaceID: v.WorkspaceID}, got.Tenant())
	require.False(t, got.IsAPIKey())
	require.True(t, (&Viewer{APIKeyID: uuid.New()}).IsAPIKey())

	_, ok = ViewerFrom(WithViewer(context.Background(), nil))
	require.False(t, ok)
}
