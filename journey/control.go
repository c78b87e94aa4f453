package journey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
)

// Progress is an enrolment with its milestone and step rows, as the API shows it.
type Progress struct {
	Enrollment *db.JourneyEnrollment
	Milestones []db.JourneyMilestoneState
	Steps      []db.JourneyStepState
}

// Get loads one enrolment; ErrNotFound for an unknown id or another workspace's.
func (e *Engine) Get(ctx context.Context, t db.Tenant, id uuid.UUID) (*db.JourneyEnrollment, error) {
	return db.GetEnrollment(ctx, e.DB, t, id)
}

// List returns one page of enrolments, newest first.
func (e *Engine) List(ctx context.Context, t db.Tenant, f db.EnrollmentFilter, first int, after *db.PageCursor) ([]db.JourneyEnrollment, bool, error) {
	return db.ListEnrollments(ctx, e.DB, t, f, first, after)
}

// change locks an enrolment, loads it, lets fn change it and saves it, in one transaction,
// and returns the enrolment after the change.
func (e *Engine) change(ctx context.Context, t db.Tenant, id uuid.UUID, fn func(ctx context.Context, tx bun.Tx, r *run, now time.Time) error) (*db.JourneyEnrollment, error) {
	var out *db.JourneyEnrollment
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := e.lockRun(ctx, tx, t, id)
		if err != nil {
			return err
		}
		now := e.now()
		if err := fn(ctx, tx, r, now); err != nil {
			return err
		}
		if err := e.save(ctx, tx, t, r, now); err != nil {
			return err
		}
		out = r.enr
		return nil
	})
	return out, err
}

// milestoneOf finds a milestone of a live enrolment by key for skip and reopen.
func (r *run) milestoneOf(key string) (*Milestone, *db.JourneyMilestoneState, error) {
	if !r.enr.Live() && r.enr.Status != db.EnrollmentCompleted {
		return nil, nil, conflict("enrollmentId", "the enrolment is %s", r.enr.Status)
	}
	m, _, ok := r.def.Milestone(key)
	st := r.ms[key]
	if !ok || st == nil {
		return nil, nil, invalid.Field("milestone", "no milestone %q in version %d", key, r.enr.Version)
	}
	return m, st, nil
}

