package db

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Change topics: what a change log row is about.
const (
	TopicTask     = "task"
	TopicTimeline = "timeline"
	TopicEvent    = "event"
	TopicPlayRun  = "play_run"
	TopicJourney  = "journey"
	TopicInApp    = "in_app"
)

// Change kinds: what happened to the row's object. Journey rows use the journey event kinds.
const (
	KindCreated    = "created"
	KindUpdated    = "updated"
	KindCompleted  = "completed"
	KindReopened   = "reopened"
	KindReassigned = "reassigned"
	KindSnoozed    = "snoozed"
	KindCancelled  = "cancelled"
	KindAdded      = "added"    // a timeline entry
	KindRecorded   = "recorded" // a usage event
	KindStarted    = "started"  // a play run
	KindFinished   = "finished" // a play run, in any final status
	KindRetried    = "retried"  // a failed play run put back to RUNNING
)

// ChangeChannel is the NOTIFY channel that wakes change log readers. Its payload is the id of
// the newest committed writing transaction the notifier saw, a hint only: readers read the
// log by cursor whatever it says.
const ChangeChannel = "steward_change_log"

// changeBatch bounds the rows of one INSERT (a set-based sweep may log 100,000 runs).
const changeBatch = 10_000

// Change log modes (SetChangeLogMode).
const (
	// ChangeLogOn writes rows and hands each writing transaction's id to the process's change
	// watcher (WatchChanges), which wakes listeners with a NOTIFY after the commit.
	ChangeLogOn = "on"
	// ChangeLogNoNotify writes rows without NOTIFY: readers find them by polling.
	ChangeLogNoNotify = "nonotify"
	// ChangeLogOff writes nothing: live feeds stay silent. For benchmarks measuring the
	// log's cost only.
	ChangeLogOff = "off"
)

// changeLogMode is process-wide because AppendChanges is called from every domain service;
// it is set once at startup (STEWARD_CHANGE_LOG) and read atomically.
var changeLogMode atomic.Value

// SetChangeLogMode sets how AppendChanges behaves (ChangeLogOn, ChangeLogNoNotify or
// ChangeLogOff) for the whole process; call it once at startup. An unknown mode is an error.
func SetChangeLogMode(mode string) error {
	switch mode {
	case ChangeLogOn, ChangeLogNoNotify, ChangeLogOff:
		changeLogMode.Store(mode)
		return nil
	}
	return fmt.Errorf("change log mode %q: want %s, %s or %s", mode, ChangeLogOn, ChangeLogNoNotify, ChangeLogOff)
}

func changeMode() string {
	if m, ok := changeLogMode.Load().(string); ok {
		return m
	}
	return ChangeLogOn
}

// ChangeWatcher learns the id of a transaction that has appended changes, before it commits.
// It must return at once (it runs on the writer's path, inside the transaction).
type ChangeWatcher func(txid uint64)

// watchers are the registered change watchers, oldest first; AppendChanges hands each
// transaction id to the first. The registration is process-wide, like the change log mode,
// because AppendChanges is called inside the transactions of every domain package, which
// know nothing of the feed hub that watches them, and services commit through RunInTx with
// no after-commit hook.
var watchers struct {
	mu   sync.Mutex
	list []*ChangeWatcher
}

// WatchChanges registers w to learn the id of every transaction that appends changes in
// mode ChangeLogOn (the feed hub's notifier, which sends a NOTIFY once the transaction has
// committed). Only the first registered watcher is called, so a process sends one NOTIFY per
// batch of commits whatever the number of hubs it runs. The returned function unregisters w;
// ids handed to w afterwards go to the next watcher (see HandChange).
func WatchChanges(w ChangeWatcher) (unwatch func()) {
	p := &w
	watchers.mu.Lock()
	watchers.list = append(watchers.list, p)
	watchers.mu.Unlock()
	return func() {
		watchers.mu.Lock()
		defer watchers.mu.Unlock()
		watchers.list = slices.DeleteFunc(watchers.list, func(q *ChangeWatcher) bool { return q == p })
	}
}

