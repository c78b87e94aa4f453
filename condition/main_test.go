package condition

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testNow is the instant tests evaluate at; its microseconds and nanoseconds check that both
// evaluators truncate alike.
var testNow = time.Date(2026, 6, 15, 10, 30, 0, 123_456_789, time.UTC)

// testBundle is one test's world: a fresh workspace on the package database.
type testBundle struct {
	ctx context.Context
	db  *dbtest.Database
	ws  *db.Workspace
	t   db.Tenant
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := t.Context()
	d := dbtest.DB(t)
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Conditions "+uuid.NewString()[:8])
	require.NoError(t, err)
	return &testBundle{ctx: ctx, db: d, ws: ws, t: db.Tenant{WorkspaceID: ws.ID}}
}

// createUser inserts a global user, e.g. to own accounts.
func (b *testBundle) createUser(t *testing.T) *db.User {
	t.Helper()
	u := &db.User{Email: "owner-" + uuid.NewString() + "@example.com", Name: "Owner"}
	require.NoError(t, db.InsertUser(b.ctx, b.db.Bun, u))
	return u
}

// accountOpts configures createAccount; zero fields get defaults.
type accountOpts struct {
	Name      string
	Stage     string // default ONBOARDING
	Health    *int
	ARR       int64
	Renewal   *time.Time
	Owner     *uuid.UUID
	Tags      []string
	Custom    string // JSON; default {}
	LastLogin *time.Time
	Created   time.Time // default testNow - 400 days
	Archived  bool
}

func (b *testBundle) createAccount(t *testing.T, o accountOpts) *db.Account {
	t.Helper()
	if o.Stage == "" {
		o.Stage = "ONBOARDING"
	}
	if o.Tags == nil {
		o.Tags = []string{}
	}
	if o.Custom == "" {
		o.Custom = "{}"
	}
	if o.Created.IsZero() {
		o.Created = testNow.Add(-400 * day)
	}
	if o.Name == "" {
		o.Name = "Account " + uuid.NewString()[:8]
	}
	a := &db.Account{
		Name: o.Name, Stage: o.Stage, HealthScore: o.Health, ARRMinor: o.ARR, ARRCurrency: "USD",
		RenewalDate: o.Renewal, OwnerID: o.Owner, Tags: o.Tags, Custom: json.RawMessage(o.Custom),
		LastLoginAt: o.LastLogin, CreatedAt: o.Created,
	}
	if o.Archived {
		at := testNow.Add(-day)
		a.ArchivedAt = &at
	}
	require.NoError(t, db.InsertAccount(b.ctx, b.db.Bun, b.t, a))
	return a
}

// contactOpts configures createContact; zero fields get defaults.
type contactOpts struct {
	Name     string
	Title    *string
	Persona  *string
	LastSeen *time.Time
	OptOut   bool
	Custom   string // JSON; default {}
	Archived bool
}

func (b *testBundle) createContact(t *testing.T, a *db.Account, o contactOpts) *db.Contact {
	t.Helper()
	if o.Custom == "" {
		o.Custom = "{}"
	}
	if o.Name == "" {
		o.Name = "Contact " + uuid.NewString()[:8]
	}
	c := &db.Contact{
		AccountID: a.ID, Name: o.Name, Email: uuid.NewString() + "@example.com", Title: o.Title,
		Persona: o.Persona, LastSeenAt: o.LastSeen, EmailOptOut: o.OptOut, Custom: json.RawMessage(o.Custom),
		CreatedAt: testNow.Add(-300 * day),
	}
	if o.Archived {
		at := testNow.Add(-day)
		c.ArchivedAt = &at
	}
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.t, c))
	return c
}

// addEvents records events of name for account a at the given instants.
func (b *testBundle) addEvents(t *testing.T, a *db.Account, name string, at ...time.Time) {
	t.Helper()
	rows := make([]*db.Event, len(at))
	for i, when := range at {
		rows[i] = &db.Event{ClientEventID: uuid.NewString(), AccountID: a.ID, Name: name, OccurredAt: when,
			Properties: json.RawMessage("{}")}
	}
	_, err := db.InsertEvents(b.ctx, b.db.Bun, b.t, rows)
	require.NoError(t, err)
}

// addTimeline records a timeline entry of kind for account a at when.
func (b *testBundle) addTimeline(t *testing.T, a *db.Account, kind string, when time.Time) {
	t.Helper()
	e := &db.TimelineEntry{AccountID: a.ID, Kind: kind, OccurredAt: when, Body: fmt.Sprintf("%s entry", kind)}
	require.NoError(t, db.InsertTimelineEntry(b.ctx, b.db.Bun, b.t, e))
}

// mustParse parses a condition the test expects to be valid.
func mustParse(t *testing.T, raw string, scope Scope) *Condition {
	t.Helper()
	c, err := Parse([]byte(raw), scope)
	require.NoError(t, err, raw)
	return c
}

// evalAll evaluates c in Go for each id, loading each subject with exactly c's needs.
func (b *testBundle) evalAll(t *testing.T, c *Condition, ids []uuid.UUID, now time.Time) []uuid.UUID {
	t.Helper()
	out := []uuid.UUID{}
	for _, id := range ids {
		s, err := LoadSubject(b.ctx, b.db.Bun, b.t, c.Scope(), id, c.Needs(now))
		require.NoError(t, err)
		ok, err := c.Eval(s, now)
		require.NoError(t, err)
		if ok {
			out = append(out, id)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// createPlay inserts a minimal play with one version, for play runs to refer to.
func (b *testBundle) createPlay(t *testing.T, name string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	_, err := b.db.Bun.ExecContext(b.ctx, `INSERT INTO plays (workspace_id, id, name, scope) VALUES (?, ?, ?, 'ACCOUNT')`,
		b.ws.ID, id, name+" "+id.String()[:8])
	require.NoError(t, err)
	_, err = b.db.Bun.ExecContext(b.ctx, `INSERT INTO play_versions (workspace_id, play_id, version, definition) VALUES (?, ?, 1, '{}')`,
		b.ws.ID, id)
	require.NoError(t, err)
	return id
}

// addRun records a run of play for account a (and contact, if not nil) with status, started at
// started; a finished run finished an hour later.
func (b *testBundle) addRun(t *testing.T, play uuid.UUID, a *db.Account, contact *uuid.UUID, status string, started time.Time) {
	t.Helper()
	kind := "ACCOUNT"
	if contact != nil {
		kind = "CONTACT"
	}
	var finished *time.Time
	if status != db.RunRunning && status != db.RunWaiting {
		finished = ptr(started.Add(time.Hour))
	}
	_, err := b.db.Bun.ExecContext(b.ctx, `INSERT INTO play_runs (workspace_id, play_id, version, subject_kind, account_id, contact_id, status, started_at, finished_at)
		VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)`, b.ws.ID, play, kind, a.ID, contact, status, started, finished)
	require.NoError(t, err)
}
