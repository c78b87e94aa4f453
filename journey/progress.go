package journey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/task"
)

// run is one enrolment loaded for a change under its row lock: the pinned definition, the
// milestone rows by key and the step rows by key.
type run struct {
	pub   *Published
	def   *Definition
	enr   *db.JourneyEnrollment
	ms    map[string]*db.JourneyMilestoneState
	steps map[string]*db.JourneyStepState
	// progressed: a milestone or a person's step moved, so last_progress_at moves too.
	progressed bool
	// dirty: the enrolment row changed and must be written.
	dirty bool
	// vars caches the account's template values for the tasks of one change.
	vars *play.Vars
}

// load reads what a change of the (locked) enrolment needs.
func (e *Engine) load(ctx context.Context, tx bun.Tx, t db.Tenant, enr *db.JourneyEnrollment) (*run, error) {
	pub, err := e.Definitions.Load(ctx, tx, t, enr.JourneyID, enr.Version)
	if err != nil {
		return nil, fmt.Errorf("load journey %s v%d: %w", enr.JourneyID, enr.Version, err)
	}
	ms, err := db.MilestoneStates(ctx, tx, t, enr.ID)
	if err != nil {
		return nil, err
	}
	steps, err := db.StepStates(ctx, tx, t, []uuid.UUID{enr.ID})
	if err != nil {
		return nil, err
	}
	r := &run{pub: pub, def: pub.Definition, enr: enr, ms: map[string]*db.JourneyMilestoneState{}, steps: map[string]*db.JourneyStepState{}}
	for i := range ms {
		r.ms[ms[i].MilestoneKey] = &ms[i]
	}
	for i := range steps {
		r.steps[steps[i].StepKey] = &steps[i]
	}
	return r, nil
}

// lockRun locks an enrolment and loads it; ErrNotFound for an unknown id.
func (e *Engine) lockRun(ctx context.Context, tx bun.Tx, t db.Tenant, id uuid.UUID) (*run, error) {
	enr, err := db.GetEnrollmentForUpdate(ctx, tx, t, id)
	if err != nil {
		return nil, err
	}
	return e.load(ctx, tx, t, enr)
}

// statuses lists the milestones' statuses in definition order (NOT_STARTED for a milestone
// without a row).
func (r *run) statuses() []string {
	out := make([]string, len(r.def.Milestones))
	for i, m := range r.def.Milestones {
		out[i] = db.MilestoneNotStarted
		if st := r.ms[m.Key]; st != nil {
			out[i] = st.Status
		}
	}
	return out
}

// stallAfter is the definition's stall time.
func (r *run) stallAfter() time.Duration {
	d := r.def.StallAfter
	if d == "" {
		d = DefaultStallAfter
	}
	return d.Length()
}

// atRiskShare is the definition's at-risk share.
func (r *run) atRiskShare() float64 {
	if r.def.AtRiskShare <= 0 {
		return DefaultAtRiskShare
	}
	return r.def.AtRiskShare
}

// touch records progress at now: an ACTIVE enrolment's stall time moves, a STALLED one is
// ACTIVE again.
func (e *Engine) touch(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, now time.Time) error {
	if !r.enr.Live() {
		return nil
	}
	r.enr.LastProgressAt = now
	r.enr.StallAt = StallAt(now, r.stallAfter())
	r.dirty = true
	if r.enr.Status == db.EnrollmentStalled {
		r.enr.Status = db.EnrollmentActive
		return e.record(ctx, tx, t, r, "RESUMED", "", now)
	}
	return nil
}

// save writes the enrolment row when it changed, moving its progress time first.
func (e *Engine) save(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, now time.Time) error {
	if r.progressed {
		r.progressed = false
		if err := e.touch(ctx, tx, t, r, now); err != nil {
			return err
		}
	}
	if !r.dirty {
		return nil
	}
	r.dirty = false
	return db.UpdateEnrollment(ctx, tx, t, r.enr)
}

// emit reports a status change: a timeline entry on the account, a change-log row and
// Observe, all in tx.
func (e *Engine) emit(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, kind play.JourneyEventKind, milestone string, now time.Time) error {
	if err := e.record(ctx, tx, t, r, string(kind), milestone, now); err != nil {
		return err
	}
	if e.Observe == nil {
		return nil
	}
	return e.Observe(ctx, tx, t, play.JourneyEvent{
		Kind: kind, JourneyID: r.enr.JourneyID, JourneyKey: r.pub.Journey.Key, EnrollmentID: r.enr.ID,
		AccountID: r.enr.AccountID, Milestone: milestone, At: now,
	})
}

