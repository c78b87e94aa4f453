// Package auth decides who a caller is and what they may do. It issues and verifies access
// tokens (HS256 JWTs with key rotation), rotates refresh tokens with reuse detection, hashes
// passwords, creates and checks API keys, manages workspace members, and holds the one policy
// function, Authorize, that every entry point consults.
package auth

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// Viewer is the authenticated caller of one request: a user in a workspace, or an API key of a
// workspace. Exactly one of UserID and APIKeyID is set.
type Viewer struct {
	// WorkspaceID is the workspace every query of the request is confined to.
	WorkspaceID uuid.UUID
	// UserID is the signed-in user; zero for an API key.
	UserID uuid.UUID
	// APIKeyID is the key the caller presented; zero for a user.
	APIKeyID uuid.UUID
	// Role is the user's membership role (db.RoleAdmin ... db.RoleViewer) as of when the access
	// token was issued; empty for an API key.
	Role string
	// Scopes are the API key's scopes (ScopeRead, ScopeWrite, ScopeEventsWrite, ScopeInApp);
	// empty for a user.
	Scopes []string
	// ExpiresAt is when the credential stops being valid (an access token's exp); zero for an
	// API key, which lasts until revoked. Long-lived connections (websockets) close at it.
	ExpiresAt time.Time
}

// Tenant returns the workspace scope that the viewer's queries must run in.
func (v *Viewer) Tenant() db.Tenant {
	return db.Tenant{WorkspaceID: v.WorkspaceID}
}

// IsAPIKey reports whether the caller authenticated with an API key rather than as a user.
func (v *Viewer) IsAPIKey() bool {
	return v.APIKeyID != uuid.Nil
}

// viewerKey is the private context key under which the Viewer travels.
type viewerKey struct{}

// WithViewer returns a copy of ctx that carries v; the HTTP middleware calls it once per request.
func WithViewer(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the viewer that WithViewer stored in ctx; false (and nil) for an anonymous
// request.
func ViewerFrom(ctx context.Context) (*Viewer, bool) {
	v, ok := ctx.Value(viewerKey{}).(*Viewer)
	return v, ok && v != nil
}
