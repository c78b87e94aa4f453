package play

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// login records a login event of a at when, without hooks.
func (b *runBundle) loginAt(t *testing.T, a uuid.UUID, when time.Time) {
	t.Helper()
	_, err := db.InsertEvents(b.ctx, b.db.Bun, b.tenant, []*db.Event{{ClientEventID: uuid.NewString(), AccountID: a, Name: "login",
		OccurredAt: when, Properties: json.RawMessage(`{}`)}})
	require.NoError(t, err)
}

// rowCounts counts the rows a run would write in the bundle's workspace.
func (b *runBundle) rowCounts(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"play_runs", "play_step_runs", "tasks", "outbox_messages", "in_app_messages", "timeline_entries"} {
		n, err := b.db.Bun.NewSelect().Table(table).Where("workspace_id = ?", b.tenant.WorkspaceID).Count(b.ctx)
		require.NoError(t, err, table)
		out[table] = int(n)
	}
	n, err := b.db.Bun.NewSelect().Table("river_job").Where("args->>'workspace_id' = ?", b.tenant.WorkspaceID.String()).Count(b.ctx)
	require.NoError(t, err)
	out["river_job"] = int(n)
	return out
}

func TestPreviewScheduleDefinition(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	now := time.Now().UTC()
	lapsed := b.account(t, "GROWTH") // last login 20 days ago: enters
	b.loginAt(t, lapsed.ID, now.Add(-20*24*time.Hour))
	active := b.account(t, "GROWTH") // logged in yesterday: not matched
	b.loginAt(t, active.ID, now.Add(-24*time.Hour))
	never := b.account(t, "GROWTH") // never logged in: enters (notWithin holds on "never")
	churned := b.account(t, "CHURNED")
	_ = churned // the entry condition keeps it out

	def := mustParse(t, `{
  "trigger": {"kind": "SCHEDULE", "condition": {"event": "login", "op": "notWithin", "duration": "14d"}},
  "entry": {"not": {"field": "account.stage", "op": "eq", "value": "CHURNED"}},
  "steps": [{"id": "call", "kind": "CREATE_TASK", "title": "Call", "assignee": {"kind": "OWNER"}}]}`, condition.ScopeAccount)

	before := b.rowCounts(t)
	p, err := b.eng.Preview(b.ctx, b.tenant, def, condition.ScopeAccount, 0)
	require.NoError(t, err)
	require.Equal(t, before, b.rowCounts(t), "a preview writes nothing")

	require.Equal(t, 2, p.MatchCount)
	require.Len(t, p.Subjects, 2)
	byID := map[uuid.UUID]PreviewSubject{}
	for _, s := range p.Subjects {
		require.True(t, s.Enters)
		require.Empty(t, s.RefusedBy)
		require.Nil(t, s.Contact)
		byID[s.Account.ID] = s
	}
	require.Contains(t, byID, lapsed.ID)
	require.Contains(t, byID, never.ID)

	s := byID[lapsed.ID]
	require.Len(t, s.Predicates, 2)
	require.Equal(t, "definition.trigger.condition", s.Predicates[0].Path)
	require.Equal(t, "login", s.Predicates[0].Predicate.Event)
	require.True(t, s.Predicates[0].Held)
	seen, ok := s.Predicates[0].Seen.(time.Time)
	require.True(t, ok, "the last login time, got %T", s.Predicates[0].Seen)
	require.WithinDuration(t, now.Add(-20*24*time.Hour), seen, time.Millisecond)
	require.Equal(t, "definition.entry.not", s.Predicates[1].Path)
	require.Equal(t, "GROWTH", s.Predicates[1].Seen)
	require.False(t, s.Predicates[1].Held, "the inner predicate (stage eq CHURNED) is false")

	s = byID[never.ID]
	require.Nil(t, s.Predicates[0].Seen, "never logged in")
	require.True(t, s.Predicates[0].Held)

	// The limit bounds the explained subjects, not the count.
	p, err = b.eng.Preview(b.ctx, b.tenant, def, condition.ScopeAccount, 1)
	require.NoError(t, err)
	require.Equal(t, 2, p.MatchCount)
	require.Len(t, p.Subjects, 1)
}

