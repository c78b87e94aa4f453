package graph

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/graph/model"
)

// Helpers shared by the resolvers: loads through the operation's loaders, pages of relations
// and node lookup. Each keeps a resolver to one line.

// loadUser loads a workspace member; a user who is no longer a member reads as null.
func loadUser(ctx context.Context, id uuid.UUID) (*model.User, error) {
	m, err := loadersFrom(ctx).users.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return convertOrErr(m, err, toGraphUser)
}

func loadAccount(ctx context.Context, id uuid.UUID) (*model.Account, error) {
	a, err := loadersFrom(ctx).accounts.Load(ctx, id)
	return convertOrErr(a, err, toGraphAccount)
}

func toGraphTeam(rows []db.AccountTeamMember) []*model.TeamMember {
	out := make([]*model.TeamMember, len(rows))
	for i, r := range rows {
		out[i] = &model.TeamMember{RoleID: r.TeamRoleID, UserID: r.UserID}
	}
	return out
}

// contactsPage serves the first page of many accounts' contacts through one batched query,
// and later pages (with a cursor) directly.
func contactsPage(ctx context.Context, svc *account.Service, accountID uuid.UUID, first *int, after *string) (*model.ContactConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	cursor, err := decodeCursor(after, "contacts")
	if err != nil {
		return nil, err
	}
	var rows []db.Contact
	var hasNext bool
	if cursor == nil {
		rows, err = loadersFrom(ctx).firstContactsLoader(n).Load(ctx, accountID)
		if hasNext = len(rows) > n; hasNext {
			rows = rows[:n]
		}
	} else {
		rows, hasNext, err = svc.ContactsPage(ctx, viewer(ctx).Tenant(), accountID, n, cursor)
	}
	if err != nil {
		return nil, err
	}
	conn := &model.ContactConnection{AccountID: accountID, PageInfo: &model.PageInfo{HasNextPage: hasNext}}
	for i := range rows {
		c := &rows[i]
		cur := encodeCursor("contacts", c.CreatedAt.Format(pgTimestamp), c.ID)
		conn.Edges = append(conn.Edges, &model.ContactEdge{Cursor: cur, Node: toGraphContact(c)})
		conn.PageInfo.EndCursor = &cur
	}
	if conn.Edges == nil {
		conn.Edges = []*model.ContactEdge{}
	}
	return conn, nil
}

// pgTimestamp prints a timestamp so that PostgreSQL reads back the exact microsecond.
const pgTimestamp = "2006-01-02T15:04:05.999999Z07:00"

func timelinePage(ctx context.Context, svc *account.Service, accountID uuid.UUID, first *int, after *string, kinds []model.TimelineKind) (*model.TimelineConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	cursor, err := decodeCursor(after, "timeline")
	if err != nil {
		return nil, err
	}
	var kindNames []string
	for _, k := range kinds {
		kindNames = append(kindNames, string(k))
	}
	rows, hasNext, err := svc.TimelinePage(ctx, viewer(ctx).Tenant(), accountID, kindNames, n, cursor)
	if err != nil {
		return nil, err
	}
	conn := &model.TimelineConnection{Edges: []*model.TimelineEdge{}, PageInfo: &model.PageInfo{HasNextPage: hasNext}}
	for i := range rows {
		e := &rows[i]
		cur := encodeCursor("timeline", e.OccurredAt.Format(pgTimestamp), e.ID)
		conn.Edges = append(conn.Edges, &model.TimelineEdge{Cursor: cur, Node: toGraphTimelineEntry(e)})
		conn.PageInfo.EndCursor = &cur
	}
	return conn, nil
}

var accountOrders = map[model.AccountOrderField]string{
	model.AccountOrderFieldCreatedAt:   db.AccountOrderCreatedAt,
	model.AccountOrderFieldName:        db.AccountOrderName,
	model.AccountOrderFieldHealthScore: db.AccountOrderHealthScore,
	model.AccountOrderFieldRenewalDate: db.AccountOrderRenewalDate,
}

func toAccountPage(first *int, after *string, filter *model.AccountFilter, orderBy *model.AccountOrder) (db.AccountPage, error) {
	var p db.AccountPage
	var err error
	if p.First, err = pageSize(first); err != nil {
		return p, err
	}
	if p.Filter, err = toAccountFilter(filter); err != nil {
		return p, err
	}
	p.Order = db.AccountOrderCreatedAt
	if orderBy != nil {
		p.Order = accountOrders[orderBy.Field]
		p.Descending = orderBy.Direction == model.OrderDirectionDesc
	}
	dir := "a"
	if p.Descending {
		dir = "d"
	}
	p.After, err = decodeCursor(after, "accounts:"+p.Order+":"+dir)
	return p, err
}

