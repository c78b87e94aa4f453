package play

import (
	"context"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// PublishAndGet publishes the play's draft as its next version and returns the play as it is
// afterwards (its status, latest version and trigger).
func (s *Definitions) PublishAndGet(ctx context.Context, t db.Tenant, id, by uuid.UUID) (*db.Play, error) {
	if _, err := s.Publish(ctx, t, id, by); err != nil {
		return nil, err
	}
	return s.Get(ctx, t, id)
}