func TestPreviewEntryOnlyAndReentry(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	play := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"},
		"entry": {"field": "account.stage", "op": "eq", "value": "AT_RISK"},
		"reentry": {"policy": "ONCE"},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	ran, fresh := b.account(t, "AT_RISK"), b.account(t, "AT_RISK")
	b.account(t, "GROWTH")
	launched := b.launch(t, play.ID, ran.ID)
	require.Len(t, launched, 1)
	// Let the worker write the run's first step before counting, so only the preview could
	// change the counts.
	b.waitStatus(t, launched[0].ID, db.RunWaiting, 20*time.Second)

	before := b.rowCounts(t)
	p, err := b.eng.PreviewPlay(b.ctx, b.tenant, play.ID, 0)
	require.NoError(t, err)
	require.Equal(t, before, b.rowCounts(t))
	require.Equal(t, 2, p.MatchCount, "MANUAL: who passes the entry filter now")
	got := map[uuid.UUID]PreviewSubject{}
	for _, s := range p.Subjects {
		got[s.Account.ID] = s
	}
	require.True(t, got[fresh.ID].Enters)
	require.False(t, got[ran.ID].Enters)
	require.Equal(t, "reentry ONCE: the subject already ran the play", got[ran.ID].RefusedBy)
	require.Equal(t, "definition.entry", got[ran.ID].Predicates[0].Path)
	require.Equal(t, "AT_RISK", got[ran.ID].Predicates[0].Seen)

	// No entry condition: every live subject.
	all, err := b.eng.PreviewDefinition(b.ctx, b.tenant, json.RawMessage(`{"trigger": {"kind": "MANUAL"}}`), condition.ScopeAccount, 0)
	require.NoError(t, err)
	require.Equal(t, 3, all.MatchCount)
	require.Empty(t, all.Subjects[0].Predicates)

	// An invalid definition names the path.
	_, err = b.eng.PreviewDefinition(b.ctx, b.tenant, json.RawMessage(`{"entry": {"field": "account.stage", "op": "eq", "value": 3}}`), condition.ScopeAccount, 0)
	requireInvalid(t, err, "definition.entry.value", "must be a string")
	_, err = b.eng.PreviewDefinition(b.ctx, b.tenant, json.RawMessage(`{}`), "", 0)
	requireInvalid(t, err, "scope", "must be ACCOUNT or CONTACT")
}

func TestPreviewContactScope(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	a := b.account(t, "GROWTH")
	persona := "decision-maker"
	dm := &db.Contact{AccountID: a.ID, Name: "Dee Maker", Email: "dm@example.com", Persona: &persona, Custom: json.RawMessage(`{}`)}
	other := &db.Contact{AccountID: a.ID, Name: "Oth Er", Email: "other@example.com", Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, dm))
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, other))
	p, err := b.eng.PreviewDefinition(b.ctx, b.tenant, json.RawMessage(`{"trigger": {"kind": "EVENT", "event": "x"},
		"entry": {"field": "contact.persona", "op": "eq", "value": "decision-maker"}}`), condition.ScopeContact, 0)
	require.NoError(t, err)
	require.Equal(t, 1, p.MatchCount)
	require.Equal(t, dm.ID, p.Subjects[0].Contact.ID)
	require.Equal(t, a.ID, p.Subjects[0].Account.ID)
	require.Equal(t, "decision-maker", p.Subjects[0].Predicates[0].Seen)
}

func TestPreviewPlayRunPredicate(t *testing.T) {
	t.Parallel()
	b := setupRun(t)
	other := b.publish(t, condition.ScopeAccount, `{"trigger": {"kind": "MANUAL"},
		"steps": [{"id": "pause", "kind": "WAIT", "duration": "1h"}]}`)
	busy, idle := b.account(t, "GROWTH"), b.account(t, "GROWTH")
	require.Len(t, b.launch(t, other.ID, busy.ID), 1)

	def := `{"trigger": {"kind": "MANUAL"}, "entry": {"playRun": "` + other.ID.String() + `", "op": "notExists"}}`
	p, err := b.eng.PreviewDefinition(b.ctx, b.tenant, json.RawMessage(def), condition.ScopeAccount, 0)
	require.NoError(t, err)
	require.Equal(t, 1, p.MatchCount, "only the account not in an active run of the other play")
	require.Equal(t, idle.ID, p.Subjects[0].Account.ID)
	require.Equal(t, false, p.Subjects[0].Predicates[0].Seen)
}