// HandChange gives txid to the first registered watcher and reports whether there was one. A
// watcher that stops hands the ids it still waits on to its successor with it.
func HandChange(txid uint64) bool {
	watchers.mu.Lock()
	var w ChangeWatcher
	if len(watchers.list) > 0 {
		w = *watchers.list[0]
	}
	watchers.mu.Unlock()
	if w == nil {
		return false
	}
	w(txid)
	return true
}

// Change is one change log row: what live subscribers learn about a committed change. The key
// columns (account, contact, subject, assignee, team role, play, journey) let the fan-out
// filter rows without decoding Payload, which carries the changed object's id and the facts a
// subscriber shows.
type Change struct {
	bun.BaseModel `bun:"table:change_log,alias:chg"`
	Owned
	// TxID and ID are the row's position (see the migration): set by the database.
	TxID       uint64          `bun:"txid,pk,type:xid8"`
	ID         int64           `bun:"id,pk,autoincrement"`
	Topic      string          `bun:"topic,notnull"`
	Kind       string          `bun:"kind,notnull"`
	AccountID  *uuid.UUID      `bun:"account_id,type:uuid"`
	ContactID  *uuid.UUID      `bun:"contact_id,type:uuid"`
	SubjectID  *uuid.UUID      `bun:"subject_id,type:uuid"`
	AssigneeID *uuid.UUID      `bun:"assignee_id,type:uuid"`
	TeamRoleID *uuid.UUID      `bun:"team_role_id,type:uuid"`
	PlayID     *uuid.UUID      `bun:"play_id,type:uuid"`
	JourneyID  *uuid.UUID      `bun:"journey_id,type:uuid"`
	Payload    json.RawMessage `bun:"payload,type:jsonb,notnull"`
	CreatedAt  time.Time       `bun:"created_at,notnull,default:now()"`
}

// Position is a place in the change log: rows are ordered by (TxID, ID). The zero Position
// is before every row.
type Position struct {
	TxID uint64
	ID   int64
}

// Pos returns the row's position.
func (c *Change) Pos() Position { return Position{TxID: c.TxID, ID: c.ID} }

// Less orders positions as the log does.
func (p Position) Less(q Position) bool {
	return p.TxID < q.TxID || (p.TxID == q.TxID && p.ID < q.ID)
}

// AppendChanges writes changes to the change log in idb, which must be the transaction of the
// change they describe: a rollback then removes them too. Nothing is written for no changes.
//
// In mode ChangeLogOn the statement returns the transaction's id, which goes to the process's
// change watcher (WatchChanges): once the transaction has committed, the watcher sends one
// NOTIFY for a batch of committed transactions from a statement of its own. The writer never
// notifies: a transaction with a pending NOTIFY holds a global lock from its commit record
// to the end of its commit, which serialised every writing transaction (pgbench: 2,000 tps
// without, 430 with). Without a watcher (a process with no hub) nothing is sent, and
// readers find the rows by polling, as they do for a wake-up that is lost.
func AppendChanges(ctx context.Context, idb bun.IDB, t Tenant, changes ...*Change) error {
	mode := changeMode()
	if len(changes) == 0 || mode == ChangeLogOff {
		return nil
	}
	for start := 0; start < len(changes); start += changeBatch {
		if err := appendBatch(ctx, idb, t, changes[start:min(start+changeBatch, len(changes))], mode == ChangeLogOn); err != nil {
			return err
		}
	}
	return nil
}

