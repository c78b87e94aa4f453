package journey

// TEMPORARY: a minimal stand-in for the Definitions service the journey-def branch provides
// (Load, ByKey, ActiveByEvent, ActiveByField), so the enrolment engine builds and is tested
// before that lands. It is deleted when journey-def's service is merged.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// Published is a published version of a journey, parsed.
type Published struct {
	Journey    *db.Journey
	Version    *db.JourneyVersion
	Definition *Definition
}

// Definitions stores journeys and their versions.
type Definitions struct {
	DB  *bun.DB
	Now func() time.Time
	Log *slog.Logger
}

// Load returns a published version, parsed.
func (s *Definitions) Load(ctx context.Context, idb bun.IDB, t db.Tenant, journeyID uuid.UUID, version int) (*Published, error) {
	j := new(db.Journey)
	if err := t.Select(idb, j).Where("j.id = ?", journeyID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get journey: %w", db.ErrNotFound)
	}
	v := new(db.JourneyVersion)
	if err := t.Select(idb, v).Where("jv.journey_id = ? AND jv.version = ?", journeyID, version).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get journey version: %w", db.ErrNotFound)
	}
	def, err := ParseDefinition(v.Definition)
	if err != nil {
		return nil, err
	}
	return &Published{Journey: j, Version: v, Definition: def}, nil
}

// ByKey returns the latest version of the ACTIVE journey with key.
func (s *Definitions) ByKey(ctx context.Context, idb bun.IDB, t db.Tenant, key string) (*Published, error) {
	j := new(db.Journey)
	if err := t.Select(idb, j).Where("j.key = ? AND j.status = ?", key, db.JourneyActive).Scan(ctx); err != nil {
		return nil, fmt.Errorf("journey by key: %w", db.ErrNotFound)
	}
	return s.Load(ctx, idb, t, j.ID, j.LatestVersion)
}

// ActiveByEvent returns the ACTIVE journeys whose trigger is an EVENT trigger on name.
func (s *Definitions) ActiveByEvent(ctx context.Context, idb bun.IDB, t db.Tenant, name string) ([]Published, error) {
	return s.active(ctx, idb, t, "j.trigger_event = ?", name)
}

// ActiveByField returns the ACTIVE journeys whose trigger is a FIELD_CHANGE trigger on field.
func (s *Definitions) ActiveByField(ctx context.Context, idb bun.IDB, t db.Tenant, field string) ([]Published, error) {
	return s.active(ctx, idb, t, "j.trigger_field = ?", field)
}

func (s *Definitions) active(ctx context.Context, idb bun.IDB, t db.Tenant, where string, arg any) ([]Published, error) {
	var js []db.Journey
	if err := t.Select(idb, &js).Where("j.status = ?", db.JourneyActive).Where(where, arg).OrderExpr("j.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("active journeys: %w", err)
	}
	out := make([]Published, 0, len(js))
	for _, j := range js {
		p, err := s.Load(ctx, idb, t, j.ID, j.LatestVersion)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}
