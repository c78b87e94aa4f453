package journey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
)

// ConflictError is a change the enrolment's state (or the journey's re-entry policy) refuses:
// it matches errors.Is(err, db.ErrConflict) (the API answers CONFLICT) and invalid.As finds an
// *invalid.Error naming the field in the way.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Message }

// Unwrap exposes db.ErrConflict and the *invalid.Error on Field.
func (e *ConflictError) Unwrap() []error {
	return []error{db.ErrConflict, invalid.Field(e.Field, "%s", e.Message)}
}

func conflict(field, format string, args ...any) error {
	return &ConflictError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// origin is how an enrolment begins.
type origin struct {
	source string
	ref    string
	by     *uuid.UUID
	// restart names the attempt a restart replaces (re-entry is not applied then).
	restart *db.JourneyEnrollment
}

// enroll creates an enrolment of the account in pub at now, in tx, when the re-entry policy
// allows it and the account has no live enrolment in the journey: its milestone rows
// (NOT_STARTED), the ENTERED change, then the first group's milestones start. It returns nil
// (and no error) when the policy or a live enrolment refuses; refusedBy says which.
func (e *Engine) enroll(ctx context.Context, tx bun.Tx, t db.Tenant, pub *Published, accountID uuid.UUID, o origin, now time.Time) (*db.JourneyEnrollment, string, error) {
	def := pub.Definition
	attempt := 1
	var restartOf *uuid.UUID
	if o.restart != nil {
		attempt, restartOf = o.restart.Attempt+1, &o.restart.ID
	} else {
		h, err := db.JourneyEnrollmentHistory(ctx, tx, t, pub.Journey.ID, accountID)
		if err != nil {
			return nil, "", err
		}
		if h.Live {
			return nil, "the account already has a live enrolment in this journey", nil
		}
		if !ReentryAllows(def.Reentry, h, now) {
			return nil, fmt.Sprintf("the journey's re-entry policy (%s) refuses another enrolment", def.Reentry.Policy), nil
		}
	}
	enr := &db.JourneyEnrollment{
		JourneyID: pub.Journey.ID, Version: pub.Version.Version, AccountID: accountID, Status: db.EnrollmentActive,
		Attempt: attempt, RestartOf: restartOf, Source: o.source, EnrolledBy: o.by, EnrolledAt: now, LastProgressAt: now,
	}
	if o.ref != "" {
		ref := o.ref
		enr.SourceRef = &ref
	}
	r := &run{pub: pub, def: def, enr: enr, ms: map[string]*db.JourneyMilestoneState{}, steps: map[string]*db.JourneyStepState{}}
	enr.StallAt = StallAt(now, r.stallAfter())
	inserted, err := db.InsertEnrollment(ctx, tx, t, enr)
	if err != nil {
		return nil, "", err
	}
	if !inserted {
		return nil, "the account already has a live enrolment in this journey", nil
	}
	rows := make([]*db.JourneyMilestoneState, len(def.Milestones))
	for i, m := range def.Milestones {
		rows[i] = &db.JourneyMilestoneState{
			EnrollmentID: enr.ID, MilestoneKey: m.Key, JourneyID: enr.JourneyID, Version: enr.Version,
			AccountID: accountID, EnrolledAt: enr.EnrolledAt, Position: i, Status: db.MilestoneNotStarted, UpdatedAt: now,
		}
		r.ms[m.Key] = rows[i]
	}
	if err := db.InsertMilestoneStates(ctx, tx, t, rows); err != nil {
		return nil, "", err
	}
	if err := e.emit(ctx, tx, t, r, play.JourneyEntered, "", now); err != nil {
		return nil, "", err
	}
	if err := e.advance(ctx, tx, t, r, now); err != nil {
		return nil, "", err
	}
	r.progressed = false // enrolling is the progress: LastProgressAt is now already
	if err := e.save(ctx, tx, t, r, now); err != nil {
		return nil, "", err
	}
	return enr, "", nil
}

// activeJourney loads the latest version of an ACTIVE journey for enrolling by hand; field
// names the argument in errors.
func (e *Engine) activeJourney(ctx context.Context, tx bun.Tx, t db.Tenant, journeyID uuid.UUID, field string) (*Published, error) {
	j := new(db.Journey)
	if err := t.Select(tx, j).Where("j.id = ?", journeyID).For("SHARE").Scan(ctx); err != nil {
		return nil, invalid.Field(field, "no such journey")
	}
	if j.Status != db.JourneyActive {
		return nil, conflict(field, "the journey is %s; only an ACTIVE journey enrols accounts", j.Status)
	}
	return e.Definitions.Load(ctx, tx, t, j.ID, j.LatestVersion)
}

// Enroll enrols accounts in the latest version of an ACTIVE journey, in one transaction, by
// hand (source MANUAL, by the user; uuid.Nil for an API key). Every account must be a live
// account of the workspace (else invalid input on "accountIds[i]"); an account with a live
// enrolment, or that the re-entry policy refuses, is a CONFLICT naming it, and nothing is
// enrolled.
func (e *Engine) Enroll(ctx context.Context, t db.Tenant, journeyID uuid.UUID, accountIDs []uuid.UUID, by uuid.UUID) ([]db.JourneyEnrollment, error) {
	if len(accountIDs) == 0 || len(accountIDs) > MaxEnrollAccounts {
		return nil, invalid.Field("accountIds", "give 1 to %d accounts", MaxEnrollAccounts)
	}
	out := []db.JourneyEnrollment{}
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		pub, err := e.activeJourney(ctx, tx, t, journeyID, "journeyId")
		if err != nil {
			return err
		}
		now := e.now()
		for i, id := range accountIDs {
			field := fmt.Sprintf("accountIds[%d]", i)
			if slices.Contains(accountIDs[:i], id) {
				return invalid.Field(field, "the account is listed twice")
			}
			a, err := db.GetAccount(ctx, tx, t, id)
			if errors.Is(err, db.ErrNotFound) || (err == nil && a.ArchivedAt != nil) {
				return invalid.Field(field, "no such live account")
			}
			if err != nil {
				return err
			}
			enr, refused, err := e.enroll(ctx, tx, t, pub, id, origin{source: db.EnrollSourceManual, by: userOrNil(by)}, now)
			if err != nil {
				return err
			}
			if enr == nil {
				return conflict(field, "%s", refused)
			}
			out = append(out, *enr)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EnrollMatching enrols, in one transaction, every live account that the filter (and, when
// given, the ACCOUNT condition) matches and that the re-entry policy admits; accounts with a
// live enrolment are passed over. It returns how many were enrolled. More than
// MaxEnrollMatching matching accounts is invalid input (narrow the filter).
func (e *Engine) EnrollMatching(ctx context.Context, t db.Tenant, journeyID uuid.UUID, filter db.AccountFilter, cond *condition.Condition, by uuid.UUID) (int, error) {
	n := 0
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		pub, err := e.activeJourney(ctx, tx, t, journeyID, "journeyId")
		if err != nil {
			return err
		}
		filter.IncludeArchived = false
		now := e.now()
		rows, more, err := db.ListAccounts(ctx, tx, t, db.AccountPage{Filter: filter, First: MaxEnrollMatching})
		if err != nil {
			return err
		}
		if more {
			return invalid.Field("filter", "matches more than %d accounts; narrow it", MaxEnrollMatching)
		}
		for _, a := range rows {
			if cond != nil {
				ok, err := holds(ctx, tx, t, a.ID, cond, now)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			enr, _, err := e.enroll(ctx, tx, t, pub, a.ID, origin{source: db.EnrollSourceManual, by: userOrNil(by)}, now)
			if err != nil {
				return err
			}
			if enr != nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

// EnrollFromPlay implements play.JourneyEnroller: it enrols accountID in the ACTIVE journey
// with key journeyKey in the step's transaction (source PLAY, ref naming the run and step).
// It returns nil (and no error) when the re-entry policy or a live enrolment refuses, and
// db.ErrNotFound when no active journey has the key.
func (e *Engine) EnrollFromPlay(ctx context.Context, tx bun.Tx, t db.Tenant, journeyKey string, accountID uuid.UUID, ref string) (*uuid.UUID, error) {
	pub, err := e.Definitions.ByKey(ctx, tx, t, journeyKey)
	if err != nil {
		return nil, err
	}
	if pub.Journey.Status != db.JourneyActive {
		return nil, fmt.Errorf("journey %q is %s: %w", journeyKey, pub.Journey.Status, db.ErrNotFound)
	}
	enr, _, err := e.enroll(ctx, tx, t, pub, accountID, origin{source: db.EnrollSourcePlay, ref: ref}, e.now())
	if err != nil || enr == nil {
		return nil, err
	}
	return &enr.ID, nil
}

// OnEventsRecorded enrols the accounts of the stored events in the ACTIVE journeys whose
// EVENT trigger the events match, and re-checks the checkpoints and completeWhen conditions
// of those accounts' live enrolments, all in tx (the transaction that stored the events).
func (e *Engine) OnEventsRecorded(ctx context.Context, tx bun.Tx, t db.Tenant, events []db.Event) error {
	now := e.now()
	byName := map[string][]Published{}
	var accounts []uuid.UUID
	for _, ev := range events {
		if !slices.Contains(accounts, ev.AccountID) {
			accounts = append(accounts, ev.AccountID)
		}
		journeys, ok := byName[ev.Name]
		if !ok {
			var err error
			if journeys, err = e.Definitions.ActiveByEvent(ctx, tx, t, ev.Name); err != nil {
				return err
			}
			byName[ev.Name] = journeys
		}
		for i := range journeys {
			pub := &journeys[i]
			if pub.Definition.Trigger == nil {
				continue
			}
			ok, err := pub.Definition.Trigger.MatchesEvent(ev.Name, ev.Properties)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			ref := fmt.Sprintf("event:%d", ev.ID)
			if _, _, err := e.enroll(ctx, tx, t, pub, ev.AccountID, origin{source: db.EnrollSourceTrigger, ref: ref}, now); err != nil {
				return fmt.Errorf("enrol in journey %s: %w", pub.Journey.Key, err)
			}
		}
	}
	return e.recheck(ctx, tx, t, accounts, now)
}

// changedFields names, as FIELD_CHANGE triggers do, the account fields that differ.
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
	if (before.RenewalDate == nil) != (after.RenewalDate == nil) ||
		(before.RenewalDate != nil && !before.RenewalDate.Equal(*after.RenewalDate)) {
		out = append(out, "account.renewalDate")
	}
	return out
}

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// OnAccountChanged enrols the account in the ACTIVE journeys whose FIELD_CHANGE trigger the
// change matches (e.g. stage → ONBOARDING) and re-checks its live enrolments' conditions, in
// tx (the mutation's transaction). An archived account is not enrolled, and archiving an
// account cancels its live enrolments ("account archived").
func (e *Engine) OnAccountChanged(ctx context.Context, tx bun.Tx, t db.Tenant, before, after *db.Account) error {
	now := e.now()
	if after.ArchivedAt != nil && before.ArchivedAt == nil {
		enrs, err := db.LiveEnrollmentsOfAccounts(ctx, tx, t, []uuid.UUID{after.ID})
		if err != nil {
			return err
		}
		for i := range enrs {
			r, err := e.load(ctx, tx, t, &enrs[i])
			if err != nil {
				return err
			}
			if err := e.cancel(ctx, tx, t, r, nil, "account archived", now); err != nil {
				return err
			}
			if err := e.save(ctx, tx, t, r, now); err != nil {
				return err
			}
		}
		return nil
	}
	if after.ArchivedAt == nil {
		for _, field := range changedFields(before, after) {
			journeys, err := e.Definitions.ActiveByField(ctx, tx, t, field)
			if err != nil {
				return err
			}
			for i := range journeys {
				pub := &journeys[i]
				if pub.Definition.Trigger == nil {
					continue
				}
				ok, err := pub.Definition.Trigger.MatchesChange(condition.Subject{Account: before}, condition.Subject{Account: after}, now)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if _, _, err := e.enroll(ctx, tx, t, pub, after.ID, origin{source: db.EnrollSourceTrigger, ref: "field:" + field}, now); err != nil {
					return fmt.Errorf("enrol in journey %s: %w", pub.Journey.Key, err)
				}
			}
		}
	}
	return e.recheck(ctx, tx, t, []uuid.UUID{after.ID}, now)
}

// recheck advances the accounts' live enrolments: checkpoints and completeWhen conditions
// that now hold complete their steps and milestones.
func (e *Engine) recheck(ctx context.Context, tx bun.Tx, t db.Tenant, accounts []uuid.UUID, now time.Time) error {
	enrs, err := db.LiveEnrollmentsOfAccounts(ctx, tx, t, accounts)
	if err != nil {
		return err
	}
	for i := range enrs {
		r, err := e.load(ctx, tx, t, &enrs[i])
		if err != nil {
			return err
		}
		if err := e.advance(ctx, tx, t, r, now); err != nil {
			return err
		}
		if err := e.save(ctx, tx, t, r, now); err != nil {
			return err
		}
	}
	return nil
}

// userOrNil stores uuid.Nil as "no user": changes made by an API key have no user.
func userOrNil(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
