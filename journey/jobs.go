package journey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/play"
)

// KindStep is the River kind of an automated journey step job.
const KindStep = "journey_step"

// StepArgs is the job that performs one automated step (SEND_EMAIL, IN_APP_MESSAGE,
// LAUNCH_PLAY) of one enrolment. It holds ids only; the worker loads the state and does
// nothing when the step is no longer PENDING.
type StepArgs struct {
	WorkspaceID  uuid.UUID `json:"workspace_id"`
	EnrollmentID uuid.UUID `json:"enrollment_id"`
	StepKey      string    `json:"step_key"`
}

// Kind implements river.JobArgs.
func (StepArgs) Kind() string { return KindStep }

// StepWorker works StepArgs jobs with an Engine.
type StepWorker struct {
	river.WorkerDefaults[StepArgs]
	Engine *Engine
}

// Work performs the step; see Engine.WorkStep.
func (w *StepWorker) Work(ctx context.Context, job *river.Job[StepArgs]) error {
	return w.Engine.WorkStep(ctx, job.Args, job.Attempt, job.MaxAttempts)
}

// errStop ends a job's transaction without an error.
var errStop = errors.New("stop")

// WorkStep performs an automated step once, in one transaction with the enrolment locked: the
// effect (outbox email, in-app messages, play runs) commits with the step row marked DONE, so
// a retried or repeated job finds DONE and does nothing; effects also carry the step's
// idempotency key. A step of an enrolment that ended, of a skipped milestone or of an archived
// journey is SKIPPED; a step of a PAUSED journey waits (river.JobSnooze) until it is resumed.
// On the last failing attempt the step is FAILED with the error.
func (e *Engine) WorkStep(ctx context.Context, args StepArgs, attempt, maxAttempts int) error {
	t := db.Tenant{WorkspaceID: args.WorkspaceID}
	var snooze time.Duration
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := e.lockRun(ctx, tx, t, args.EnrollmentID)
		if errors.Is(err, db.ErrNotFound) {
			return errStop
		}
		if err != nil {
			return err
		}
		row := r.steps[args.StepKey]
		if row == nil || row.Status != db.JourneyStepPending {
			return errStop
		}
		now := e.now()
		if r.pub.Journey.Status == db.JourneyPaused {
			snooze = e.cfg().PauseRecheck
			return errStop
		}
		if st := r.ms[row.MilestoneKey]; !r.enr.Live() || st == nil || st.Status == db.MilestoneSkipped ||
			r.pub.Journey.Status == db.JourneyArchived {
			row.Status, row.DoneAt = db.JourneyStepSkipped, &now
			return db.UpdateStepState(ctx, tx, t, row)
		}
		s, _, ok := r.def.Step(args.StepKey)
		if !ok {
			msg := fmt.Sprintf("step %q is not in version %d", args.StepKey, r.enr.Version)
			row.Status, row.Error = db.JourneyStepFailed, &msg
			return db.UpdateStepState(ctx, tx, t, row)
		}
		key := stepKey(r.enr.ID, s.Key)
		switch s.Kind {
		case StepSendEmail:
			outbox, _, err := e.Plays.SendEmailFor(ctx, tx, t, r.enr.AccountID, s.Email, key)
			if err != nil {
				return err
			}
			row.OutboxID = outbox
		case StepInAppMessage:
			first, _, err := e.Plays.InAppFor(ctx, tx, t, r.enr.AccountID, s.Message, key, "journey:"+s.Key, now)
			if err != nil {
				return err
			}
			row.InAppMessageID = first
		case StepLaunchPlay:
			if s.PlayID == nil {
				return errors.New("LAUNCH_PLAY step without a play")
			}
			pr, err := e.Plays.LaunchInTx(ctx, tx, t, *s.PlayID, r.enr.AccountID, now)
			if err != nil {
				return err
			}
			if pr != nil {
				row.PlayRunID = &pr.ID
			}
		default:
			return errStop
		}
		row.Status, row.DoneAt, row.Error = db.JourneyStepDone, &now, nil
		if err := db.UpdateStepState(ctx, tx, t, row); err != nil {
			return err
		}
		// Required automated steps do not exist, but a milestone may wait for nothing else.
		if err := e.advance(ctx, tx, t, r, now); err != nil {
			return err
		}
		return e.save(ctx, tx, t, r, now)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	if err != nil && attempt >= maxAttempts {
		if ferr := e.failStep(ctx, t, args, err); ferr != nil {
			return errors.Join(err, ferr)
		}
	}
	return err
}