// taskIDs lists the tasks of the milestone's step rows.
func (r *run) taskIDs(milestone string) []uuid.UUID {
	var ids []uuid.UUID
	for _, s := range r.steps {
		if s.MilestoneKey == milestone && s.TaskID != nil {
			ids = append(ids, *s.TaskID)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	return ids
}

// settle marks the milestone's PENDING step rows SKIPPED and cancels their open tasks
// (directly, so the task hook does not run back into this change).
func (e *Engine) settle(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, milestone string, now time.Time) error {
	var tasks []uuid.UUID
	for _, s := range r.steps {
		if s.MilestoneKey != milestone || s.Status != db.JourneyStepPending {
			continue
		}
		s.Status, s.DoneAt = db.JourneyStepSkipped, &now
		if err := db.UpdateStepState(ctx, tx, t, s); err != nil {
			return err
		}
		if s.TaskID != nil {
			tasks = append(tasks, *s.TaskID)
		}
	}
	return db.SetOpenTasksStatus(ctx, tx, t, tasks, []string{db.TaskOpen, db.TaskSnoozed}, db.TaskCancelled, now)
}

// SkipMilestone marks a milestone of a live enrolment SKIPPED (started or not yet): its
// pending steps are SKIPPED and their open tasks cancelled, and the enrolment advances (the
// next group may start, or the enrolment complete). Skipping a DONE or SKIPPED milestone is a
// CONFLICT.
func (e *Engine) SkipMilestone(ctx context.Context, t db.Tenant, id uuid.UUID, key string) (*db.JourneyEnrollment, error) {
	return e.change(ctx, t, id, func(ctx context.Context, tx bun.Tx, r *run, now time.Time) error {
		if !r.enr.Live() {
			return conflict("enrollmentId", "the enrolment is %s", r.enr.Status)
		}
		_, st, err := r.milestoneOf(key)
		if err != nil {
			return err
		}
		if st.Finished() {
			return conflict("milestone", "the milestone is already %s", st.Status)
		}
		st.Status, st.SkippedAt = db.MilestoneSkipped, &now
		st.NextStatusAt, st.NextCheckAt = nil, nil
		if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
			return err
		}
		if err := e.settle(ctx, tx, t, r, key, now); err != nil {
			return err
		}
		r.progressed = true
		if err := e.emit(ctx, tx, t, r, play.MilestoneSkipped, key, now); err != nil {
			return err
		}
		return e.advance(ctx, tx, t, r, now)
	})
}

// ReopenMilestone puts a DONE or SKIPPED milestone back in progress from now (a fresh target
// clock): its required TASK steps become PENDING with their tasks reopened and due again
// dueIn from now, its CHECKPOINT steps are checked again; automated steps, which ran once,
// are not repeated. A COMPLETED enrolment becomes ACTIVE again. Milestones that started after
// it stay as they are.
func (e *Engine) ReopenMilestone(ctx context.Context, t db.Tenant, id uuid.UUID, key string) (*db.JourneyEnrollment, error) {
	return e.change(ctx, t, id, func(ctx context.Context, tx bun.Tx, r *run, now time.Time) error {
		m, st, err := r.milestoneOf(key)
		if err != nil {
			return err
		}
		if !st.Finished() {
			return conflict("milestone", "only a DONE or SKIPPED milestone can be reopened; it is %s", st.Status)
		}
		if r.enr.Status == db.EnrollmentCompleted {
			r.enr.Status, r.enr.CompletedAt = db.EnrollmentActive, nil
			r.dirty = true
		}
		tm := Timing{Started: now, Target: m.Target.Length(), AtRiskShare: r.atRiskShare()}
		status, next := ProgressStatus(tm, now)
		st.Status, st.StartedAt, st.DueAt, st.NextStatusAt = status, &now, tm.DueAt(), next
		st.CompletedAt, st.SkippedAt, st.AtRiskAt, st.BehindAt, st.NextCheckAt = nil, nil, nil, nil, nil
		if watched(m) {
			at := now.Add(e.cfg().CheckInterval)
			st.NextCheckAt = &at
		}
		if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
			return err
		}
		for i := range m.Steps {
			s := &m.Steps[i]
			row := r.steps[s.Key]
			if row == nil {
				if err := e.startStep(ctx, tx, t, r, m, s, now); err != nil {
					return err
				}
				continue
			}
			if s.Kind.Automated() || !s.Required {
				continue
			}
			row.Status, row.DoneAt, row.Error = db.JourneyStepPending, nil, nil
			if err := db.UpdateStepState(ctx, tx, t, row); err != nil {
				return err
			}
			if row.TaskID != nil {
				if err := db.SetOpenTasksStatus(ctx, tx, t, []uuid.UUID{*row.TaskID},
					[]string{db.TaskDone, db.TaskCancelled, db.TaskSnoozed}, db.TaskOpen, now); err != nil {
					return err
				}
				if s.Task != nil && s.Task.DueIn.Length() > 0 {
					if err := db.SetTaskDue(ctx, tx, t, *row.TaskID, now.Add(s.Task.DueIn.Length())); err != nil {
						return err
					}
				}
			}
		}
		r.progressed = true
		if err := e.record(ctx, tx, t, r, "REOPENED", key, now); err != nil {
			return err
		}
		return e.emit(ctx, tx, t, r, play.MilestoneStarted, key, now)
	})
}

// cancel ends a live enrolment as CANCELLED: its in-progress milestones' pending steps are
// SKIPPED and their open tasks cancelled.
func (e *Engine) cancel(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, by *uuid.UUID, reason string, now time.Time) error {
	for key, st := range r.ms {
		if st.InProgress() {
			st.NextStatusAt, st.NextCheckAt = nil, nil
			if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
				return err
			}
		}
		if err := e.settle(ctx, tx, t, r, key, now); err != nil {
			return err
		}
	}
	r.enr.Status, r.enr.CancelledAt, r.enr.CancelledBy, r.enr.StallAt = db.EnrollmentCancelled, &now, by, nil
	if reason != "" {
		r.enr.CancelReason = &reason
	}
	r.dirty, r.progressed = true, false
	return e.emit(ctx, tx, t, r, play.JourneyCancelled, "", now)
}

// CancelEnrollment ends a live (ACTIVE or STALLED) enrolment as CANCELLED by the user
// (uuid.Nil: an API key), with an optional reason; its open tasks are cancelled. Cancelling
// an ended enrolment is a CONFLICT.
func (e *Engine) CancelEnrollment(ctx context.Context, t db.Tenant, id, by uuid.UUID, reason string) (*db.JourneyEnrollment, error) {
	if len(reason) > 2000 {
		return nil, invalid.Field("reason", "must be at most 2000 characters")
	}
	return e.change(ctx, t, id, func(ctx context.Context, tx bun.Tx, r *run, now time.Time) error {
		if !r.enr.Live() {
			return conflict("id", "the enrolment is already %s", r.enr.Status)
		}
		return e.cancel(ctx, tx, t, r, userOrNil(by), strings.TrimSpace(reason), now)
	})
}