// appendBatch inserts changes with one statement over column arrays (a set-based sweep logs
// 100,000 rows in seconds less than with a VALUES list per row), and when notify is set hands
// the transaction's id to the change watcher.
func appendBatch(ctx context.Context, idb bun.IDB, t Tenant, changes []*Change, notify bool) error {
	n := len(changes)
	topic, kind, payload := make([]string, n), make([]string, n), make([]string, n)
	keys := [7][]string{}
	for k := range keys {
		keys[k] = make([]string, n)
	}
	str := func(id *uuid.UUID) string {
		if id == nil {
			return ""
		}
		return id.String()
	}
	for i, c := range changes {
		c.WorkspaceID = t.WorkspaceID
		if c.Payload == nil {
			c.Payload = json.RawMessage(`{}`)
		}
		topic[i], kind[i], payload[i] = c.Topic, c.Kind, string(c.Payload)
		for k, id := range []*uuid.UUID{c.AccountID, c.ContactID, c.SubjectID, c.AssigneeID, c.TeamRoleID, c.PlayID, c.JourneyID} {
			keys[k][i] = str(id)
		}
	}
	insert := "INSERT INTO change_log (workspace_id, topic, kind, account_id, contact_id, subject_id, assignee_id, " +
		"team_role_id, play_id, journey_id, payload) SELECT ?, u.topic, u.kind, NULLIF(u.a, '')::uuid, NULLIF(u.c, '')::uuid, " +
		"NULLIF(u.s, '')::uuid, NULLIF(u.asg, '')::uuid, NULLIF(u.r, '')::uuid, NULLIF(u.p, '')::uuid, NULLIF(u.j, '')::uuid, " +
		"u.payload::jsonb FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], " +
		"?::text[], ?::text[]) AS u(topic, kind, a, c, s, asg, r, p, j, payload)"
	args := []any{t.WorkspaceID, pgdialect.Array(topic), pgdialect.Array(kind)}
	for k := range keys {
		args = append(args, pgdialect.Array(keys[k]))
	}
	args = append(args, pgdialect.Array(payload))
	if !notify {
		if _, err := idb.NewRaw(insert, args...).Exec(ctx); err != nil {
			return mapErr("append changes", err)
		}
		return nil
	}
	var txids []int64
	if err := idb.NewRaw("WITH ins AS ("+insert+" RETURNING txid) SELECT txid::text::bigint FROM ins LIMIT 1",
		args...).Scan(ctx, &txids); err != nil {
		return mapErr("append changes", err)
	}
	if len(txids) == 1 {
		HandChange(uint64(txids[0]))
	}
	return nil
}

// changeColumns are what readers select: xid8 travels as text through database/sql.
const changeColumns = "chg.txid::text::bigint AS txid, chg.id, chg.workspace_id, chg.topic, chg.kind, chg.account_id, " +
	"chg.contact_id, chg.subject_id, chg.assignee_id, chg.team_role_id, chg.play_id, chg.journey_id, chg.payload, chg.created_at"

// ReadChanges returns, across workspaces, at most limit rows after `after` whose transaction
// has ended (txid older than the oldest running transaction, pg_snapshot_xmin), in log order.
// A transaction still running cannot add rows before them later, so a reader that advances
// its cursor over these rows never skips one. pending reports rows after the last one
// returned that exist but are not final yet (a transaction with a lower id still runs):
// read again soon.
func ReadChanges(ctx context.Context, idb bun.IDB, after Position, limit int) (rows []Change, pending bool, err error) {
	var all []struct {
		Change
		Final bool `bun:"final"`
	}
	err = idb.NewRaw("SELECT "+changeColumns+", chg.txid < pg_snapshot_xmin(pg_current_snapshot()) AS final "+
		"FROM change_log AS chg WHERE (chg.txid, chg.id) > (?::text::xid8, ?) ORDER BY chg.txid, chg.id LIMIT ?",
		after.TxID, after.ID, limit).Scan(ctx, &all)
	if err != nil {
		return nil, false, mapErr("read changes", err)
	}
	rows = make([]Change, 0, len(all))
	for _, r := range all {
		if !r.Final {
			return rows, true, nil
		}
		rows = append(rows, r.Change)
	}
	return rows, false, nil
}

// ChangesBetween returns the tenant's rows in (after, upTo], in log order, at most limit.
// Every row up to upTo must already be final (the caller read up to it with ReadChanges).
func ChangesBetween(ctx context.Context, idb bun.IDB, t Tenant, after, upTo Position, limit int) ([]Change, error) {
	rows := []Change{}
	err := idb.NewRaw("SELECT "+changeColumns+" FROM change_log AS chg WHERE chg.workspace_id = ? "+
		"AND (chg.txid, chg.id) > (?::text::xid8, ?) AND (chg.txid, chg.id) <= (?::text::xid8, ?) "+
		"ORDER BY chg.txid, chg.id LIMIT ?",
		t.WorkspaceID, after.TxID, after.ID, upTo.TxID, upTo.ID, limit).Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("read changes between", err)
	}
	return rows, nil
}

