package db

import (
	"context"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// TimelinePage lists an account's timeline, newest first, after a keyset cursor.
func TimelinePage(ctx context.Context, idb bun.IDB, t Tenant, accountID uuid.UUID, kinds []string, first int, after *PageCursor) ([]TimelineEntry, bool, error) {
	var rows []TimelineEntry
	q := t.Select(idb, &rows).Where("te.account_id = ?", accountID)
	if len(kinds) > 0 {
		q.Where("te.kind IN (?)", bun.In(kinds))
	}
	if after != nil {
		q.Where("(te.occurred_at, te.id) < (?::timestamptz, ?)", after.Key, after.ID)
	}
	if err := q.OrderExpr("te.occurred_at DESC, te.id DESC").Limit(int64(first + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr("list timeline", err)
	}
	hasNext := len(rows) > first
	if hasNext {
		rows = rows[:first]
	}
	return rows, hasNext, nil
}

// InsertTimelineEntry stores a timeline entry.
func InsertTimelineEntry(ctx context.Context, idb bun.IDB, t Tenant, e *TimelineEntry) error {
	if _, err := Insert(t, idb, e).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert timeline entry", err)
	}
	return nil
}

// GetTimelineEntry loads one timeline entry.
func GetTimelineEntry(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*TimelineEntry, error) {
	e := new(TimelineEntry)
	if err := t.Select(idb, e).Where("te.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get timeline entry", err)
	}
	return e, nil
}
