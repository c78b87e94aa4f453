// Package task owns the work items people do on accounts: tasks created by hand, by a play's
// CREATE_TASK step or by a journey milestone. It validates input, decides who a task goes to
// (a user, or the account team member in a team role, falling back to the account owner), runs
// each change in one transaction and answers the task listings and overdue counts.
//
// Status is stored as written. A SNOOZED task whose snooze has run out is OPEN again for every
// listing, count and db.Task.EffectiveStatus, computed at read time against the injected clock:
// no timer job rewrites the row, and the stored status stays SNOOZED until the next change.
package task

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Limits on task input.
const (
	maxTitleLen          = 200
	maxDescriptionLen    = 10_000
	maxSourceRefLen      = 500
	maxIdempotencyKeyLen = 200
)

var (
	// Statuses are every task status, as stored and as filtered on.
	Statuses = []string{db.TaskOpen, db.TaskDone, db.TaskCancelled, db.TaskSnoozed}
	// Priorities are the task priorities, lowest first.
	Priorities = []string{db.TaskPriorityLow, db.TaskPriorityNormal, db.TaskPriorityHigh, db.TaskPriorityUrgent}
	// SourceKinds are what can create a task.
	SourceKinds = []string{db.TaskSourceManual, db.TaskSourcePlay, db.TaskSourceJourney}
)

// Service runs task changes and queries. Now is the clock (injected so tests control time);
// it decides due times from DueIn, snooze expiry and what is overdue.
type Service struct {
	DB  *bun.DB
	Now func() time.Time
}

// Assignee says who a task is for. UserID names the person; TeamRoleKey names the team role,
// by key ("CSM") or id. With only a team role, the person is the account team's member in that
// role, else the account owner, else nobody (and the task is flagged NO_TEAM_MEMBER). With
// both, the user is assigned and the role is recorded as the kind of work.
type Assignee struct {
	UserID      *uuid.UUID
	TeamRoleKey string
}

// Source is what created a task; Ref is free text pointing at it (a play run and step, a
// journey milestone) for people to follow.
type Source struct {
	Kind string // one of SourceKinds; empty means MANUAL
	Ref  string
}

// NewTask is the input of Create.
type NewTask struct {
	AccountID uuid.UUID
	// ContactID, when set, must be a contact of the account.
	ContactID   *uuid.UUID
	Title       string
	Description string
	// Assignee with neither field set assigns the account owner, or nobody (flag NO_OWNER).
	Assignee Assignee
	// DueAt is an absolute due time; DueIn a duration from now. At most one; neither means
	// no due date.
	DueAt *time.Time
	DueIn *time.Duration
	// Priority is one of Priorities; empty means NORMAL.
	Priority string
	Source   Source
	// IdempotencyKey, when set, makes Create return the task already created with this key
	// (whatever the rest of the input says) instead of creating another: plays use
	// "<run>/<step>/<iteration>" so a retried step creates its task once.
	IdempotencyKey string
	// CreatedBy is the user who created the task by hand; nil for automation.
	CreatedBy *uuid.UUID
}

// Get loads one task; ErrNotFound for an unknown id or another workspace's task.
func (s *Service) Get(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.Task, error) {
	return db.GetTask(ctx, s.DB, t, id)
}

