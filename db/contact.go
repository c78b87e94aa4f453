package db

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// GetContact loads one contact of the tenant.
func GetContact(ctx context.Context, idb bun.IDB, t Tenant, id uuid.UUID) (*Contact, error) {
	c := new(Contact)
	if err := t.Select(idb, c).Where("c.id = ?", id).Scan(ctx); err != nil {
		return nil, mapErr("get contact", err)
	}
	return c, nil
}

// ContactsPage lists an account's live contacts in creation order after a keyset cursor.
func ContactsPage(ctx context.Context, idb bun.IDB, t Tenant, accountID uuid.UUID, first int, after *PageCursor) ([]Contact, bool, error) {
	var rows []Contact
	q := t.Select(idb, &rows).Where("c.account_id = ? AND c.archived_at IS NULL", accountID)
	if after != nil {
		q.Where("(c.created_at, c.id) > (?::timestamptz, ?)", after.Key, after.ID)
	}
	if err := q.OrderExpr("c.created_at, c.id").Limit(int64(first + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr("list contacts", err)
	}
	hasNext := len(rows) > first
	if hasNext {
		rows = rows[:first]
	}
	return rows, hasNext, nil
}

// FirstContactsByAccountIDs returns, for several accounts at once, each account's first
// `limit` live contacts in creation order (plus one more, so callers can tell if more follow).
func FirstContactsByAccountIDs(ctx context.Context, idb bun.IDB, t Tenant, accountIDs []uuid.UUID, limit int) ([]Contact, error) {
	var rows []Contact
	ranked := t.Select(idb, (*Contact)(nil)).ColumnExpr("c.*").
		ColumnExpr("row_number() OVER (PARTITION BY c.account_id ORDER BY c.created_at, c.id) AS rn").
		Where("c.account_id IN (?) AND c.archived_at IS NULL", bun.In(accountIDs))
	err := idb.NewSelect().Model(&rows).
		ModelTableExpr("(?) AS c", ranked).
		Where("c.rn <= ?", limit+1).
		OrderExpr("c.account_id, c.created_at, c.id").Scan(ctx)
	if err != nil {
		return nil, mapErr("load first contacts", err)
	}
	return rows, nil
}

// CountContactsByAccountIDs counts live contacts per account.
func CountContactsByAccountIDs(ctx context.Context, idb bun.IDB, t Tenant, accountIDs []uuid.UUID) (map[uuid.UUID]int, error) {
	var rows []struct {
		AccountID uuid.UUID `bun:"account_id"`
		N         int       `bun:"n"`
	}
	err := t.Select(idb, (*Contact)(nil)).ColumnExpr("c.account_id, count(*) AS n").
		Where("c.account_id IN (?) AND c.archived_at IS NULL", bun.In(accountIDs)).
		GroupExpr("c.account_id").Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("count contacts", err)
	}
	out := make(map[uuid.UUID]int, len(rows))
	for _, r := range rows {
		out[r.AccountID] = r.N
	}
	return out, nil
}

// ContactsByEmails finds contacts by (account, lower(email)) pairs for event recording.
func ContactsByEmails(ctx context.Context, idb bun.IDB, t Tenant, accountIDs []uuid.UUID, emails []string) ([]Contact, error) {
	var rows []Contact
	err := t.Select(idb, &rows).
		Where("c.account_id IN (?) AND lower(c.email) IN (?)", bun.In(accountIDs), bun.In(emails)).Scan(ctx)
	if err != nil {
		return nil, mapErr("find contacts by email", err)
	}
	return rows, nil
}

// InsertContact stores a new contact.
func InsertContact(ctx context.Context, idb bun.IDB, t Tenant, c *Contact) error {
	if _, err := Insert(t, idb, c).Returning("*").Exec(ctx); err != nil {
		return mapErr("insert contact", err)
	}
	return nil
}

// UpdateContact writes every column of c back and refreshes updated_at.
func UpdateContact(ctx context.Context, idb bun.IDB, t Tenant, c *Contact) error {
	res, err := t.Update(idb, c).
		ExcludeColumn("workspace_id", "id", "account_id", "created_at", "updated_at").
		Set("updated_at = now()").
		WherePK().Returning("*").Exec(ctx)
	if err != nil {
		return mapErr("update contact", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update contact: %w", ErrNotFound)
	}
	return nil
}

// ContactsByIDs loads contacts by id; missing ids are simply absent from the result.
func ContactsByIDs(ctx context.Context, idb bun.IDB, t Tenant, ids []uuid.UUID) ([]Contact, error) {
	var rows []Contact
	if err := t.Select(idb, &rows).Where("c.id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, mapErr("load contacts", err)
	}
	return rows, nil
}