func toAccountConnection(rows []db.AccountRow, hasNext bool, p db.AccountPage) *model.AccountConnection {
	conn := &model.AccountConnection{Edges: make([]*model.AccountEdge, len(rows)), PageInfo: &model.PageInfo{HasNextPage: hasNext}, Filter: p.Filter}
	dir := "a"
	if p.Descending {
		dir = "d"
	}
	for i := range rows {
		cur := encodeCursor("accounts:"+p.Order+":"+dir, rows[i].SortKey, rows[i].ID)
		conn.Edges[i] = &model.AccountEdge{Cursor: cur, Node: toGraphAccount(&rows[i].Account)}
		conn.PageInfo.EndCursor = &cur
	}
	return conn
}

// node resolves a global id of any kind in the caller's workspace.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	kind, dbID, ok := splitID(id)
	if !ok {
		return nil, db.ErrNotFound
	}
	v := viewer(ctx)
	switch kind {
	case kindAccount:
		return nodeOrErr(loadAccount(ctx, dbID))
	case kindContact:
		c, err := r.AccountService.GetContact(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(c, err, toGraphContact))
	case kindTimelineEntry:
		e, err := r.AccountService.GetTimelineEntry(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(e, err, toGraphTimelineEntry))
	case kindUser:
		m, err := r.AuthService.Member(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(m, err, toGraphUser))
	case kindPlay:
		p, err := r.PlayService.Get(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(p, err, toGraphPlay))
	case kindJourney:
		j, err := r.JourneyService.Get(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(j, err, toGraphJourney))
	case kindEnrollment:
		e, err := r.JourneyEngine.View(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(e, err, toGraphEnrollment))
	case kindPlayRun:
		run, err := r.PlayEngine.Run(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(run, err, toGraphPlayRun))
	case kindTask:
		tk, err := r.TaskService.Get(ctx, v.Tenant(), dbID)
		return nodeOrErr(convertOrErr(tk, err, toGraphTask))
	case kindTeamRole:
		role, err := loadersFrom(ctx).teamRoles.Load(ctx, dbID)
		return nodeOrErr(convertOrErr(role, err, toGraphTeamRole))
	case kindAPIKey:
		if err := auth.Authorize(v, db.RoleAdmin, ""); err != nil {
			return nil, err
		}
		k, err := r.AuthService.APIKey(ctx, v, dbID)
		return nodeOrErr(convertOrErr(k, err, toGraphAPIKey))
	case kindWorkspace:
		if dbID != v.WorkspaceID {
			return nil, db.ErrNotFound
		}
		w, err := r.AuthService.Workspace(ctx, v)
		return nodeOrErr(convertOrErr(w, err, toGraphWorkspace))
	}
	return nil, db.ErrNotFound
}

// nodeOrErr returns a typed value as a Node without wrapping a nil pointer in the interface.
func nodeOrErr[T model.Node](n T, err error) (model.Node, error) {
	if err != nil {
		return nil, err
	}
	return n, nil
}

func (r *mutationResolver) authPayload(ctx context.Context, s *auth.Session) (*model.AuthPayload, error) {
	m, err := r.AuthService.Member(ctx, db.Tenant{WorkspaceID: s.WorkspaceID}, s.UserID)
	if err != nil {
		return nil, err
	}
	return toGraphAuthPayload(s, m), nil
}

func toGraphViewer(v *auth.Viewer) *model.Viewer {
	out := &model.Viewer{Role: model.Role(v.Role)}
	if v.IsAPIKey() {
		out.APIKeyID = &v.APIKeyID
		out.Role = model.RoleViewer
	} else {
		out.UserID = &v.UserID
	}
	return out
}

func viewerUserID(ctx context.Context) *uuid.UUID {
	if v := viewer(ctx); !v.IsAPIKey() {
		return &v.UserID
	}
	return nil
}

func parseOptionalInputID(id *string, kind, field string) (*uuid.UUID, error) {
	if id == nil {
		return nil, nil
	}
	u, err := parseInputID(*id, kind, field)
	return &u, err
}

// convertOrErr converts a domain value, or passes its error on.
func convertOrErr[S any, T any](v *S, err error, convert func(*S) *T) (*T, error) {
	if err != nil {
		return nil, err
	}
	return convert(v), nil
}

// action runs one change on the object of kind given by global id (NOT_FOUND for a bad id)
// and converts the result.
func action[S any, T any](ctx context.Context, id, kind string, act func(t db.Tenant, id uuid.UUID) (*S, error), convert func(*S) *T) (*T, error) {
	dbID, err := parseID(id, kind)
	if err != nil {
		return nil, err
	}
	v, err := act(viewer(ctx).Tenant(), dbID)
	return convertOrErr(v, err, convert)
}

// convertAll converts a slice of domain values, or passes its error on.
func convertAll[S any, T any](rows []S, err error, convert func(*S) *T) ([]*T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(rows))
	for i := range rows {
		out[i] = convert(&rows[i])
	}
	return out, nil
}