// Create validates in and stores a new task through idb: pass s.DB, or the caller's
// transaction so the task commits or rolls back with the caller's work (the task's own
// statements then run in a savepoint, so a failed Create leaves the caller's transaction
// usable). It reports whether the task was created: false means in.IdempotencyKey already
// named a task, which is returned unchanged. Concurrent creates with one key create one task.
func (s *Service) Create(ctx context.Context, idb bun.IDB, t db.Tenant, in NewTask) (*db.Task, bool, error) {
	now := s.Now()
	task, err := in.validate(now)
	if err != nil {
		return nil, false, err
	}
	if task.IdempotencyKey != nil {
		existing, err := db.GetTaskByIdempotencyKey(ctx, idb, t, *task.IdempotencyKey)
		if err == nil {
			return existing, false, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return nil, false, err
		}
	}
	var created bool
	err = idb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		acct, err := db.GetAccount(ctx, tx, t, in.AccountID)
		if errors.Is(err, db.ErrNotFound) {
			return invalid.Field("accountId", "no such account")
		}
		if err != nil {
			return err
		}
		if acct.ArchivedAt != nil {
			return invalid.Field("accountId", "the account is archived")
		}
		if in.ContactID != nil {
			c, err := db.GetContact(ctx, tx, t, *in.ContactID)
			if errors.Is(err, db.ErrNotFound) || (err == nil && c.AccountID != acct.ID) {
				return invalid.Field("contactId", "no such contact on this account")
			}
			if err != nil {
				return err
			}
		}
		a, err := resolveAssignee(ctx, tx, t, acct, in.Assignee)
		if err != nil {
			return err
		}
		a.apply(task)
		created, err = db.InsertTask(ctx, tx, t, task)
		if err != nil || !created {
			return err
		}
		return logChange(ctx, tx, t, task, nil, db.KindCreated)
	})
	if err != nil {
		return nil, false, err
	}
	return task, created, nil
}

// validate checks the input that needs no database and builds the row to insert.
func (in NewTask) validate(now time.Time) (*db.Task, error) {
	title := strings.TrimSpace(in.Title)
	if n := utf8.RuneCountInString(title); n == 0 || n > maxTitleLen {
		return nil, invalid.Field("title", "must be 1 to %d characters", maxTitleLen)
	}
	desc := strings.TrimSpace(in.Description)
	if utf8.RuneCountInString(desc) > maxDescriptionLen {
		return nil, invalid.Field("description", "must be at most %d characters", maxDescriptionLen)
	}
	priority := in.Priority
	if priority == "" {
		priority = db.TaskPriorityNormal
	}
	if !slices.Contains(Priorities, priority) {
		return nil, invalid.Field("priority", "must be one of %s", strings.Join(Priorities, ", "))
	}
	kind := in.Source.Kind
	if kind == "" {
		kind = db.TaskSourceManual
	}
	if !slices.Contains(SourceKinds, kind) {
		return nil, invalid.Field("source", "must be one of %s", strings.Join(SourceKinds, ", "))
	}
	if utf8.RuneCountInString(in.Source.Ref) > maxSourceRefLen {
		return nil, invalid.Field("sourceRef", "must be at most %d characters", maxSourceRefLen)
	}
	task := &db.Task{
		AccountID:   in.AccountID,
		ContactID:   in.ContactID,
		Title:       title,
		Description: desc,
		Priority:    priority,
		Status:      db.TaskOpen,
		SourceKind:  kind,
		CreatedBy:   in.CreatedBy,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if in.Source.Ref != "" {
		ref := in.Source.Ref
		task.SourceRef = &ref
	}
	if in.IdempotencyKey != "" {
		key := in.IdempotencyKey
		if strings.TrimSpace(key) == "" || utf8.RuneCountInString(key) > maxIdempotencyKeyLen {
			return nil, invalid.Field("idempotencyKey", "must be 1 to %d characters", maxIdempotencyKeyLen)
		}
		task.IdempotencyKey = &key
	}
	switch {
	case in.DueAt != nil && in.DueIn != nil:
		return nil, invalid.Field("dueIn", "give dueAt or dueIn, not both")
	case in.DueAt != nil:
		if in.DueAt.IsZero() {
			return nil, invalid.Field("dueAt", "must be a time")
		}
		due := *in.DueAt
		task.DueAt = &due
	case in.DueIn != nil:
		if *in.DueIn < 0 {
			return nil, invalid.Field("dueIn", "must not be negative")
		}
		due := now.Add(*in.DueIn)
		task.DueAt = &due
	}
	return task, nil
}

// CreateManual creates a task a person asked for through the API, in its own transaction.
func (s *Service) CreateManual(ctx context.Context, t db.Tenant, in NewTask) (*db.Task, error) {
	in.Source = Source{Kind: db.TaskSourceManual}
	task, _, err := s.Create(ctx, s.DB, t, in)
	return task, err
}
