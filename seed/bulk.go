package seed

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/schollz/progressbar/v3"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"golang.org/x/sync/errgroup"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
)

// Bulk defaults.
const (
	DefaultBulkWorkspaceName  = "Bulk load"
	DefaultContactsPerAccount = 3
	DefaultEventsPerAccount   = 5
	// DefaultBulkBatchSize is the accounts written per transaction, with their contacts and
	// events: large enough that per-batch round trips do not matter, small enough that a batch's
	// rows stay a few megabytes in memory.
	DefaultBulkBatchSize = 10_000
	// DefaultBulkConnections is how many batches are written at once. Two keep a two-core
	// server busy: while one connection's rows are checked and indexed, the other's arrive.
	DefaultBulkConnections = 2
	// bulkCSMs is how many CSM users Bulk creates to own the accounts when the workspace has none.
	bulkCSMs = 5
)

// BulkOptions says what Bulk generates.
type BulkOptions struct {
	// WorkspaceID is the workspace to fill. The zero value creates a new workspace named
	// WorkspaceName, with the default team roles.
	WorkspaceID uuid.UUID
	// WorkspaceName names the new workspace; empty means DefaultBulkWorkspaceName.
	WorkspaceName string
	// Accounts is how many accounts to create; it must be positive.
	Accounts int
	// ContactsPerAccount is every account's number of contacts: 0 means
	// DefaultContactsPerAccount and a negative number means none.
	ContactsPerAccount int
	// EventsPerAccount is every account's number of usage events, in the 30 days before Now:
	// 0 means DefaultEventsPerAccount and a negative number means none.
	EventsPerAccount int
	// Progress, when set, receives a progress bar counting committed accounts.
	Progress io.Writer
	// Seed makes the generated content repeatable: the same seed gives the same companies,
	// people and events. Ids also depend on Now.
	Seed uint64
	// Now is the moment the data describes; the zero value means time.Now().
	Now time.Time
	// BatchSize is the accounts written per transaction; 0 means DefaultBulkBatchSize.
	BatchSize int
	// Connections is how many batches are written in parallel, each on its own pooled
	// connection; 0 means DefaultBulkConnections. The pool must allow that many.
	Connections int
}

// withDefaults fills zero fields with their defaults and rejects impossible values.
func (o BulkOptions) withDefaults() (BulkOptions, error) {
	if o.Accounts <= 0 {
		return o, fmt.Errorf("bulk options: Accounts must be positive, got %d", o.Accounts)
	}
	if o.BatchSize < 0 {
		return o, fmt.Errorf("bulk options: BatchSize must not be negative, got %d", o.BatchSize)
	}
	if o.Connections < 0 {
		return o, fmt.Errorf("bulk options: Connections must not be negative, got %d", o.Connections)
	}
	if o.WorkspaceName == "" {
		o.WorkspaceName = DefaultBulkWorkspaceName
	}
	o.ContactsPerAccount = orDefault(o.ContactsPerAccount, DefaultContactsPerAccount)
	o.EventsPerAccount = orDefault(o.EventsPerAccount, DefaultEventsPerAccount)
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBulkBatchSize
	}
	if o.Connections == 0 {
		o.Connections = DefaultBulkConnections
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	return o, nil
}

// orDefault maps 0 to def and negative numbers to 0.
func orDefault(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// BulkResult is what Bulk wrote. After an error it counts what was committed before it.
type BulkResult struct {
	// WorkspaceID is the workspace filled: the one given, or the one created.
	WorkspaceID uuid.UUID
	// Users is the number of users Bulk created (none when the workspace already had CSMs).
	Users int
	// Accounts, Contacts and Events are the rows committed.
	Accounts int64
	Contacts int64
	Events   int64
	// Elapsed is the wall time of the whole call, setup included.
	Elapsed time.Duration
}

// Rows is the number of accounts, contacts and events written.
func (r *BulkResult) Rows() int64 { return r.Accounts + r.Contacts + r.Events }

// RowsPerSecond is Rows over Elapsed.
func (r *BulkResult) RowsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Rows()) / r.Elapsed.Seconds()
}

