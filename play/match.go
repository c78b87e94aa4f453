package play

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
)

// TriggerInfo is what a run records about why it started (PlayRun.Trigger).
type TriggerInfo struct {
	Kind TriggerKind `json:"kind"`
	// Event and EventID name the event of an EVENT trigger.
	Event   string          `json:"event,omitempty"`
	EventID int64           `json:"eventId,omitempty"`
	Props   json.RawMessage `json:"properties,omitempty"`
	// Field is the changed field of a FIELD_CHANGE trigger.
	Field string `json:"field,omitempty"`
	// Journey, JourneyEvent, Milestone and EnrollmentID describe the journey event of a
	// JOURNEY trigger: the journey's key, the event's kind, the milestone's key (milestone
	// kinds only) and the enrolment.
	Journey      string           `json:"journey,omitempty"`
	JourneyEvent JourneyEventKind `json:"journeyEvent,omitempty"`
	Milestone    string           `json:"milestone,omitempty"`
	EnrollmentID *uuid.UUID       `json:"enrollmentId,omitempty"`
	// Values are the predicates of the entry (or a SCHEDULE's condition) with the values seen.
	Values []SeenValue `json:"values,omitempty"`
	// At is when the run started.
	At time.Time `json:"at"`
}

// SeenValue is one predicate's value when a run started.
type SeenValue struct {
	Path string `json:"path"`
	Seen any    `json:"seen"`
	Held bool   `json:"held"`
}

// Hooks returns the account hooks that start and end runs from account changes and events;
// set them on account.Service so they run inside its transactions.
func (e *Engine) Hooks() account.Hooks {
	return account.Hooks{EventsRecorded: e.OnEventsRecorded, AccountChanged: e.OnAccountChanged, TimelineAdded: e.OnTimelineAdded}
}

// start creates a run of pub for a subject in tx when the entry condition holds and the
// re-entry policy allows it, and inserts its first step's job in tx. It returns nil when no
// run starts.
func (e *Engine) start(ctx context.Context, tx bun.Tx, t db.Tenant, pub *Published, accountID uuid.UUID, contactID *uuid.UUID, info TriggerInfo, now time.Time) (*db.PlayRun, error) {
	def := pub.Definition
	if len(def.Steps) == 0 {
		return nil, nil
	}
	h, err := db.PlayRunHistory(ctx, tx, t, pub.Play.ID, accountID, contactID)
	if err != nil {
		return nil, err
	}
	switch def.Reentry.Policy {
	case ReentryOnce:
		if h.Any {
			return nil, nil
		}
	case ReentryCooldown:
		if h.Active || (h.LastFinished != nil && now.Before(h.LastFinished.Add(def.Reentry.Cooldown.Length()))) {
			return nil, nil
		}
	default:
		if h.Active {
			return nil, nil
		}
	}
	scope := condition.Scope(pub.Play.Scope)
	if def.Entry != nil {
		id := accountID
		if contactID != nil {
			id = *contactID
		}
		s, err := condition.LoadSubject(ctx, tx, t, scope, id, def.Entry.Needs(now))
		if err != nil {
			return nil, err
		}
		res, err := def.Entry.Explain(s, now)
		if err != nil {
			return nil, err
		}
		ok, err := def.Entry.Eval(s, now)
		if err != nil || !ok {
			return nil, err
		}
		for _, p := range res {
			info.Values = append(info.Values, SeenValue{Path: p.Path, Seen: p.Seen, Held: p.Held})
		}
	}
	info.At = now
	raw, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("marshal trigger: %w", err)
	}
	first := def.Steps[0].ID
	r := &db.PlayRun{
		PlayID: pub.Play.ID, Version: pub.Version.Version, SubjectKind: pub.Play.Scope,
		AccountID: accountID, ContactID: contactID, Status: db.RunRunning, CurrentStep: &first,
		Iterations: map[string]int{}, Trigger: raw, StartedAt: now,
	}
	inserted, err := db.InsertPlayRun(ctx, tx, t, r)
	if err != nil || !inserted {
		return nil, err
	}
	if err := db.AppendChanges(ctx, tx, t, db.PlayRunChange(r, db.KindStarted)); err != nil {
		return nil, err
	}
	if err := e.insertStep(ctx, tx, StepArgs{WorkspaceID: t.WorkspaceID, RunID: r.ID, StepID: first}, time.Time{}); err != nil {
		return nil, err
	}
	return r, nil
}