// ChangeExists reports whether the tenant's log still holds the row at p (false once pruned).
func ChangeExists(ctx context.Context, idb bun.IDB, t Tenant, p Position) (bool, error) {
	var ok bool
	err := idb.NewRaw("SELECT EXISTS (SELECT 1 FROM change_log WHERE workspace_id = ? AND txid = ?::text::xid8 AND id = ?)",
		t.WorkspaceID, p.TxID, p.ID).Scan(ctx, &ok)
	if err != nil {
		return false, mapErr("look up change", err)
	}
	return ok, nil
}

// ChangeHead returns the position of the last final row of the log (the zero Position for an
// empty log): a reader starting there sees everything committed from now on.
func ChangeHead(ctx context.Context, idb bun.IDB) (Position, error) {
	var rows []Position
	err := idb.NewRaw("SELECT txid::text::bigint AS tx_id, id FROM change_log "+
		"WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY txid DESC, id DESC LIMIT 1").Scan(ctx, &rows)
	if err != nil {
		return Position{}, mapErr("read change head", err)
	}
	if len(rows) == 0 {
		return Position{}, nil
	}
	return rows[0], nil
}

// PruneChanges deletes rows created before `before`, at most limit of them, and returns how
// many. Several processes may prune at once: each deletes what it finds, rows deleted by
// another are skipped (SKIP LOCKED), so nobody waits.
func PruneChanges(ctx context.Context, idb bun.IDB, before time.Time, limit int) (int, error) {
	res, err := idb.NewRaw("DELETE FROM change_log WHERE (txid, id) IN (SELECT txid, id FROM change_log "+
		"WHERE created_at < ? ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED)", before, limit).Exec(ctx)
	if err != nil {
		return 0, mapErr("prune changes", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Transaction states reported by NotifyCommitted (pg_xact_status, and "unknown" for an id too
// old for the commit log to tell).
const (
	XactCommitted  = "committed"
	XactAborted    = "aborted"
	XactInProgress = "in progress"
	XactUnknown    = "unknown"
)

// NotifyCommitted looks up the state of the transactions txids and, if any has committed,
// sends one NOTIFY on ChangeChannel (payload: the highest committed id) in the same
// statement. Run it outside a transaction: the NOTIFY is sent when the statement commits.
// That commit is asynchronous (synchronous_commit off for it alone): a NOTIFY is a hint that
// needs no durability, and the writers' own commits then share no extra WAL flush with it.
// It returns each id's state (Xact*) and whether a NOTIFY was sent.
func NotifyCommitted(ctx context.Context, idb bun.IDB, txids []uint64) (map[uint64]string, bool, error) {
	ids := make([]int64, len(txids))
	for i, x := range txids {
		ids[i] = int64(x)
	}
	var rows []struct {
		X        int64  `bun:"x"`
		Status   string `bun:"status"`
		Notified int    `bun:"notified"`
	}
	err := idb.NewRaw("WITH s AS (SELECT x, pg_xact_status(x::text::xid8) AS status FROM unnest(?::bigint[]) AS x), "+
		"n AS (SELECT pg_notify(?, max(x)::text), set_config('synchronous_commit', 'off', true) "+
		"FROM s WHERE status = ? HAVING count(*) > 0) "+
		"SELECT x, coalesce(status, ?) AS status, (SELECT count(*) FROM n) AS notified FROM s",
		pgdialect.Array(ids), ChangeChannel, XactCommitted, XactUnknown).Scan(ctx, &rows)
	if err != nil {
		return nil, false, mapErr("notify committed changes", err)
	}
	out := make(map[uint64]string, len(rows))
	notified := false
	for _, r := range rows {
		out[uint64(r.X)] = r.Status
		notified = notified || r.Notified > 0
	}
	return out, notified, nil
}