// failStep records an automated step's final failure in its own transaction.
func (e *Engine) failStep(ctx context.Context, t db.Tenant, args StepArgs, cause error) error {
	return db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		if _, err := db.GetEnrollmentForUpdate(ctx, tx, t, args.EnrollmentID); err != nil {
			return err
		}
		row, err := db.GetStepState(ctx, tx, t, args.EnrollmentID, args.StepKey)
		if err != nil || row.Status != db.JourneyStepPending {
			return err
		}
		msg := cause.Error()
		row.Status, row.Error = db.JourneyStepFailed, &msg
		return db.UpdateStepState(ctx, tx, t, row)
	})
}

// KindStatus is the River kind of the periodic status job.
const KindStatus = "journey_status"

// StatusArgs is the periodic job that moves journey statuses with time.
type StatusArgs struct{}

// Kind implements river.JobArgs.
func (StatusArgs) Kind() string { return KindStatus }

// StatusWorker works StatusArgs jobs with an Engine.
type StatusWorker struct {
	river.WorkerDefaults[StatusArgs]
	Engine *Engine
}

// Work runs the status pass once.
func (w *StatusWorker) Work(ctx context.Context, _ *river.Job[StatusArgs]) error {
	_, err := w.Engine.UpdateStatuses(ctx)
	return err
}

// PeriodicStatus is the River periodic job that runs UpdateStatuses every
// Config.StatusInterval (default a minute), once when a leader starts; it is unique per
// period, and UpdateStatuses is itself safe to run in several processes at once.
func (e *Engine) PeriodicStatus() *river.PeriodicJob {
	every := e.cfg().StatusInterval
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return StatusArgs{}, &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{RunOnStart: true, ID: KindStatus})
}

// StatusCounts is what one UpdateStatuses pass changed.
type StatusCounts struct {
	// Stalled is how many ACTIVE enrolments became STALLED.
	Stalled int
	// Enrollments is how many enrolments with a due milestone time were looked at.
	Enrollments int
	// Failed is how many of them failed (logged, and postponed by CheckInterval).
	Failed int
}

