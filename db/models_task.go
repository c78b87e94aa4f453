package db

import (
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Task statuses as stored. A SNOOZED task whose SnoozedUntil has passed is OPEN again for every
// listing, count and EffectiveStatus: nothing rewrites the row when the time comes.
const (
	TaskOpen      = "OPEN"
	TaskDone      = "DONE"
	TaskCancelled = "CANCELLED"
	TaskSnoozed   = "SNOOZED"
)

// Task priorities, lowest first.
const (
	TaskPriorityLow    = "LOW"
	TaskPriorityNormal = "NORMAL"
	TaskPriorityHigh   = "HIGH"
	TaskPriorityUrgent = "URGENT"
)

// Task sources: what created a task.
const (
	TaskSourceManual  = "MANUAL"
	TaskSourcePlay    = "PLAY"
	TaskSourceJourney = "JOURNEY"
)

// Assignment flags say why a task has no assignee, so someone can pick it up.
const (
	// TaskFlagNoTeamMember: the task asked for a team role, the account team has no active
	// member in it and the account has no active owner to fall back to.
	TaskFlagNoTeamMember = "NO_TEAM_MEMBER"
	// TaskFlagNoOwner: the task named neither a user nor a team role and the account has no
	// active owner.
	TaskFlagNoOwner = "NO_OWNER"
)

// Task is a piece of work on an account for a person (AssigneeID) and/or a team role.
type Task struct {
	bun.BaseModel `bun:"table:tasks,alias:tk"`
	Owned
	ID             uuid.UUID  `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	AccountID      uuid.UUID  `bun:"account_id,type:uuid,notnull"`
	ContactID      *uuid.UUID `bun:"contact_id,type:uuid"`
	Title          string     `bun:"title,notnull"`
	Description    string     `bun:"description,notnull"`
	AssigneeID     *uuid.UUID `bun:"assignee_id,type:uuid"`
	TeamRoleID     *uuid.UUID `bun:"team_role_id,type:uuid"`
	AssignmentFlag *string    `bun:"assignment_flag"`
	DueAt          *time.Time `bun:"due_at"`
	Priority       string     `bun:"priority,notnull"`
	Status         string     `bun:"status,notnull"`
	SnoozedUntil   *time.Time `bun:"snoozed_until"`
	SourceKind     string     `bun:"source_kind,notnull"`
	SourceRef      *string    `bun:"source_ref"`
	IdempotencyKey *string    `bun:"idempotency_key"`
	CreatedBy      *uuid.UUID `bun:"created_by,type:uuid"`
	CreatedAt      time.Time  `bun:"created_at,notnull,default:now()"`
	UpdatedAt      time.Time  `bun:"updated_at,notnull,default:now()"`
	CompletedAt    *time.Time `bun:"completed_at"`
	CompletedBy    *uuid.UUID `bun:"completed_by,type:uuid"`
	CancelledAt    *time.Time `bun:"cancelled_at"`
	CancelledBy    *uuid.UUID `bun:"cancelled_by,type:uuid"`
}

// EffectiveStatus is the status clients see at now: a snooze that has run out reads as OPEN.
// It matches the SQL the task queries filter and count with.
func (t *Task) EffectiveStatus(now time.Time) string {
	if t.Status == TaskSnoozed && t.SnoozedUntil != nil && !t.SnoozedUntil.After(now) {
		return TaskOpen
	}
	return t.Status
}

// Overdue reports whether the task is open at now and its due time has passed.
func (t *Task) Overdue(now time.Time) bool {
	return t.EffectiveStatus(now) == TaskOpen && t.DueAt != nil && t.DueAt.Before(now)
}