// RestartEnrollment relaunches an account's journey: the enrolment (live or ended) is the
// attempt replaced; a live one is CANCELLED ("restarted"), and a new enrolment of the
// journey's latest version starts with attempt+1 and restartOf naming it, from the first
// milestone. The earlier attempt keeps its history. The journey must be ACTIVE; the re-entry
// policy does not apply (a restart is a deliberate decision); restarting an attempt that was
// already restarted, or while the account has another live enrolment, is a CONFLICT.
func (e *Engine) RestartEnrollment(ctx context.Context, t db.Tenant, id, by uuid.UUID) (*db.JourneyEnrollment, error) {
	var out *db.JourneyEnrollment
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := e.lockRun(ctx, tx, t, id)
		if err != nil {
			return err
		}
		now := e.now()
		n, err := t.Select(tx, (*db.JourneyEnrollment)(nil)).Where("je.restart_of = ?", id).Count(ctx)
		if err != nil {
			return fmt.Errorf("count restarts: %w", err)
		}
		if n > 0 {
			return conflict("id", "this attempt was already restarted")
		}
		pub, err := e.activeJourney(ctx, tx, t, r.enr.JourneyID, "id")
		if err != nil {
			return err
		}
		if r.enr.Live() {
			if err := e.cancel(ctx, tx, t, r, userOrNil(by), "restarted", now); err != nil {
				return err
			}
			if err := e.save(ctx, tx, t, r, now); err != nil {
				return err
			}
		}
		enr, refused, err := e.enroll(ctx, tx, t, pub, r.enr.AccountID,
			origin{source: db.EnrollSourceManual, by: userOrNil(by), ref: "restart:" + id.String(), restart: r.enr}, now)
		if err != nil {
			return err
		}
		if enr == nil {
			return conflict("id", "%s", refused)
		}
		out = enr
		return nil
	})
	return out, err
}

// UnmappedError refuses a version migration: enrolments are in milestones the target version
// does not have. It is invalid input on "toVersion" naming them.
type UnmappedError struct {
	ToVersion  int
	Milestones []string
	// Enrollments is how many live enrolments are in an unmapped milestone.
	Enrollments int
}

func (e *UnmappedError) Error() string {
	return fmt.Sprintf("toVersion: %d live enrolments are in milestones version %d does not have: %s",
		e.Enrollments, e.ToVersion, strings.Join(e.Milestones, ", "))
}

// Unwrap exposes the *invalid.Error on "toVersion".
func (e *UnmappedError) Unwrap() error {
	return invalid.Field("toVersion", "%d live enrolments are in milestones version %d does not have: %s",
		e.Enrollments, e.ToVersion, strings.Join(e.Milestones, ", "))
}

// MigrateEnrollments moves the live (ACTIVE and STALLED) enrolments of a journey from one
// published version to another, in one transaction, only if every milestone they are in
// (started, neither DONE nor SKIPPED) exists by key in the target version; otherwise it
// returns an *UnmappedError naming the unmapped milestones and moves nothing. Moved
// enrolments keep their milestone and step rows by key: milestones new in the target get
// NOT_STARTED rows, NOT_STARTED milestones the target drops are removed (finished ones stay as
// history), in-progress milestones start the steps the target adds, and the enrolment then
// advances under the target's rules. It returns how many enrolments moved.
func (e *Engine) MigrateEnrollments(ctx context.Context, t db.Tenant, journeyID uuid.UUID, from, to int) (int, error) {
	if from == to {
		return 0, invalid.Field("toVersion", "must differ from fromVersion")
	}
	n := 0
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		j := new(db.Journey)
		if err := t.Select(tx, j).Where("j.id = ?", journeyID).For("UPDATE").Scan(ctx); err != nil {
			return invalid.Field("journeyId", "no such journey")
		}
		if _, err := e.Definitions.Load(ctx, tx, t, journeyID, from); errors.Is(err, db.ErrNotFound) {
			return invalid.Field("fromVersion", "no version %d", from)
		} else if err != nil {
			return err
		}
		target, err := e.Definitions.Load(ctx, tx, t, journeyID, to)
		if errors.Is(err, db.ErrNotFound) {
			return invalid.Field("toVersion", "no version %d", to)
		}
		if err != nil {
			return err
		}
		enrs, err := db.LiveEnrollmentsOfVersion(ctx, tx, t, journeyID, from)
		if err != nil {
			return err
		}
		ids := make([]uuid.UUID, len(enrs))
		for i := range enrs {
			ids[i] = enrs[i].ID
		}
		states, err := db.MilestoneStatesOf(ctx, tx, t, ids)
		if err != nil {
			return err
		}
		unmapped := map[string]bool{}
		blocked := map[uuid.UUID]bool{}
		for _, st := range states {
			if !st.InProgress() {
				continue
			}
			if _, _, ok := target.Definition.Milestone(st.MilestoneKey); !ok {
				unmapped[st.MilestoneKey] = true
				blocked[st.EnrollmentID] = true
			}
		}
		if len(unmapped) > 0 {
			keys := make([]string, 0, len(unmapped))
			for k := range unmapped {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return &UnmappedError{ToVersion: to, Milestones: keys, Enrollments: len(blocked)}
		}
		now := e.now()
		for i := range enrs {
			if err := e.migrate(ctx, tx, t, &enrs[i], target, now); err != nil {
				return fmt.Errorf("migrate enrolment %s: %w", enrs[i].ID, err)
			}
		}
		n = len(enrs)
		return nil
	})
	return n, err
}

