package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// InsertEvents stores events whose client_event_id is new and returns only those stored:
// repeats, including ones racing in a concurrent call, are skipped by the unique key.
// The returned rows carry every column.
func InsertEvents(ctx context.Context, idb bun.IDB, t Tenant, events []*Event) ([]Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var stored []Event
	_, err := Insert(t, idb, events...).
		On("CONFLICT (workspace_id, client_event_id) DO NOTHING").
		Returning("id, workspace_id, client_event_id, account_id, contact_id, name, occurred_at, properties, received_at").
		Exec(ctx, &stored)
	if err != nil {
		return nil, mapErr("insert events", err)
	}
	return stored, nil
}

// ActivityAdvance moves an account's derived activity times forward (never back).
type ActivityAdvance struct {
	AccountID    uuid.UUID
	LastLogin    *time.Time
	LastActivity time.Time
}

// AdvanceAccountActivity applies advances in two statements: rows are first locked in id order
// (a fixed lock order, so concurrent batches cannot deadlock), then updated from arrays.
func AdvanceAccountActivity(ctx context.Context, idb bun.IDB, t Tenant, advances []ActivityAdvance) error {
	if len(advances) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(advances))
	logins := make([]*time.Time, len(advances))
	activity := make([]time.Time, len(advances))
	for i, a := range advances {
		ids[i], logins[i], activity[i] = a.AccountID, a.LastLogin, a.LastActivity
	}
	if err := t.Select(idb, (*Account)(nil)).Column("a.id").Where("a.id IN (?)", bun.In(ids)).
		OrderExpr("a.id").For("NO KEY UPDATE").Scan(ctx, new([]uuid.UUID)); err != nil {
		return mapErr("lock accounts for activity", err)
	}
	_, err := t.Update(idb, (*Account)(nil)).
		TableExpr("unnest(?::uuid[], ?::timestamptz[], ?::timestamptz[]) AS v(id, login, activity)",
			pgdialect.Array(ids), pgdialect.Array(logins), pgdialect.Array(activity)).
		Set("last_activity_at = greatest(a.last_activity_at, v.activity)").
		Set("last_login_at = greatest(a.last_login_at, v.login)").
		Where("a.id = v.id").Exec(ctx)
	if err != nil {
		return mapErr("advance account activity", err)
	}
	return nil
}

// AdvanceContactSeen moves contacts' last_seen_at forward, locking in id order first.
func AdvanceContactSeen(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID, seen []time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	if err := t.Select(idb, (*Contact)(nil)).Column("c.id").Where("c.id IN (?)", bun.In(ids)).
		OrderExpr("c.id").For("NO KEY UPDATE").Scan(ctx, new([]uuid.UUID)); err != nil {
		return mapErr("lock contacts for last seen", err)
	}
	_, err := t.Update(idb, (*Contact)(nil)).
		TableExpr("unnest(?::uuid[], ?::timestamptz[]) AS v(id, seen)", pgdialect.Array(ids), pgdialect.Array(seen)).
		Set("last_seen_at = greatest(c.last_seen_at, v.seen)").
		Where("c.id = v.id").Exec(ctx)
	if err != nil {
		return mapErr("advance contact last seen", err)
	}
	return nil
}