// UpdateStatuses applies the time-driven rules at the engine's clock, across workspaces:
//   - ACTIVE enrolments whose stall time (last progress + stallAfter) has come become STALLED,
//     in one UPDATE per batch that skips rows other transactions hold;
//   - enrolments with a milestone whose next status time has come (AT_RISK, then BEHIND) or
//     whose conditions are due for a re-check are locked in batches (FOR UPDATE SKIP LOCKED)
//     and moved with the pure rules, then advanced.
//
// Each batch is one transaction; every change writes its timeline entry, change-log row and
// JOURNEY event like any other. Several processes running it at once take disjoint rows, and
// a row already moved no longer matches, so nothing is moved twice.
func (e *Engine) UpdateStatuses(ctx context.Context) (StatusCounts, error) {
	var c StatusCounts
	batch := e.cfg().StatusBatch
	for {
		var n int
		err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
			now := e.now()
			rows, err := db.StallEnrollments(ctx, tx, now, batch)
			if err != nil {
				return err
			}
			n = len(rows)
			for i := range rows {
				t := db.Tenant{WorkspaceID: rows[i].WorkspaceID}
				r, err := e.load(ctx, tx, t, &rows[i])
				if err != nil {
					return err
				}
				if err := e.emit(ctx, tx, t, r, play.JourneyStalled, "", now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return c, fmt.Errorf("stall enrolments: %w", err)
		}
		c.Stalled += n
		if n < batch {
			break
		}
	}
	for {
		var n int
		err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
			now := e.now()
			rows, err := db.LockDueEnrollments(ctx, tx, now, batch)
			if err != nil {
				return err
			}
			n = len(rows)
			for i := range rows {
				// Each enrolment in a savepoint: one that fails (a deadlock with a play step, a
				// version that no longer loads) is logged and postponed, the others move on.
				err := tx.RunInTx(ctx, nil, func(ctx context.Context, sp bun.Tx) error {
					return e.tick(ctx, sp, &rows[i], now)
				})
				if err == nil {
					continue
				}
				c.Failed++
				e.logger().ErrorContext(ctx, "journey status: enrolment failed", slog.String("workspace_id", rows[i].WorkspaceID.String()),
					slog.String("enrollment_id", rows[i].ID.String()), slog.Any("error", err))
				t := db.Tenant{WorkspaceID: rows[i].WorkspaceID}
				if err := db.PostponeDueMilestones(ctx, tx, t, rows[i].ID, now, now.Add(e.cfg().CheckInterval)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return c, fmt.Errorf("milestone statuses: %w", err)
		}
		c.Enrollments += n
		if n < batch {
			break
		}
	}
	return c, nil
}

// tick moves one locked enrolment's in-progress milestones to their status at now, re-checks
// conditions that are due and advances it.
func (e *Engine) tick(ctx context.Context, tx bun.Tx, enr *db.JourneyEnrollment, now time.Time) error {
	t := db.Tenant{WorkspaceID: enr.WorkspaceID}
	r, err := e.load(ctx, tx, t, enr)
	if err != nil {
		return err
	}
	for i := range r.def.Milestones {
		m := &r.def.Milestones[i]
		st := r.ms[m.Key]
		if st == nil || !st.InProgress() {
			continue
		}
		changed := false
		if st.NextStatusAt != nil && !now.Before(*st.NextStatusAt) && st.StartedAt != nil {
			tm := Timing{Started: *st.StartedAt, Target: m.Target.Length(), AtRiskShare: r.atRiskShare()}
			status, next := ProgressStatus(tm, now)
			st.NextStatusAt = next
			changed = true
			if status != st.Status {
				if err := e.moveStatus(ctx, tx, t, r, m.Key, tm, status, now); err != nil {
					return err
				}
			}
		}
		if st.NextCheckAt != nil && !now.Before(*st.NextCheckAt) {
			at := now.Add(e.cfg().CheckInterval)
			st.NextCheckAt = &at
			changed = true
		}
		if changed {
			if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
				return err
			}
		}
	}
	if err := e.advance(ctx, tx, t, r, now); err != nil {
		return err
	}
	return e.save(ctx, tx, t, r, now)
}

// moveStatus moves an in-progress milestone to AT_RISK or BEHIND and reports it. Passing
// both thresholds at once (the job ran late) reports AT_RISK then BEHIND, so plays listening
// for either see it.
func (e *Engine) moveStatus(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, key string, tm Timing, status string, now time.Time) error {
	st := r.ms[key]
	if st.Status == db.MilestoneOnTrack && (status == db.MilestoneAtRisk || status == db.MilestoneBehind) {
		if at := tm.AtRiskAt(); at != nil {
			st.Status, st.AtRiskAt = db.MilestoneAtRisk, at
			if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
				return err
			}
			if err := e.emit(ctx, tx, t, r, play.MilestoneAtRisk, key, now); err != nil {
				return err
			}
		}
	}
	if status == db.MilestoneBehind {
		st.Status, st.BehindAt = db.MilestoneBehind, tm.DueAt()
		if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
			return err
		}
		return e.emit(ctx, tx, t, r, play.MilestoneBehind, key, now)
	}
	return nil
}