// record writes the timeline entry of a change and the change-log rows of both: the entry's
// (db.TimelineChange, for accountActivity) and the journey's (db.JourneyChange, for
// journeyProgress and accountActivity), whose kind is the event kind as the API names it
// (ENTERED, MILESTONE_STARTED, AT_RISK, RESUMED...) and whose status is the milestone's for a
// milestone-level change, else the enrolment's.
func (e *Engine) record(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, kind, milestone string, now time.Time) error {
	entry := &db.TimelineEntry{AccountID: r.enr.AccountID, Kind: db.TimelineSystem, OccurredAt: now, Body: r.describe(kind, milestone)}
	if err := db.InsertTimelineEntry(ctx, tx, t, entry); err != nil {
		return err
	}
	status := r.enr.Status
	if st := r.ms[milestone]; st != nil {
		status = st.Status
	}
	return db.AppendChanges(ctx, tx, t, db.TimelineChange(entry),
		db.JourneyChange(r.enr.JourneyID, r.enr.ID, r.enr.AccountID, kind, milestone, status))
}

// describe is the timeline text of a change.
func (r *run) describe(kind, milestone string) string {
	name := r.pub.Journey.Name
	mname := milestone
	if m, _, ok := r.def.Milestone(milestone); ok {
		mname = m.Name
	}
	switch play.JourneyEventKind(kind) {
	case play.JourneyEntered:
		if r.enr.Attempt > 1 {
			return fmt.Sprintf("Restarted journey %q (attempt %d, version %d).", name, r.enr.Attempt, r.enr.Version)
		}
		return fmt.Sprintf("Enrolled in journey %q (version %d).", name, r.enr.Version)
	case play.JourneyCompleted:
		return fmt.Sprintf("Completed journey %q.", name)
	case play.JourneyCancelled:
		return fmt.Sprintf("Journey %q was cancelled.", name)
	case play.JourneyStalled:
		return fmt.Sprintf("Journey %q stalled: no progress since %s.", name, r.enr.LastProgressAt.UTC().Format(time.RFC3339))
	case play.MilestoneStarted:
		return fmt.Sprintf("Journey %q: milestone %q started.", name, mname)
	case play.MilestoneCompleted:
		return fmt.Sprintf("Journey %q: milestone %q done.", name, mname)
	case play.MilestoneSkipped:
		return fmt.Sprintf("Journey %q: milestone %q skipped.", name, mname)
	case play.MilestoneAtRisk:
		return fmt.Sprintf("Journey %q: milestone %q is at risk.", name, mname)
	case play.MilestoneBehind:
		return fmt.Sprintf("Journey %q: milestone %q is behind its target.", name, mname)
	case "RESUMED":
		return fmt.Sprintf("Journey %q is moving again.", name)
	case "REOPENED":
		return fmt.Sprintf("Journey %q: milestone %q reopened.", name, mname)
	case "MIGRATED":
		return fmt.Sprintf("Journey %q: moved to version %d.", name, r.enr.Version)
	}
	return fmt.Sprintf("Journey %q: %s %s.", name, strings.ToLower(kind), mname)
}