// statusRank orders the in-progress statuses; a migration never moves one back.
var statusRank = map[string]int{db.MilestoneOnTrack: 0, db.MilestoneAtRisk: 1, db.MilestoneBehind: 2}

// migrate moves one locked enrolment onto target (see MigrateEnrollments).
func (e *Engine) migrate(ctx context.Context, tx bun.Tx, t db.Tenant, enr *db.JourneyEnrollment, target *Published, now time.Time) error {
	r, err := e.load(ctx, tx, t, enr)
	if err != nil {
		return err
	}
	def := target.Definition
	for key, st := range r.ms {
		if _, _, ok := def.Milestone(key); ok || st.Status != db.MilestoneNotStarted {
			continue
		}
		if err := db.DeleteMilestoneState(ctx, tx, t, enr.ID, key); err != nil {
			return err
		}
		delete(r.ms, key)
	}
	enr.Version = target.Version.Version
	r.pub, r.def, r.dirty = target, def, true
	var added []*db.JourneyMilestoneState
	for i, m := range def.Milestones {
		st := r.ms[m.Key]
		if st == nil {
			st = &db.JourneyMilestoneState{
				EnrollmentID: enr.ID, MilestoneKey: m.Key, JourneyID: enr.JourneyID, Version: enr.Version,
				AccountID: enr.AccountID, EnrolledAt: enr.EnrolledAt, Position: i, Status: db.MilestoneNotStarted, UpdatedAt: now,
			}
			r.ms[m.Key] = st
			added = append(added, st)
			continue
		}
		st.Version, st.Position = enr.Version, i
		if st.InProgress() && st.StartedAt != nil {
			tm := Timing{Started: *st.StartedAt, Target: m.Target.Length(), AtRiskShare: r.atRiskShare()}
			st.DueAt = tm.DueAt()
			status, next := ProgressStatus(tm, now)
			st.NextStatusAt = next
			if statusRank[status] > statusRank[st.Status] {
				st.NextStatusAt = &now // the status job moves it (and reports it) at once
			}
		}
		if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
			return err
		}
	}
	// Finished milestones the target no longer has keep their rows; move them after the
	// target's milestones so positions stay unique per version.
	var dropped []*db.JourneyMilestoneState
	for key, st := range r.ms {
		if _, _, ok := def.Milestone(key); !ok {
			dropped = append(dropped, st)
		}
	}
	slices.SortFunc(dropped, func(a, b *db.JourneyMilestoneState) int { return a.Position - b.Position })
	extra := len(def.Milestones)
	for _, st := range dropped {
		st.Version, st.Position = enr.Version, extra
		extra++
		if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
			return err
		}
	}
	if err := db.InsertMilestoneStates(ctx, tx, t, added); err != nil {
		return err
	}
	for i := range def.Milestones {
		m := &def.Milestones[i]
		if st := r.ms[m.Key]; st.InProgress() {
			for j := range m.Steps {
				if err := e.startStep(ctx, tx, t, r, m, &m.Steps[j], now); err != nil {
					return err
				}
			}
		}
	}
	if err := e.record(ctx, tx, t, r, "MIGRATED", "", now); err != nil {
		return err
	}
	if err := e.advance(ctx, tx, t, r, now); err != nil {
		return err
	}
	return e.save(ctx, tx, t, r, now)
}
