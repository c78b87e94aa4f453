package graph

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/vikstrous/dataloadgen"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
)

// loaderWait is how long a loader gathers keys before it fetches them in one query.
const loaderWait = 2 * time.Millisecond

// loaders batch the relation fields of one operation: each fetch is one query whatever the
// page size, so a list of N accounts costs the same number of statements as a list of one.
type loaders struct {
	bun    *bun.DB
	tenant db.Tenant

	users         *dataloadgen.Loader[uuid.UUID, *db.Member]
	teamRoles     *dataloadgen.Loader[uuid.UUID, *db.TeamRole]
	accounts      *dataloadgen.Loader[uuid.UUID, *db.Account]
	contacts      *dataloadgen.Loader[uuid.UUID, *db.Contact]
	plays         *dataloadgen.Loader[uuid.UUID, *db.Play]
	journeys      *dataloadgen.Loader[uuid.UUID, *db.Journey]
	tasks         *dataloadgen.Loader[uuid.UUID, *db.Task]
	teams         *dataloadgen.Loader[uuid.UUID, []db.AccountTeamMember]
	contactCounts *dataloadgen.Loader[uuid.UUID, int]

	mu            sync.Mutex
	firstContacts map[int]*dataloadgen.Loader[uuid.UUID, []db.Contact]
}

type loadersKey struct{}

// withLoaders gives an operation its own loaders (their caches must not outlive it).
func withLoaders(ctx context.Context, b *bun.DB) context.Context {
	v, ok := auth.ViewerFrom(ctx)
	if !ok {
		return ctx
	}
	l := &loaders{bun: b, tenant: v.Tenant(), firstContacts: map[int]*dataloadgen.Loader[uuid.UUID, []db.Contact]{}}
	opt := dataloadgen.WithWait(loaderWait)
	l.users = dataloadgen.NewMappedLoader(byID(l, db.UsersByIDs, func(m *db.Member) uuid.UUID { return m.ID }), opt)
	l.teamRoles = dataloadgen.NewMappedLoader(byID(l, db.TeamRolesByIDs, func(r *db.TeamRole) uuid.UUID { return r.ID }), opt)
	l.accounts = dataloadgen.NewMappedLoader(byID(l, db.AccountsByIDs, func(a *db.Account) uuid.UUID { return a.ID }), opt)
	l.contacts = dataloadgen.NewMappedLoader(byID(l, db.ContactsByIDs, func(c *db.Contact) uuid.UUID { return c.ID }), opt)
	l.plays = dataloadgen.NewMappedLoader(byID(l, db.PlaysByIDs, func(p *db.Play) uuid.UUID { return p.ID }), opt)
	l.journeys = dataloadgen.NewMappedLoader(byID(l, db.JourneysByIDs, func(j *db.Journey) uuid.UUID { return j.ID }), opt)
	l.tasks = dataloadgen.NewMappedLoader(byID(l, db.TasksByIDs, func(t *db.Task) uuid.UUID { return t.ID }), opt)
	l.teams = dataloadgen.NewLoader(l.fetchTeams, opt)
	l.contactCounts = dataloadgen.NewLoader(l.fetchContactCounts, opt)
	return context.WithValue(ctx, loadersKey{}, l)
}

func loadersFrom(ctx context.Context) *loaders {
	return ctx.Value(loadersKey{}).(*loaders)
}

// byID adapts a tenant-scoped "load rows by ids" query function to a mapped loader fetch.
func byID[T any](l *loaders, load func(context.Context, bun.IDB, db.Tenant, []uuid.UUID) ([]T, error), id func(*T) uuid.UUID) func(context.Context, []uuid.UUID) (map[uuid.UUID]*T, error) {
	return func(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*T, error) {
		rows, err := load(ctx, l.bun, l.tenant, ids)
		out := make(map[uuid.UUID]*T, len(rows))
		for i := range rows {
			out[id(&rows[i])] = &rows[i]
		}
		return out, err
	}
}

func (l *loaders) fetchTeams(ctx context.Context, ids []uuid.UUID) ([][]db.AccountTeamMember, []error) {
	rows, err := db.TeamMembersByAccountIDs(ctx, l.bun, l.tenant, ids)
	if err != nil {
		return nil, batchErr(err)
	}
	byAccount := map[uuid.UUID][]db.AccountTeamMember{}
	for _, r := range rows {
		byAccount[r.AccountID] = append(byAccount[r.AccountID], r)
	}
	out := make([][]db.AccountTeamMember, len(ids))
	for i, id := range ids {
		out[i] = byAccount[id]
	}
	return out, nil
}

func (l *loaders) fetchContactCounts(ctx context.Context, ids []uuid.UUID) ([]int, []error) {
	counts, err := db.CountContactsByAccountIDs(ctx, l.bun, l.tenant, ids)
	if err != nil {
		return nil, batchErr(err)
	}
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = counts[id]
	}
	return out, nil
}

// firstContactsLoader batches "the first n contacts" of many accounts; there is one loader
// per n, since the n is part of the query.
func (l *loaders) firstContactsLoader(n int) *dataloadgen.Loader[uuid.UUID, []db.Contact] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ld, ok := l.firstContacts[n]; ok {
		return ld
	}
	ld := dataloadgen.NewLoader(func(ctx context.Context, ids []uuid.UUID) ([][]db.Contact, []error) {
		rows, err := db.FirstContactsByAccountIDs(ctx, l.bun, l.tenant, ids, n)
		if err != nil {
			return nil, batchErr(err)
		}
		byAccount := map[uuid.UUID][]db.Contact{}
		for _, r := range rows {
			byAccount[r.AccountID] = append(byAccount[r.AccountID], r)
		}
		out := make([][]db.Contact, len(ids))
		for i, id := range ids {
			out[i] = byAccount[id]
		}
		return out, nil
	}, dataloadgen.WithWait(loaderWait))
	l.firstContacts[n] = ld
	return ld
}

// batchErr fails a whole batch with err. dataloadgen hands a single error to every key; with
// one error per key it would also want one value per key, and report a nil values slice as
// "bug in fetch function" instead of err.
func batchErr(err error) []error {
	return []error{err}
}
