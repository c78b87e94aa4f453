package db

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
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

// AppendChanges writes changes to the change log in idb, which must be the transaction of the
// change they describe: a rollback then removes them too. Nothing is written for no changes.
func AppendChanges(ctx context.Context, idb bun.IDB, t Tenant, changes ...*Change) error {
	if len(changes) == 0 {
		return nil
	}
	for _, c := range changes {
		if c.Payload == nil {
			c.Payload = json.RawMessage(`{}`)
		}
	}
	if _, err := Insert(t, idb, changes...).ExcludeColumn("txid", "id", "created_at").Exec(ctx); err != nil {
		return mapErr("append changes", err)
	}
	return nil
}