// advance moves the enrolment as far as its state allows at now: in-progress milestones whose
// rule holds become DONE (checkpoints are settled on the way), then the current group's
// NOT_STARTED milestones start, and so on; when every milestone is DONE or SKIPPED the
// enrolment is COMPLETED. A milestone that completes as it starts lets the next group start
// in the same call.
func (e *Engine) advance(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, now time.Time) error {
	if !r.enr.Live() {
		return nil
	}
	groups := r.def.Groups()
	for range len(r.def.Milestones) + 1 {
		for i := range r.def.Milestones {
			m := &r.def.Milestones[i]
			st := r.ms[m.Key]
			if st == nil || !st.InProgress() {
				continue
			}
			done, err := e.milestoneDone(ctx, tx, t, r, m, now)
			if err != nil {
				return err
			}
			if done {
				if err := e.completeMilestone(ctx, tx, t, r, m.Key, now); err != nil {
					return err
				}
			}
		}
		start, complete := NextMilestones(groups, r.statuses())
		if complete {
			return e.completeEnrollment(ctx, tx, t, r, now)
		}
		if len(start) == 0 {
			return nil
		}
		for _, i := range start {
			if err := e.startMilestone(ctx, tx, t, r, i, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// holds evaluates an ACCOUNT condition for the enrolment's account at now.
func holds(ctx context.Context, tx bun.Tx, t db.Tenant, accountID uuid.UUID, c *condition.Condition, now time.Time) (bool, error) {
	s, err := condition.LoadSubject(ctx, tx, t, condition.ScopeAccount, accountID, c.Needs(now))
	if err != nil {
		return false, err
	}
	return c.Eval(s, now)
}

// watched reports whether a milestone has conditions the status job re-checks.
func watched(m *Milestone) bool {
	if m.CompleteWhen != nil {
		return true
	}
	for _, s := range m.Steps {
		if s.Kind == StepCheckpoint {
			return true
		}
	}
	return false
}

// milestoneDone settles the milestone's pending checkpoints whose condition holds and decides
// whether the milestone is complete (MilestoneComplete).
func (e *Engine) milestoneDone(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, m *Milestone, now time.Time) (bool, error) {
	var count StepCount
	for i := range m.Steps {
		s := &m.Steps[i]
		row := r.steps[s.Key]
		if s.Kind == StepCheckpoint && row != nil && row.Status == db.JourneyStepPending && s.Condition != nil {
			ok, err := holds(ctx, tx, t, r.enr.AccountID, s.Condition, now)
			if err != nil {
				return false, fmt.Errorf("checkpoint %s: %w", s.Key, err)
			}
			if ok {
				row.Status, row.DoneAt = db.JourneyStepDone, &now
				if err := db.UpdateStepState(ctx, tx, t, row); err != nil {
					return false, err
				}
				r.progressed = true
			}
		}
		if s.Required {
			count.Required++
			if row != nil && row.Settled() {
				count.Settled++
			}
		}
	}
	cond := m.CompleteWhen != nil
	held := false
	if cond {
		var err error
		if held, err = holds(ctx, tx, t, r.enr.AccountID, m.CompleteWhen, now); err != nil {
			return false, fmt.Errorf("milestone %s completeWhen: %w", m.Key, err)
		}
	}
	return MilestoneComplete(count, cond, held), nil
}

// completeMilestone marks a milestone DONE at now.
func (e *Engine) completeMilestone(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, key string, now time.Time) error {
	st := r.ms[key]
	st.Status, st.CompletedAt = db.MilestoneDone, &now
	st.NextStatusAt, st.NextCheckAt = nil, nil
	if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
		return err
	}
	r.progressed = true
	return e.emit(ctx, tx, t, r, play.MilestoneCompleted, key, now)
}

// completeEnrollment ends the enrolment as COMPLETED at now.
func (e *Engine) completeEnrollment(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, now time.Time) error {
	r.enr.Status, r.enr.CompletedAt, r.enr.StallAt = db.EnrollmentCompleted, &now, nil
	r.enr.LastProgressAt = now
	r.dirty, r.progressed = true, false
	return e.emit(ctx, tx, t, r, play.JourneyCompleted, "", now)
}

// startMilestone starts milestone i at now: its status from its target, its steps (tasks,
// automated step jobs, checkpoint rows), and the MILESTONE_STARTED change.
func (e *Engine) startMilestone(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, i int, now time.Time) error {
	m := &r.def.Milestones[i]
	st := r.ms[m.Key]
	if st == nil {
		return fmt.Errorf("milestone %s has no state row", m.Key)
	}
	tm := Timing{Started: now, Target: m.Target.Length(), AtRiskShare: r.atRiskShare()}
	status, next := ProgressStatus(tm, now)
	st.Status, st.StartedAt, st.DueAt, st.NextStatusAt = status, &now, tm.DueAt(), next
	st.CompletedAt, st.SkippedAt = nil, nil
	st.NextCheckAt = nil
	if watched(m) {
		at := now.Add(e.cfg().CheckInterval)
		st.NextCheckAt = &at
	}
	if err := db.UpdateMilestoneState(ctx, tx, t, st); err != nil {
		return err
	}
	r.progressed = true
	if err := e.emit(ctx, tx, t, r, play.MilestoneStarted, m.Key, now); err != nil {
		return err
	}
	for j := range m.Steps {
		if err := e.startStep(ctx, tx, t, r, m, &m.Steps[j], now); err != nil {
			return fmt.Errorf("start step %s: %w", m.Steps[j].Key, err)
		}
	}
	return nil
}

// stepKey is the idempotency key of a step's effect in an enrolment.
func stepKey(enrollmentID uuid.UUID, step string) string {
	return fmt.Sprintf("journey_enrollment:%s/step:%s", enrollmentID, step)
}

// startStep creates a step's row once per enrolment and starts its effect: a TASK creates its
// task (idempotent key per enrolment and step, due dueIn after the milestone's start,
// assigned by team role from the account team with the owner as fallback, otherwise
// unassigned and flagged), an automated step inserts its job, a CHECKPOINT waits for its
// condition. A step that already has a row is left as it is.
func (e *Engine) startStep(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, m *Milestone, s *Step, now time.Time) error {
	row := &db.JourneyStepState{
		EnrollmentID: r.enr.ID, StepKey: s.Key, MilestoneKey: m.Key, Kind: string(s.Kind),
		Required: s.Required, Status: db.JourneyStepPending, CreatedAt: now,
	}
	inserted, err := db.InsertStepState(ctx, tx, t, row)
	if err != nil {
		return err
	}
	if !inserted {
		return nil
	}
	r.steps[s.Key] = row
	switch {
	case s.Kind == StepTask:
		return e.createTask(ctx, tx, t, r, m, s, row, now)
	case s.Kind.Automated():
		_, err := e.Inserter.InsertTx(ctx, tx.Tx, StepArgs{WorkspaceID: t.WorkspaceID, EnrollmentID: r.enr.ID, StepKey: s.Key},
			&river.InsertOpts{MaxAttempts: e.cfg().StepAttempts})
		if err != nil {
			return fmt.Errorf("enqueue journey step: %w", err)
		}
	}
	return nil
}

// createTask creates a TASK step's task. Input the task service refuses (a team role or user
// that no longer exists) marks the step FAILED with the reason instead of failing the
// enrolment; skipping the milestone moves on.
func (e *Engine) createTask(ctx context.Context, tx bun.Tx, t db.Tenant, r *run, m *Milestone, s *Step, row *db.JourneyStepState, now time.Time) error {
	if s.Task == nil {
		return fmt.Errorf("task step %s has no task", s.Key)
	}
	if r.vars == nil {
		v, err := e.Plays.AccountVars(ctx, tx, t, r.enr.AccountID)
		if err != nil {
			return err
		}
		r.vars = &v
	}
	vars := *r.vars
	title, err := s.Task.Title.Render(vars)
	if err != nil {
		return err
	}
	desc, err := s.Task.Description.Render(vars)
	if err != nil {
		return err
	}
	in := task.NewTask{
		AccountID: r.enr.AccountID, Title: title, Description: desc, Priority: string(s.Task.Priority),
		IdempotencyKey: stepKey(r.enr.ID, s.Key),
		Source: task.Source{Kind: db.TaskSourceJourney,
			Ref: fmt.Sprintf("journey:%s/enrollment:%s/milestone:%s/step:%s", r.pub.Journey.Key, r.enr.ID, m.Key, s.Key)},
	}
	if d := s.Task.DueIn.Length(); d > 0 {
		due := r.ms[m.Key].StartedAt.Add(d)
		in.DueAt = &due
	}
	if a := s.Task.Assignee; a != nil {
		switch a.Kind {
		case play.AssignTeamRole:
			in.Assignee.TeamRoleKey = a.TeamRole
		case play.AssignUser:
			in.Assignee.UserID = a.UserID
		}
	}
	tk, _, err := e.Tasks.Create(ctx, tx, t, in)
	if in, ok := invalid.As(err); ok {
		msg := fmt.Sprintf("task not created: %s", in.Error())
		row.Status, row.Error = db.JourneyStepFailed, &msg
		return db.UpdateStepState(ctx, tx, t, row)
	}
	if err != nil {
		return err
	}
	row.TaskID = &tk.ID
	if tk.Status == db.TaskDone {
		row.Status, row.DoneAt = db.JourneyStepDone, tk.CompletedAt
	}
	return db.UpdateStepState(ctx, tx, t, row)
}

// OnTaskChanged settles the journey step that created a task, in the task change's
// transaction: completing the task marks the step DONE, cancelling it SKIPPED (a cancelled
// task no longer holds its milestone back), reopening it PENDING again while its milestone is
// in progress. The enrolment then advances (the milestone may complete, the next one start).
// Tasks of no journey step, and steps of enrolments that ended, are left alone.
func (e *Engine) OnTaskChanged(ctx context.Context, tx bun.Tx, t db.Tenant, before, after *db.Task) error {
	if after.SourceKind != db.TaskSourceJourney || before.Status == after.Status {
		return nil
	}
	row, err := db.StepStateByTask(ctx, tx, t, after.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r, err := e.lockRun(ctx, tx, t, row.EnrollmentID)
	if err != nil {
		return err
	}
	if !r.enr.Live() {
		return nil
	}
	row = r.steps[row.StepKey]
	st := r.ms[row.MilestoneKey]
	now := e.now()
	switch after.Status {
	case db.TaskDone:
		row.Status, row.DoneAt = db.JourneyStepDone, &now
	case db.TaskCancelled:
		row.Status, row.DoneAt = db.JourneyStepSkipped, &now
	case db.TaskOpen:
		if st == nil || !st.InProgress() {
			return nil
		}
		row.Status, row.DoneAt = db.JourneyStepPending, nil
	default:
		return nil // a snooze changes nothing of the journey
	}
	if err := db.UpdateStepState(ctx, tx, t, row); err != nil {
		return err
	}
	r.progressed = true
	if err := e.advance(ctx, tx, t, r, now); err != nil {
		return err
	}
	return e.save(ctx, tx, t, r, now)
}
