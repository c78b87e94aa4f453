package db

import (
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Tenant is the workspace a query runs in. Every query function on tenant-owned tables takes a
// Tenant and builds its query through Select, Update, Delete or Insert below, which is the one
// place that adds the workspace_id condition: no query can forget it.
type Tenant struct {
	WorkspaceID uuid.UUID
}

// Select starts a SELECT on model restricted to the tenant's rows.
func (t Tenant) Select(idb bun.IDB, model any) *bun.SelectQuery {
	return idb.NewSelect().Model(model).Where("?TableAlias.workspace_id = ?", t.WorkspaceID)
}

// Update starts an UPDATE on model restricted to the tenant's rows.
func (t Tenant) Update(idb bun.IDB, model any) *bun.UpdateQuery {
	return idb.NewUpdate().Model(model).Where("?TableAlias.workspace_id = ?", t.WorkspaceID)
}

// Delete starts a DELETE on model restricted to the tenant's rows.
func (t Tenant) Delete(idb bun.IDB, model any) *bun.DeleteQuery {
	return idb.NewDelete().Model(model).Where("?TableAlias.workspace_id = ?", t.WorkspaceID)
}

// Insert starts an INSERT of rows after stamping each with the tenant's workspace id.
func Insert[T owned](t Tenant, idb bun.IDB, rows ...T) *bun.InsertQuery {
	for _, r := range rows {
		r.setWorkspace(t.WorkspaceID)
	}
	if len(rows) == 1 {
		return idb.NewInsert().Model(rows[0])
	}
	return idb.NewInsert().Model(&rows)
}

// owned is implemented by every tenant-owned model through the embedded Owned.
type owned interface {
	setWorkspace(uuid.UUID)
}

// Owned is embedded in every tenant-owned model: the workspace id that leads its keys.
type Owned struct {
	WorkspaceID uuid.UUID `bun:"workspace_id,pk,type:uuid"`
}

func (o *Owned) setWorkspace(id uuid.UUID) { o.WorkspaceID = id }