// Bulk generates a large, realistic workspace for performance work: accounts shaped like the
// demo's, with their contacts and usage events, written with COPY in batches of BatchSize
// accounts, each batch in its own transaction. Batches are generated in memory while earlier
// ones are being written, and Connections batches are written at once.
//
// The accounts are owned by the workspace's CSMs; when it has none, Bulk creates five, plus an
// admin for a new workspace, all with the password DemoAdminPassword. External ids continue
// after the accounts the workspace already has, so Bulk can be run repeatedly on one workspace.
//
// Bulk is not atomic: on error the batches committed so far stay, and the error says how many
// accounts that was.
func Bulk(ctx context.Context, pool *pgxpool.Pool, opts BulkOptions) (*BulkResult, error) {
	start := time.Now()
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	setup, err := prepareBulk(ctx, pool, opts)
	if err != nil {
		return nil, fmt.Errorf("bulk seed: %w", err)
	}
	res := &BulkResult{WorkspaceID: setup.workspaceID, Users: setup.usersCreated}

	gen := &bulkGen{
		opts:   opts,
		setup:  setup,
		idBase: opts.Now.UnixMilli(),
		runTag: strconv.FormatInt(opts.Now.UnixMilli(), 36),
	}
	batches := (opts.Accounts + opts.BatchSize - 1) / opts.BatchSize

	var bar *progressbar.ProgressBar
	if opts.Progress != nil {
		bar = progressbar.NewOptions64(int64(opts.Accounts),
			progressbar.OptionSetWriter(opts.Progress),
			progressbar.OptionSetDescription("accounts"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(opts.Progress) }),
		)
	}

	var accounts, contacts, events atomic.Int64
	g, gctx := errgroup.WithContext(ctx)

	// Batch numbers to generate, in order.
	todo := make(chan int)
	g.Go(func() error {
		defer close(todo)
		for i := range batches {
			select {
			case todo <- i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})

	// Generated batches waiting to be written; generators are one batch ahead of writers.
	ready := make(chan *bulkBatch, opts.Connections)
	var generators sync.WaitGroup
	for range opts.Connections {
		generators.Add(1)
		g.Go(func() error {
			defer generators.Done()
			for i := range todo {
				select {
				case ready <- gen.batch(i):
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		generators.Wait()
		close(ready)
		return nil
	})

	for range opts.Connections {
		g.Go(func() error {
			for b := range ready {
				if err := writeBatch(gctx, pool, b); err != nil {
					return err
				}
				accounts.Add(int64(len(b.accounts)))
				contacts.Add(int64(len(b.contacts)))
				events.Add(int64(len(b.events)))
				if bar != nil {
					_ = bar.Add(len(b.accounts))
				}
			}
			return nil
		})
	}

	err = g.Wait()
	res.Accounts, res.Contacts, res.Events = accounts.Load(), contacts.Load(), events.Load()
	res.Elapsed = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("bulk seed (%d accounts committed): %w", res.Accounts, err)
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return res, nil
}

// bulkSetup is what Bulk knows before generating: where the rows go and who owns them.
type bulkSetup struct {
	workspaceID  uuid.UUID
	csms         []uuid.UUID
	usersCreated int
	// externalOffset is the number of accounts the workspace had; new external ids follow it.
	externalOffset int
}

// prepareBulk creates or checks the workspace and finds or creates its CSMs, in one
// transaction through bun over the same pool.
func prepareBulk(ctx context.Context, pool *pgxpool.Pool, opts BulkOptions) (*bulkSetup, error) {
	b := bun.NewDB(stdlib.OpenDBFromPool(pool), pgdialect.New())
	defer b.Close() // closes the database/sql handle only; the pool stays open
	s := &bulkSetup{}
	err := db.InTx(ctx, b, func(ctx context.Context, tx bun.Tx) error {
		newWorkspace := opts.WorkspaceID == uuid.Nil
		if newWorkspace {
			ws, err := db.CreateWorkspace(ctx, tx, opts.WorkspaceName)
			if err != nil {
				return err
			}
			s.workspaceID = ws.ID
		} else {
			if _, err := db.GetWorkspace(ctx, tx, opts.WorkspaceID); err != nil {
				return err
			}
			s.workspaceID = opts.WorkspaceID
		}
		t := db.Tenant{WorkspaceID: s.workspaceID}

		members, err := db.ListMembers(ctx, tx, t)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.Role == db.RoleCSM && m.DisabledAt == nil {
				s.csms = append(s.csms, m.ID)
			}
		}
		if len(s.csms) == 0 {
			if err := createBulkUsers(ctx, tx, t, opts, newWorkspace, s); err != nil {
				return err
			}
		}

		n, err := t.Select(tx, (*db.Account)(nil)).Count(ctx)
		if err != nil {
			return fmt.Errorf("count accounts: %w", err)
		}
		s.externalOffset = int(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prepare workspace: %w", err)
	}
	return s, nil
}

// createBulkUsers adds bulkCSMs CSMs, and an admin when the workspace is new, with addresses
// under the workspace's own test domain so that they never clash with another run's users.
func createBulkUsers(ctx context.Context, tx bun.Tx, t db.Tenant, opts BulkOptions, withAdmin bool, s *bulkSetup) error {
	hash, err := auth.HashPassword(DemoAdminPassword)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(opts.Seed, 1<<63))
	domain := "ws-" + t.WorkspaceID.String()[:8] + ".steward.test"
	roles := make([]string, 0, bulkCSMs+1)
	if withAdmin {
		roles = append(roles, db.RoleAdmin)
	}
	for range bulkCSMs {
		roles = append(roles, db.RoleCSM)
	}
	seen := map[string]bool{}
	for _, role := range roles {
		name, local := personName(r)
		for seen[local] {
			name, local = personName(r)
		}
		seen[local] = true
		u := &db.User{Email: local + "@" + domain, Name: name, PasswordHash: hash, CreatedAt: opts.Now, UpdatedAt: opts.Now}
		if err := db.InsertUser(ctx, tx, u); err != nil {
			return err
		}
		if err := db.InsertMembership(ctx, tx, t, &db.Membership{UserID: u.ID, Role: role, CreatedAt: opts.Now}); err != nil {
			return err
		}
		if role == db.RoleCSM {
			s.csms = append(s.csms, u.ID)
		}
		s.usersCreated++
	}
	return nil
}

// Rows of a batch, as COPY receives them.
type (
	bulkAccount struct {
		id                       uuid.UUID
		name, domain, externalID string
		owner                    *uuid.UUID
		p                        profile
		custom                   []byte
		lastLogin, lastActivity  time.Time // zero: none
	}
	bulkContact struct {
		id, accountID  uuid.UUID
		name, email    string
		title, persona string
		lastSeen       time.Time // zero: never
		optOut         bool
		createdAt      time.Time
	}
	bulkEvent struct {
		clientID             string
		accountID, contactID uuid.UUID // contactID zero: none
		name                 string
		at                   time.Time
		props                []byte
	}
	bulkBatch struct {
		workspaceID uuid.UUID
		now         time.Time
		accounts    []bulkAccount
		contacts    []bulkContact
		events      []bulkEvent
	}
)

// bulkGen generates batches. batch is safe for concurrent use: every batch has its own random
// generator, seeded from the options' seed and the batch number, so the data does not depend on
// which goroutine generated which batch.
type bulkGen struct {
	opts   BulkOptions
	setup  *bulkSetup
	idBase int64  // unix milliseconds of the ids' timestamp
	runTag string // distinguishes this run's client event ids from another run's
}

// bulkEvents are the usage events of bulk accounts, by frequency.
var bulkEvents = []weighted[string]{
	{eventLogin, 30}, {eventReportViewed, 30}, {eventExportRun, 8}, {eventWorkflowRun, 10},
	{eventDashboardCreated, 6}, {eventUserInvited, 3}, {eventIntegrationConnected, 1},
	{eventSyncCompleted, 12},
}

// batch generates batch number i.
func (g *bulkGen) batch(i int) *bulkBatch {
	o := g.opts
	r := rand.New(rand.NewPCG(o.Seed, uint64(i)))
	first := i * o.BatchSize
	n := min(o.BatchSize, o.Accounts-first)
	b := &bulkBatch{
		workspaceID: g.setup.workspaceID,
		now:         o.Now,
		accounts:    make([]bulkAccount, n),
		contacts:    make([]bulkContact, 0, n*o.ContactsPerAccount),
		events:      make([]bulkEvent, 0, n*o.EventsPerAccount),
	}
	accountIDs := idGen{base: g.idBase, seq: uint64(first), r: r}
	contactIDs := idGen{base: g.idBase, seq: uint64(first * o.ContactsPerAccount), r: r}
	eventSeq := uint64(first * o.EventsPerAccount)
	var clientID []byte

	for k := range n {
		a := &b.accounts[k]
		ind := oneOf(r, industries)
		a.p = newProfile(r, o.Now, ind)
		words := []string{oneOf(r, companyWords), ind.word}
		if chance(r, 0.6) {
			words = []string{words[0], oneOf(r, companyMiddles), ind.word}
		}
		a.name, a.domain = companyName(r, a.p.region, words...)
		a.id = accountIDs.next()
		a.externalID = "crm-" + zeroPad(g.setup.externalOffset+first+k+1, 7)
		if !chance(r, 0.02) {
			a.owner = &g.setup.csms[r.IntN(len(g.setup.csms))]
		}
		a.custom = a.p.custom(nil)

		c0 := len(b.contacts)
		for j := range o.ContactsPerAccount {
			persona := personaEndUser
			if j < 3 {
				persona = [...]string{personaDecisionMaker, personaChampion, personaAdmin}[j]
			}
			name, local := personName(r)
			email := local + "@" + a.domain
			for m := c0; m < len(b.contacts); m++ {
				if b.contacts[m].email == email {
					email = local + strconv.Itoa(j+1) + "@" + a.domain
					break
				}
			}
			b.contacts = append(b.contacts, bulkContact{
				id:        contactIDs.next(),
				accountID: a.id,
				name:      name,
				email:     email,
				title:     oneOf(r, titles[persona]),
				persona:   persona,
				optOut:    chance(r, 0.03),
				createdAt: a.p.createdAt.Add(time.Duration(r.IntN(30*24)) * time.Hour),
			})
		}
		contacts := b.contacts[c0:]

		// Events fall between from and until, more of them towards until: accounts that went
		// quiet (and churned ones) stop well before now.
		from := o.Now.Add(-activityWindow)
		if a.p.createdAt.After(from) {
			from = a.p.createdAt
		}
		until := o.Now
		switch {
		case a.p.stage == stageChurned:
			until = o.Now.Add(-time.Duration(between(r, 20, 29)) * day)
		case a.p.quietSince != nil:
			until = *a.p.quietSince
		}
		if !from.Before(until) {
			from = until.Add(-day)
		}
		span := float64(until.Sub(from))
		for e := range o.EventsPerAccount {
			u := r.Float64()
			at := until.Add(-time.Duration(u * u * span))
			name := eventLogin
			if e > 0 {
				name = pick(r, bulkEvents)
			}
			// People work office hours in their region; syncs run at night.
			hour := workdayStart(a.p.region) + time.Duration(r.IntN(9*3600))*time.Second
			if name == eventSyncCompleted {
				hour = 2*time.Hour + time.Duration(r.IntN(3600))*time.Second
			}
			if t := at.Truncate(day).Add(hour); !t.Before(from) && !t.After(until) {
				at = t
			}
			at = at.Truncate(time.Microsecond)
			ev := bulkEvent{accountID: a.id, name: name, at: at, props: propertiesFor(r, name)}
			if name != eventSyncCompleted && len(contacts) > 0 {
				c := &contacts[r.IntN(len(contacts))]
				ev.contactID = c.id
				if at.After(c.lastSeen) {
					c.lastSeen = at
				}
			}
			if name == eventLogin && at.After(a.lastLogin) {
				a.lastLogin = at
			}
			if at.After(a.lastActivity) {
				a.lastActivity = at
			}
			clientID = append(clientID[:0], 'b')
			clientID = append(clientID, g.runTag...)
			clientID = append(clientID, '-')
			clientID = appendBase36(clientID, eventSeq, clientIDDigits)
			eventSeq++
			ev.clientID = string(clientID)
			b.events = append(b.events, ev)
		}
	}
	return b
}

// clientIDDigits is the width of the sequence in bulk client event ids: fixed, so that ids sort
// in generation order and the unique index grows at its right edge. Six base-36 digits count to
// about 2.2 billion events per run (beyond that ids get longer: still unique, no longer sorted).
const clientIDDigits = 6

// appendBase36 appends n in base 36, zero-padded to width digits.
func appendBase36(dst []byte, n uint64, width int) []byte {
	var buf [13]byte
	i := len(buf)
	for n > 0 || len(buf)-i < width {
		i--
		buf[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[n%36]
		n /= 36
	}
	return append(dst, buf[i:]...)
}

// zeroPad formats n in decimal with at least width digits.
func zeroPad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// Columns COPY writes, in the order the sources below produce values.
var (
	accountColumns = []string{
		"workspace_id", "id", "name", "domain", "external_id", "owner_id", "stage", "arr_minor",
		"arr_currency", "renewal_date", "health_score", "tags", "custom", "last_login_at",
		"last_activity_at", "created_at", "updated_at",
	}
	contactColumns = []string{
		"workspace_id", "id", "account_id", "name", "email", "title", "persona", "last_seen_at",
		"email_opt_out", "created_at", "updated_at",
	}
	eventColumns = []string{
		"workspace_id", "client_event_id", "account_id", "contact_id", "name", "occurred_at",
		"properties", "received_at",
	}
)

// writeBatch writes a batch in one transaction: accounts, then the contacts and events that
// reference them. The batch's commit need not wait for its WAL to reach disk: a crash loses at
// most the last batches of a seed, never consistency.
func writeBatch(ctx context.Context, pool *pgxpool.Pool, b *bulkBatch) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return fmt.Errorf("relax commit: %w", err)
		}
		ws := pguuid(b.workspaceID)
		if err := copyRows(ctx, tx, "accounts", accountColumns, b.accounts, func(a *bulkAccount, v []any) {
			v[0], v[1], v[2], v[3], v[4] = ws, pguuid(a.id), a.name, a.domain, a.externalID
			v[5] = nil
			if a.owner != nil {
				v[5] = pguuid(*a.owner)
			}
			v[6], v[7], v[8], v[9] = a.p.stage, a.p.arrMinor, a.p.currency, *a.p.renewal
			v[10] = nil
			if a.p.health != nil {
				v[10] = int16(*a.p.health)
			}
			v[11], v[12], v[13], v[14] = a.p.tags, a.custom, optTime(a.lastLogin), optTime(a.lastActivity)
			v[15], v[16] = a.p.createdAt, b.now
		}); err != nil {
			return err
		}
		if err := copyRows(ctx, tx, "contacts", contactColumns, b.contacts, func(c *bulkContact, v []any) {
			v[0], v[1], v[2], v[3], v[4], v[5] = ws, pguuid(c.id), pguuid(c.accountID), c.name, c.email, c.title
			v[6], v[7], v[8], v[9], v[10] = c.persona, optTime(c.lastSeen), c.optOut, c.createdAt, b.now
		}); err != nil {
			return err
		}
		return copyRows(ctx, tx, "events", eventColumns, b.events, func(e *bulkEvent, v []any) {
			v[0], v[1], v[2], v[3] = ws, e.clientID, pguuid(e.accountID), nil
			if e.contactID != uuid.Nil {
				v[3] = pguuid(e.contactID)
			}
			v[4], v[5], v[6], v[7] = e.name, e.at, e.props, e.at.Add(2*time.Second)
		})
	})
}

// copyRows COPYs rows into table, fill turning each row into the column values.
func copyRows[T any](ctx context.Context, tx pgx.Tx, table string, columns []string, rows []T, fill func(*T, []any)) error {
	if len(rows) == 0 {
		return nil
	}
	src := &rowSource[T]{rows: rows, fill: fill, vals: make([]any, len(columns))}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("copy %s: wrote %d of %d rows", table, n, len(rows))
	}
	return nil
}

// rowSource is a pgx.CopyFromSource over a slice. pgx encodes each row's values before asking
// for the next, so one values slice serves every row.
type rowSource[T any] struct {
	rows []T
	i    int
	vals []any
	fill func(*T, []any)
}

func (s *rowSource[T]) Next() bool {
	s.i++
	return s.i <= len(s.rows)
}

func (s *rowSource[T]) Values() ([]any, error) {
	s.fill(&s.rows[s.i-1], s.vals)
	return s.vals, nil
}

func (s *rowSource[T]) Err() error { return nil }

func pguuid(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

// optTime is t, or NULL when t is zero.
func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