// OnEventsRecorded starts the EVENT plays the stored events match and ends, as GOAL_MET or
// EXITED, the active runs of those accounts whose goal or exit now holds, all in tx (the
// transaction that stored the events).
func (e *Engine) OnEventsRecorded(ctx context.Context, tx bun.Tx, t db.Tenant, events []db.Event) error {
	now := e.now()
	byName := map[string][]Published{}
	var accounts []uuid.UUID
	for _, ev := range events {
		if !slices.Contains(accounts, ev.AccountID) {
			accounts = append(accounts, ev.AccountID)
		}
		plays, ok := byName[ev.Name]
		if !ok {
			var err error
			if plays, err = e.Definitions.ActiveByEvent(ctx, tx, t, ev.Name); err != nil {
				return err
			}
			byName[ev.Name] = plays
		}
		for i := range plays {
			pub := &plays[i]
			ok, err := pub.Definition.Trigger.MatchesEvent(ev.Name, ev.Properties)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			var contact *uuid.UUID
			if pub.Play.Scope == string(condition.ScopeContact) {
				if ev.ContactID == nil {
					continue // a CONTACT play needs the event's contact
				}
				contact = ev.ContactID
			}
			info := TriggerInfo{Kind: TriggerEvent, Event: ev.Name, EventID: ev.ID, Props: ev.Properties}
			if _, err := e.start(ctx, tx, t, pub, ev.AccountID, contact, info, now); err != nil {
				return fmt.Errorf("start play %s: %w", pub.Play.ID, err)
			}
		}
	}
	return e.checkRuns(ctx, tx, t, accounts, now)
}

// OnTimelineAdded ends, in tx, the account's active runs whose goal or exit the new timeline
// entry makes true (a logged business review meets "Business review cadence" at once).
func (e *Engine) OnTimelineAdded(ctx context.Context, tx bun.Tx, t db.Tenant, entry *db.TimelineEntry) error {
	return e.checkRuns(ctx, tx, t, []uuid.UUID{entry.AccountID}, e.now())
}

// checkRuns ends the accounts' active runs whose exit or goal holds at now.
func (e *Engine) checkRuns(ctx context.Context, tx bun.Tx, t db.Tenant, accounts []uuid.UUID, now time.Time) error {
	runs, err := db.ActiveRunsOfAccounts(ctx, tx, t, accounts)
	if err != nil {
		return err
	}
	for i := range runs {
		r := &runs[i]
		pub, err := e.Definitions.Load(ctx, tx, t, r.PlayID, r.Version)
		if err != nil {
			return err
		}
		if pub.Definition.Goal == nil && pub.Definition.Exit == nil {
			continue
		}
		ended, err := checkGoalExit(ctx, tx, t, r, pub.Definition, now)
		if err != nil {
			return err
		}
		if ended {
			if err := saveRun(ctx, tx, t, r); err != nil {
				return err
			}
		}
	}
	return nil
}

// changedFields names, as FIELD_CHANGE triggers do, the account fields that differ between
// before and after. Custom attributes and contact fields are not watched yet.
func changedFields(before, after *db.Account) []string {
	var out []string
	if before.Stage != after.Stage {
		out = append(out, "account.stage")
	}
	if !equalPtr(before.HealthScore, after.HealthScore) {
		out = append(out, "account.healthScore")
	}
	if !equalPtr(before.OwnerID, after.OwnerID) {
		out = append(out, "account.owner")
	}
	if !equalTime(before.RenewalDate, after.RenewalDate) {
		out = append(out, "account.renewalDate")
	}
	return out
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func equalTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// OnAccountChanged starts the FIELD_CHANGE plays that a change of the account matches, in tx
// (the mutation's transaction), and ends runs whose goal or exit the change makes true.
func (e *Engine) OnAccountChanged(ctx context.Context, tx bun.Tx, t db.Tenant, before, after *db.Account) error {
	now := e.now()
	for _, field := range changedFields(before, after) {
		plays, err := e.Definitions.ActiveByField(ctx, tx, t, field)
		if err != nil {
			return err
		}
		for i := range plays {
			pub := &plays[i]
			ok, err := pub.Definition.Trigger.MatchesChange(condition.Subject{Account: before}, condition.Subject{Account: after}, now)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			info := TriggerInfo{Kind: TriggerFieldChange, Field: field}
			if pub.Play.Scope == string(condition.ScopeAccount) {
				if _, err := e.start(ctx, tx, t, pub, after.ID, nil, info, now); err != nil {
					return err
				}
				continue
			}
			contacts, err := db.LiveContactsOfAccount(ctx, tx, t, after.ID)
			if err != nil {
				return err
			}
			for _, c := range contacts {
				if _, err := e.start(ctx, tx, t, pub, after.ID, &c.ID, info, now); err != nil {
					return err
				}
			}
		}
	}
	err := e.checkRuns(ctx, tx, t, []uuid.UUID{after.ID}, now)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	return err
}
