package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// JourneyFilter narrows a journey listing; zero fields do not filter.
type JourneyFilter struct {
	// Status keeps journeys of one status; empty keeps every status but ARCHIVED.
	Status string
	// Stage keeps journeys of one life-cycle stage.
	Stage string
}

// InsertJourney stores a new journey and fills its generated columns.
func InsertJourney(ctx context.Context, idb bun.IDB, t Tenant, j *Journey) error {
	if _, err := Insert(t, idb, j).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert journey", err)
	}
	return nil
}

// GetJourney loads one journey of the tenant.
func GetJourney(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*Journey, error) {
	j := new(Journey)
	if err := t.Select(idb, j).Where("j.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get journey", err)
	}
	return j, nil
}

// GetJourneyByKey loads the tenant's journey with key that is not archived (keys are unique
// among those).
func GetJourneyByKey(ctx context.Context, idb bun.IDB, t Tenant, key string) (*Journey, error) {
	j := new(Journey)
	if err := t.Select(idb, j).Where("j.key = ? AND j.archived_at IS NULL", key).Scan(ctx); err != nil {
		return nil, mapErr("get journey by key", err)
	}
	return j, nil
}

// JourneysByIDs loads journeys by id (for loaders); missing ids are simply absent.
func JourneysByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]Journey, error) {
	var rows []Journey
	if err := t.Select(idb, &rows).Where("j.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load journeys", err)
	}
	return rows, nil
}

// GetJourneyForUpdate loads and row-locks one journey inside tx, so that edits, publishing and
// status changes of one journey happen one at a time.
func GetJourneyForUpdate(ctx context.Context, tx bun.Tx, t Tenant, id uuid.UUID) (*Journey, error) {
	j := new(Journey)
	if err := t.Select(tx, j).Where("j.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
		return nil, mapErr("lock journey", err)
	}
	return j, nil
}

// UpdateJourney writes every editable column of j back and refreshes updated_at.
func UpdateJourney(ctx context.Context, idb bun.IDB, t Tenant, j *Journey) error {
	res, err := t.Update(idb, j).
		ExcludeColumn("workspace_id", "id", "copied_from_id", "copied_from_version", "created_by", "created_at", "updated_at").
		Set("updated_at = now()").
		WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return mapErr("update journey", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update journey: %w", ErrNotFound)
	}
	return nil
}

// ListJourneys returns the tenant's journeys that f matches, by name.
func ListJourneys(ctx context.Context, idb bun.IDB, t Tenant, f JourneyFilter) ([]Journey, error) {
	rows := []Journey{}
	q := t.Select(idb, &rows)
	if f.Status == "" {
		q.Where("j.status <> ?", JourneyArchived)
	} else {
		q.Where("j.status = ?", f.Status)
	}
	if f.Stage != "" {
		q.Where("j.stage = ?", f.Stage)
	}
	if err := q.OrderExpr("lower(j.name), j.id").Scan(ctx); err != nil {
		return nil, mapErr("list journeys", err)
	}
	return rows, nil
}

// InsertJourneyVersion stores a published version. Versions are never updated afterwards.
func InsertJourneyVersion(ctx context.Context, idb bun.IDB, t Tenant, v *JourneyVersion) error {
	if _, err := Insert(t, idb, v).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert journey version", err)
	}
	return nil
}

// GetJourneyVersion loads one published version of a journey.
func GetJourneyVersion(ctx context.Context, idb bun.IDB, t Tenant, journeyID uuid.UUID, version int) (*JourneyVersion, error) {
	v := new(JourneyVersion)
	if err := t.Select(idb, v).Where("jv.journey_id = ? AND jv.version = ?", journeyID, version).Scan(ctx); err != nil {
		return nil, mapErr("get journey version", err)
	}
	return v, nil
}

// ListJourneyVersions returns every published version of a journey, newest first.
func ListJourneyVersions(ctx context.Context, idb bun.IDB, t Tenant, journeyID uuid.UUID) ([]JourneyVersion, error) {
	rows := []JourneyVersion{}
	if err := t.Select(idb, &rows).Where("jv.journey_id = ?", journeyID).OrderExpr("jv.version DESC").Scan(ctx); err != nil {
		return nil, mapErr("list journey versions", err)
	}
	return rows, nil
}

// ActiveJourneysByEvent returns the tenant's ACTIVE journeys whose latest version has an EVENT
// trigger on name, each with that version.
func ActiveJourneysByEvent(ctx context.Context, idb bun.IDB, t Tenant, name string) ([]PublishedJourney, error) {
	rows := []PublishedJourney{}
	err := t.Select(idb, &rows).Relation("Current").
		Where("j.status = ? AND j.trigger_event = ?", JourneyActive, name).
		OrderExpr("j.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("list journeys by event", err)
	}
	return rows, nil
}

// ActiveJourneysByField returns the tenant's ACTIVE journeys whose latest version has a
// FIELD_CHANGE trigger on field (e.g. "account.stage"), each with that version.
func ActiveJourneysByField(ctx context.Context, idb bun.IDB, t Tenant, field string) ([]PublishedJourney, error) {
	rows := []PublishedJourney{}
	err := t.Select(idb, &rows).Relation("Current").
		Where("j.status = ? AND j.trigger_field = ?", JourneyActive, field).
		OrderExpr("j.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("list journeys by field", err)
	}
	return rows, nil
}
