package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// PlayFilter narrows a play listing; zero fields do not filter.
type PlayFilter struct {
	// Status keeps plays of one status; empty keeps every status but ARCHIVED.
	Status string
	// Scope keeps plays of one scope (ACCOUNT or CONTACT).
	Scope string
}

// InsertPlay stores a new play and fills its generated columns.
func InsertPlay(ctx context.Context, idb bun.IDB, t Tenant, p *Play) error {
	if _, err := Insert(t, idb, p).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert play", err)
	}
	return nil
}

// GetPlay loads one play of the tenant.
func GetPlay(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*Play, error) {
	p := new(Play)
	if err := t.Select(idb, p).Where("p.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get play", err)
	}
	return p, nil
}

// PlaysByIDs loads plays by id (for loaders); missing ids are simply absent.
func PlaysByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]Play, error) {
	var rows []Play
	if err := t.Select(idb, &rows).Where("p.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load plays", err)
	}
	return rows, nil
}

// GetPlayForUpdate loads and row-locks one play inside tx, so that edits, publishing and status
// changes of one play happen one at a time.
func GetPlayForUpdate(ctx context.Context, tx bun.Tx, t Tenant, id uuid.UUID) (*Play, error) {
	p := new(Play)
	if err := t.Select(tx, p).Where("p.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
		return nil, mapErr("lock play", err)
	}
	return p, nil
}

// UpdatePlay writes every column of p back and refreshes updated_at.
func UpdatePlay(ctx context.Context, idb bun.IDB, t Tenant, p *Play) error {
	res, err := t.Update(idb, p).
		ExcludeColumn("workspace_id", "id", "created_by", "created_at", "updated_at").
		Set("updated_at = now()").
		WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return mapErr("update play", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update play: %w", ErrNotFound)
	}
	return nil
}

// ListPlays returns the tenant's plays that f matches, by name.
func ListPlays(ctx context.Context, idb bun.IDB, t Tenant, f PlayFilter) ([]Play, error) {
	rows := []Play{}
	q := t.Select(idb, &rows)
	if f.Status == "" {
		q.Where("p.status <> ?", PlayArchived)
	} else {
		q.Where("p.status = ?", f.Status)
	}
	if f.Scope != "" {
		q.Where("p.scope = ?", f.Scope)
	}
	if err := q.OrderExpr("lower(p.name), p.id").Scan(ctx); err != nil {
		return nil, mapErr("list plays", err)
	}
	return rows, nil
}

// InsertPlayVersion stores a published version. Versions are never updated afterwards.
func InsertPlayVersion(ctx context.Context, idb bun.IDB, t Tenant, v *PlayVersion) error {
	if _, err := Insert(t, idb, v).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert play version", err)
	}
	return nil
}

// GetPlayVersion loads one published version of a play.
func GetPlayVersion(ctx context.Context, idb bun.IDB, t Tenant, playID uuid.UUID, version int) (*PlayVersion, error) {
	v := new(PlayVersion)
	if err := t.Select(idb, v).Where("pv.play_id = ? AND pv.version = ?", playID, version).Scan(ctx); err != nil {
		return nil, mapErr("get play version", err)
	}
	return v, nil
}

// ListPlayVersions returns every published version of a play, newest first.
func ListPlayVersions(ctx context.Context, idb bun.IDB, t Tenant, playID uuid.UUID) ([]PlayVersion, error) {
	rows := []PlayVersion{}
	if err := t.Select(idb, &rows).Where("pv.play_id = ?", playID).OrderExpr("pv.version DESC").Scan(ctx); err != nil {
		return nil, mapErr("list play versions", err)
	}
	return rows, nil
}

// ActivePlaysByEvent returns the tenant's ACTIVE plays whose latest version has an EVENT
// trigger on name, each with that version.
func ActivePlaysByEvent(ctx context.Context, idb bun.IDB, t Tenant, name string) ([]PublishedPlay, error) {
	rows := []PublishedPlay{}
	err := t.Select(idb, &rows).Relation("Current").
		Where("p.status = ? AND p.trigger_event = ?", PlayActive, name).
		OrderExpr("p.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("list plays by event", err)
	}
	return rows, nil
}

// ActivePlaysByField returns the tenant's ACTIVE plays whose latest version has a FIELD_CHANGE
// trigger on field (e.g. "account.stage"), each with that version.
func ActivePlaysByField(ctx context.Context, idb bun.IDB, t Tenant, field string) ([]PublishedPlay, error) {
	rows := []PublishedPlay{}
	err := t.Select(idb, &rows).Relation("Current").
		Where("p.status = ? AND p.trigger_field = ?", PlayActive, field).
		OrderExpr("p.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("list plays by field", err)
	}
	return rows, nil
}

// ActivePlaysByJourney returns the tenant's ACTIVE plays whose latest version has a JOURNEY
// trigger on the journey with key, each with that version.
func ActivePlaysByJourney(ctx context.Context, idb bun.IDB, t Tenant, key string) ([]PublishedPlay, error) {
	rows := []PublishedPlay{}
	err := t.Select(idb, &rows).Relation("Current").
		Where("p.status = ? AND p.trigger_journey = ?", PlayActive, key).
		OrderExpr("p.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("list plays by journey", err)
	}
	return rows, nil
}

// ActiveSchedulePlays returns the ACTIVE plays of every workspace whose latest version has a
// SCHEDULE trigger, each with that version, for the sweeper that checks them on a timer. It is
// deliberately not tenant-scoped: the sweeper serves all workspaces.
func ActiveSchedulePlays(ctx context.Context, idb bun.IDB) ([]PublishedPlay, error) {
	rows := []PublishedPlay{}
	err := idb.NewSelect().Model(&rows).Relation("Current").
		Where("p.status = ? AND p.trigger_kind = ?", PlayActive, "SCHEDULE").
		OrderExpr("p.workspace_id, p.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("list schedule plays", err)
	}
	return rows, nil
}
