package auth

import (
	"context"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// Member loads one member of the workspace t (for a login's payload, or a node lookup).
func (s *Service) Member(ctx context.Context, t db.Tenant, userID uuid.UUID) (*db.Member, error) {
	return db.GetMember(ctx, s.DB, t, userID)
}

// Members lists the viewer's workspace members.
func (s *Service) Members(ctx context.Context, v *Viewer) ([]db.Member, error) {
	return db.ListMembers(ctx, s.DB, v.Tenant())
}

// Workspace loads the viewer's workspace.
func (s *Service) Workspace(ctx context.Context, v *Viewer) (*db.Workspace, error) {
	return db.GetWorkspace(ctx, s.DB, v.WorkspaceID)
}

// TeamRoles lists the viewer's workspace team roles in display order.
func (s *Service) TeamRoles(ctx context.Context, v *Viewer) ([]db.TeamRole, error) {
	return db.ListTeamRoles(ctx, s.DB, v.Tenant())
}

// APIKey loads one of the viewer's workspace API keys.
func (s *Service) APIKey(ctx context.Context, v *Viewer, id uuid.UUID) (*db.APIKey, error) {
	return db.GetAPIKey(ctx, s.DB, v.Tenant(), id)
}
