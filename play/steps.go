package play

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/task"
)

// cursor is a position of a run: a step and the round it runs in.
type cursor struct {
	step string
	iter int
}

// move is what executing a step decided.
type move struct {
	// wait, when set, keeps the run on this step until then (the step log row stays RUNNING).
	wait time.Time
	// to, when set, is the next position (into a branch or a repeat's body); nil means the
	// step after this one.
	to *cursor
	// end, when set, ends the run with this status.
	end     string
	outcome string
}

// iterationOf is the round a step runs in: the round of its innermost enclosing REPEAT_UNTIL
// (counted over the whole run, so it is unique per execution of the step), 0 outside loops.
func iterationOf(def *Definition, r *db.PlayRun, id string) int {
	pos, ok := def.Locate(id)
	for ok && pos.Parent != nil {
		if pos.Parent.Kind == StepRepeatUntil {
			return r.Iterations[pos.Parent.ID]
		}
		pos, ok = def.Locate(pos.Parent.ID)
	}
	return 0
}

// after is the position that follows step id once it is done; nil when the run is complete.
func after(def *Definition, r *db.PlayRun, id string) *cursor {
	pos, ok := def.Locate(id)
	if !ok {
		return nil
	}
	if pos.Index+1 < len(pos.List) {
		next := pos.List[pos.Index+1].ID
		return &cursor{next, iterationOf(def, r, next)}
	}
	if pos.Parent == nil {
		return nil
	}
	if pos.Parent.Kind == StepRepeatUntil {
		return &cursor{pos.Parent.ID, iterationOf(def, r, pos.Parent.ID)}
	}
	return after(def, r, pos.Parent.ID)
}

// idempotencyKey names the effect of one step in one round of a run.
func idempotencyKey(r *db.PlayRun, step string, iter int) string {
	return fmt.Sprintf("play_run:%s/step:%s/iter:%d", r.ID, step, iter)
}

// WorkStep executes one step job in one transaction: it locks the run, drops stale jobs
// (finished run, or a position the run has left), holds paused plays (river.JobSnooze),
// cancels runs of archived plays, ends the run when its exit or goal holds, executes the step
// once per (run, step, round) and moves the run on, inserting the next job in the same
// transaction. A failing step returns its error so River retries it; on the last attempt the
// step and the run are marked FAILED with the error.
func (e *Engine) WorkStep(ctx context.Context, args StepArgs, attempt, maxAttempts int) error {
	t := db.Tenant{WorkspaceID: args.WorkspaceID}
	var snooze time.Duration
	err := db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := db.GetPlayRunForUpdate(ctx, tx, t, args.RunID)
		if errors.Is(err, db.ErrNotFound) {
			return errStop
		}
		if err != nil {
			return err
		}
		if !r.Active() || r.CurrentStep == nil || *r.CurrentStep != args.StepID {
			return errStop
		}
		pub, err := e.Definitions.Load(ctx, tx, t, r.PlayID, r.Version)
		if err != nil {
			return err
		}
		def := pub.Definition
		if iterationOf(def, r, args.StepID) != args.Iteration {
			return errStop
		}
		now := e.now()
		switch pub.Play.Status {
		case db.PlayPaused:
			snooze = e.cfg().PauseRecheck
			return errStop
		case db.PlayArchived:
			finish(r, db.RunCancelled, "play archived", now)
			return saveRun(ctx, tx, t, r)
		}
		if r.NextWakeAt != nil && now.Before(*r.NextWakeAt) {
			snooze = r.NextWakeAt.Sub(now)
			return errStop
		}
		woke := r.NextWakeAt != nil
		r.NextWakeAt, r.Status = nil, db.RunRunning
		if err := recordScheduleValues(ctx, tx, t, r, def, now); err != nil {
			return err
		}
		ended, err := checkGoalExit(ctx, tx, t, r, def, now)
		if err != nil {
			return err
		}
		if ended {
			return saveRun(ctx, tx, t, r)
		}
		return e.step(ctx, tx, t, r, def, args, attempt, woke, now)
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	if snooze > 0 {
		return river.JobSnooze(snooze)
	}
	var perm *permanentError
	permanent := errors.As(err, &perm)
	if err != nil && (attempt >= maxAttempts || permanent) {
		if ferr := e.failStep(ctx, t, args, attempt, err); ferr != nil {
			return errors.Join(err, ferr)
		}
		if permanent {
			return river.JobCancel(err)
		}
	}
	return err
}

// permanentError is a step failure that retrying cannot fix (no journey engine, a journey
// that is gone): WorkStep fails the step and the run at once instead of letting River retry.
// RetryRun resumes the run once the cause is fixed.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

// step executes the run's current step and moves the run on.
func (e *Engine) step(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, def *Definition, args StepArgs, attempt int, woke bool, now time.Time) error {
	pos, ok := def.Locate(args.StepID)
	if !ok {
		finish(r, db.RunFailed, "", now)
		msg := fmt.Sprintf("step %q is not in version %d", args.StepID, r.Version)
		r.Error = &msg
		return saveRun(ctx, tx, t, r)
	}
	s := pos.Step
	row, err := db.GetStepRun(ctx, tx, t, r.ID, s.ID, args.Iteration)
	switch {
	case errors.Is(err, db.ErrNotFound):
		row = &db.PlayStepRun{RunID: r.ID, StepID: s.ID, Iteration: args.Iteration, Kind: string(s.Kind), StartedAt: now}
	case err != nil:
		return err
	}
	container := s.Kind == StepBranch || s.Kind == StepRepeatUntil
	var mv move
	if row.Status == db.StepDone && !container {
		// The effect already committed with this row: never repeat it.
		mv = move{outcome: derefOr(row.Outcome, "")}
	} else {
		row.Attempt, row.Status, row.Error = attempt, db.StepRunning, nil
		mv, err = e.execute(ctx, tx, t, r, def, s, row, woke, now)
		if err != nil {
			return fmt.Errorf("step %s: %w", s.ID, err)
		}
	}
	if mv.outcome != "" {
		row.Outcome = &mv.outcome
	}
	if !mv.wait.IsZero() {
		if err := db.UpsertStepRun(ctx, tx, t, row); err != nil {
			return err
		}
		r.Status, r.NextWakeAt = db.RunWaiting, &mv.wait
		if err := saveRun(ctx, tx, t, r); err != nil {
			return err
		}
		return e.insertStep(ctx, tx, args, mv.wait)
	}
	row.Status, row.FinishedAt = db.StepDone, &now
	if err := db.UpsertStepRun(ctx, tx, t, row); err != nil {
		return err
	}
	if mv.end != "" {
		finish(r, mv.end, mv.outcome, now)
		return saveRun(ctx, tx, t, r)
	}
	next := mv.to
	if next == nil {
		next = after(def, r, s.ID)
	}
	if next == nil {
		finish(r, db.RunCompleted, "", now)
		return saveRun(ctx, tx, t, r)
	}
	r.CurrentStep = &next.step
	if err := saveRun(ctx, tx, t, r); err != nil {
		return err
	}
	return e.insertStep(ctx, tx, StepArgs{WorkspaceID: t.WorkspaceID, RunID: r.ID, StepID: next.step, Iteration: next.iter}, time.Time{})
}

func derefOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// execute performs one step's effect in tx and says where the run goes.
func (e *Engine) execute(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, def *Definition, s *Step, row *db.PlayStepRun, woke bool, now time.Time) (move, error) {
	key := idempotencyKey(r, s.ID, row.Iteration)
	switch s.Kind {
	case StepWait:
		if woke {
			return move{outcome: "waited " + string(s.Wait.Duration)}, nil
		}
		return move{wait: now.Add(s.Wait.Duration.Length()), outcome: "waiting " + string(s.Wait.Duration)}, nil
	case StepWaitUntil:
		w := s.WaitUntil
		held, err := evalCheck(ctx, tx, t, r, w.Until, now)
		if err != nil {
			return move{}, err
		}
		if held {
			return move{outcome: "condition held"}, nil
		}
		deadline := row.StartedAt.Add(w.Timeout.Length())
		if !now.Before(deadline) {
			if w.OnTimeout == OnTimeoutExit {
				return move{end: db.RunExited, outcome: "timed out"}, nil
			}
			return move{outcome: "timed out"}, nil
		}
		return move{wait: minTime(now.Add(e.cfg().PollInterval), deadline), outcome: "waiting for condition"}, nil
	case StepBranch:
		held, err := evalCheck(ctx, tx, t, r, s.Branch.If, now)
		if err != nil {
			return move{}, err
		}
		list, outcome := s.Branch.Else, "else"
		if held {
			list, outcome = s.Branch.Then, "then"
		}
		if len(list) == 0 {
			return move{outcome: outcome}, nil
		}
		return move{to: &cursor{list[0].ID, row.Iteration}, outcome: outcome}, nil
	case StepRepeatUntil:
		return e.repeat(ctx, tx, t, r, s, now)
	case StepCreateTask:
		return e.createTask(ctx, tx, t, r, s, key, row)
	case StepAddTimelineNote:
		vars, err := e.vars(ctx, tx, t, r)
		if err != nil {
			return move{}, err
		}
		body, err := s.Note.Body.Render(vars)
		if err != nil {
			return move{}, err
		}
		entry := &db.TimelineEntry{AccountID: r.AccountID, Kind: db.TimelineNote, OccurredAt: now, Body: body}
		if err := db.InsertTimelineEntry(ctx, tx, t, entry); err != nil {
			return move{}, err
		}
		if err := db.AppendChanges(ctx, tx, t, db.TimelineChange(entry)); err != nil {
			return move{}, err
		}
		return move{outcome: "note added"}, nil
	case StepSendEmail:
		return e.sendEmail(ctx, tx, t, r, s, key, row)
	case StepInAppMessage:
		return e.inApp(ctx, tx, t, r, s, key, row, now)
	case StepSendWebhook:
		return e.sendWebhook(ctx, tx, t, r, s, key, row)
	case StepUpdateAccount:
		return e.updateAccount(ctx, tx, t, r, s)
	case StepEnrollInJourney:
		return e.enrollInJourney(ctx, tx, t, r, s, key)
	}
	return move{}, fmt.Errorf("step kind %s is not supported", s.Kind)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Keys of a REPEAT_UNTIL's bookkeeping in PlayRun.Iterations, beside its round count.
const (
	repeatBase   = "@base"   // the round count when the loop was entered
	repeatWaited = "@waited" // the rounds after which the interval was already waited
)

// repeat decides a REPEAT_UNTIL: wait the interval after a round that was not the last,
// leave when maxTimes rounds ran or until holds, else start the next round.
func (e *Engine) repeat(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step, now time.Time) (move, error) {
	rp := s.Repeat
	total := r.Iterations[s.ID]
	base, entered := r.Iterations[s.ID+repeatBase]
	if !entered {
		base = total
		r.Iterations[s.ID+repeatBase] = base
		delete(r.Iterations, s.ID+repeatWaited)
	}
	rounds := total - base
	leave := func(outcome string) move {
		delete(r.Iterations, s.ID+repeatBase)
		delete(r.Iterations, s.ID+repeatWaited)
		return move{outcome: outcome}
	}
	if rounds >= rp.MaxTimes {
		return leave(fmt.Sprintf("ran %d rounds", rounds)), nil
	}
	if rounds > 0 && r.Iterations[s.ID+repeatWaited] != rounds {
		r.Iterations[s.ID+repeatWaited] = rounds
		return move{wait: now.Add(rp.Interval.Length()), outcome: fmt.Sprintf("waiting after round %d", rounds)}, nil
	}
	held, err := evalCheck(ctx, tx, t, r, rp.Until, now)
	if err != nil {
		return move{}, err
	}
	if held {
		return leave(fmt.Sprintf("until held after %d rounds", rounds)), nil
	}
	if len(rp.Steps) == 0 {
		return leave("no steps"), nil
	}
	total++
	r.Iterations[s.ID] = total
	return move{to: &cursor{rp.Steps[0].ID, total}, outcome: fmt.Sprintf("round %d", rounds+1)}, nil
}

// vars loads the template values of a run (its account, owner and contact).
func (e *Engine) vars(ctx context.Context, idb bun.IDB, t db.Tenant, r *db.PlayRun) (Vars, error) {
	a, err := db.GetAccount(ctx, idb, t, r.AccountID)
	if err != nil {
		return Vars{}, err
	}
	v := Vars{AccountName: a.Name}
	if a.OwnerID != nil {
		m, err := db.GetMember(ctx, idb, t, *a.OwnerID)
		if err == nil {
			v.Owner = &Person{Name: m.Name, Email: m.Email}
		} else if !errors.Is(err, db.ErrNotFound) {
			return Vars{}, err
		}
	}
	if r.ContactID != nil {
		c, err := db.GetContact(ctx, idb, t, *r.ContactID)
		if err != nil {
			return Vars{}, err
		}
		v.Contact = &Person{Name: c.Name, Email: c.Email}
	}
	return v, nil
}

// recipients returns the contacts a message goes to.
func recipients(ctx context.Context, idb bun.IDB, t db.Tenant, r *db.PlayRun, to Recipient, personas []string) ([]db.Contact, error) {
	if to == ToContact {
		if r.ContactID == nil {
			return nil, nil
		}
		c, err := db.GetContact(ctx, idb, t, *r.ContactID)
		if err != nil {
			return nil, err
		}
		return []db.Contact{*c}, nil
	}
	all, err := db.LiveContactsOfAccount(ctx, idb, t, r.AccountID)
	if err != nil {
		return nil, err
	}
	if to != ToContactsWithPersona {
		return all, nil
	}
	return slices.DeleteFunc(all, func(c db.Contact) bool {
		return c.Persona == nil || !slices.Contains(personas, *c.Persona)
	}), nil
}

func (e *Engine) createTask(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step, key string, row *db.PlayStepRun) (move, error) {
	vars, err := e.vars(ctx, tx, t, r)
	if err != nil {
		return move{}, err
	}
	title, err := s.Task.Title.Render(vars)
	if err != nil {
		return move{}, err
	}
	desc, err := s.Task.Description.Render(vars)
	if err != nil {
		return move{}, err
	}
	in := task.NewTask{
		AccountID: r.AccountID, ContactID: r.ContactID, Title: title, Description: desc,
		Priority: string(s.Task.Priority), IdempotencyKey: key,
		Source: task.Source{Kind: db.TaskSourcePlay, Ref: fmt.Sprintf("play_run:%s/step:%s", r.ID, s.ID)},
	}
	if d := s.Task.DueIn.Length(); d > 0 {
		in.DueIn = &d
	}
	if a := s.Task.Assignee; a != nil {
		switch a.Kind {
		case AssignTeamRole:
			in.Assignee.TeamRoleKey = a.TeamRole
		case AssignUser:
			in.Assignee.UserID = a.UserID
		}
	}
	tk, _, err := e.Tasks.Create(ctx, tx, t, in)
	if err != nil {
		return move{}, err
	}
	row.TaskID = &tk.ID
	return move{outcome: "task created"}, nil
}

func (e *Engine) sendEmail(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step, key string, row *db.PlayStepRun) (move, error) {
	vars, err := e.vars(ctx, tx, t, r)
	if err != nil {
		return move{}, err
	}
	type target struct {
		id        string
		contact   *db.Contact
		to        string
		recipient Vars
	}
	var targets []target
	if s.Email.To == ToOwner {
		if vars.Owner == nil {
			return move{outcome: "skipped: the account has no owner"}, nil
		}
		targets = append(targets, target{id: "owner", to: vars.Owner.Email, recipient: vars})
	} else {
		cs, err := recipients(ctx, tx, t, r, s.Email.To, s.Email.Personas)
		if err != nil {
			return move{}, err
		}
		for i := range cs {
			v := vars
			v.Contact = &Person{Name: cs[i].Name, Email: cs[i].Email}
			targets = append(targets, target{id: cs[i].ID.String(), contact: &cs[i], recipient: v})
		}
	}
	sent := 0
	var skipped []string
	for _, tg := range targets {
		subject, err := s.Email.Subject.Render(tg.recipient)
		if err != nil {
			return move{}, err
		}
		body, err := s.Email.Body.Render(tg.recipient)
		if err != nil {
			return move{}, err
		}
		req := delivery.EmailRequest{
			IdempotencyKey: key + "/to:" + tg.id, AccountID: &r.AccountID, To: tg.to,
			Subject: subject, Text: body, Source: key,
		}
		if tg.contact != nil {
			req.ContactID = &tg.contact.ID
		}
		m, created, err := e.Delivery.EnqueueEmail(ctx, tx, t, req)
		if err != nil {
			return move{}, err
		}
		if row.OutboxID == nil {
			row.OutboxID = &m.ID
		}
		if created && m.Status == db.OutboxPending {
			if _, err := e.Inserter.InsertTx(ctx, tx.Tx, delivery.EmailArgs{OutboxID: m.ID}, nil); err != nil {
				return move{}, fmt.Errorf("enqueue email delivery: %w", err)
			}
			sent++
		}
		if m.Status == db.OutboxSkipped && m.SkipReason != nil {
			addr := tg.to
			if tg.contact != nil {
				addr = tg.contact.Email
			}
			skipped = append(skipped, fmt.Sprintf("%s (%s)", addr, *m.SkipReason))
		}
	}
	outcome := fmt.Sprintf("%d of %d emails queued", sent, len(targets))
	if len(skipped) > 0 {
		// The step records why a recipient got nothing (opted out, daily cap reached).
		outcome += "; skipped: " + strings.Join(skipped, ", ")
	}
	return move{outcome: outcome}, nil
}

func (e *Engine) inApp(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step, key string, row *db.PlayStepRun, now time.Time) (move, error) {
	vars, err := e.vars(ctx, tx, t, r)
	if err != nil {
		return move{}, err
	}
	cs, err := recipients(ctx, tx, t, r, s.InApp.To, s.InApp.Personas)
	if err != nil {
		return move{}, err
	}
	changes := make([]*db.Change, 0, len(cs))
	for i := range cs {
		v := vars
		v.Contact = &Person{Name: cs[i].Name, Email: cs[i].Email}
		title, err := s.InApp.Title.Render(v)
		if err != nil {
			return move{}, err
		}
		body, err := s.InApp.Body.Render(v)
		if err != nil {
			return move{}, err
		}
		stepID := s.ID
		m, err := db.InsertInAppMessage(ctx, tx, t, &db.InAppMessage{
			AccountID: r.AccountID, ContactID: cs[i].ID, RunID: &r.ID, StepID: &stepID,
			Title: title, Body: body, Style: string(s.InApp.Style), Status: db.InAppPending,
			IdempotencyKey: key + "/to:" + cs[i].ID.String(), CreatedAt: now,
		})
		if err != nil {
			return move{}, err
		}
		if row.InAppMessageID == nil {
			row.InAppMessageID = &m.ID
		}
		changes = append(changes, db.InAppChange(m, db.KindCreated))
	}
	if err := db.AppendChanges(ctx, tx, t, changes...); err != nil {
		return move{}, err
	}
	return move{outcome: fmt.Sprintf("%d messages", len(cs))}, nil
}

func (e *Engine) sendWebhook(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step, key string, row *db.PlayStepRun) (move, error) {
	vars, err := e.vars(ctx, tx, t, r)
	if err != nil {
		return move{}, err
	}
	body, err := s.Webhook.RenderBody(vars)
	if err != nil {
		return move{}, err
	}
	m, created, err := e.Delivery.EnqueueWebhook(ctx, tx, t, delivery.WebhookRequest{
		IdempotencyKey: key, AccountID: &r.AccountID, URL: s.Webhook.URL, Body: body, Source: key,
	})
	if err != nil {
		return move{}, err
	}
	row.OutboxID = &m.ID
	if created && m.Status == db.OutboxPending {
		opts := &river.InsertOpts{MaxAttempts: s.Webhook.Retries + 1}
		if _, err := e.Inserter.InsertTx(ctx, tx.Tx, delivery.WebhookArgs{OutboxID: m.ID}, opts); err != nil {
			return move{}, fmt.Errorf("enqueue webhook delivery: %w", err)
		}
	}
	return move{outcome: "webhook queued"}, nil
}

// failStep records a step's final failure: the step log row and the run become FAILED with
// the error, in their own transaction (the step's rolled back).
func (e *Engine) failStep(ctx context.Context, t db.Tenant, args StepArgs, attempt int, cause error) error {
	return db.InTx(ctx, e.DB, func(ctx context.Context, tx bun.Tx) error {
		r, err := db.GetPlayRunForUpdate(ctx, tx, t, args.RunID)
		if err != nil {
			return err
		}
		if !r.Active() || r.CurrentStep == nil || *r.CurrentStep != args.StepID {
			return nil
		}
		now := e.now()
		msg := cause.Error()
		row, err := db.GetStepRun(ctx, tx, t, r.ID, args.StepID, args.Iteration)
		if errors.Is(err, db.ErrNotFound) {
			row = &db.PlayStepRun{RunID: r.ID, StepID: args.StepID, Iteration: args.Iteration, StartedAt: now}
			if pub, lerr := e.Definitions.Load(ctx, tx, t, r.PlayID, r.Version); lerr == nil {
				if pos, ok := pub.Definition.Locate(args.StepID); ok {
					row.Kind = string(pos.Step.Kind)
				}
			}
		} else if err != nil {
			return err
		}
		row.Attempt, row.Status, row.FinishedAt, row.Error = attempt, db.StepFailed, &now, &msg
		if err := db.UpsertStepRun(ctx, tx, t, row); err != nil {
			return err
		}
		step := args.StepID
		finish(r, db.RunFailed, "", now)
		r.CurrentStep = &step // kept so RetryRun knows where to resume
		r.Error = &msg
		return saveRun(ctx, tx, t, r)
	})
}

// enrollInJourney enrols the run's account in the step's journey through Engine.Journeys, in
// tx, and records which enrolment began, or that the journey refused (a live enrolment, or its
// re-entry policy). Without a journey engine, or when no active journey has the key, the step
// fails at once.
func (e *Engine) enrollInJourney(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step, key string) (move, error) {
	if e.Journeys == nil {
		return move{}, permanent("ENROLL_IN_JOURNEY cannot run: no journey engine is configured (Engine.Journeys)")
	}
	id, err := e.Journeys.EnrollFromPlay(ctx, tx, t, s.Enroll.Journey, r.AccountID, key)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return move{}, permanent("enrol in journey %q: no active journey has this key (it was archived, paused or never published)", s.Enroll.Journey)
	case err != nil:
		return move{}, fmt.Errorf("enrol in journey %q: %w", s.Enroll.Journey, err)
	case id == nil:
		return move{outcome: fmt.Sprintf("not enrolled in %s: already enrolled, or refused by the journey's re-entry policy", s.Enroll.Journey)}, nil
	}
	return move{outcome: fmt.Sprintf("enrolled in %s: enrolment %s", s.Enroll.Journey, id)}, nil
}

// updateAccount applies an UPDATE_ACCOUNT step through the account domain, in tx. It runs once
// per (run, step, round) because its step log row commits with it.
func (e *Engine) updateAccount(ctx context.Context, tx bun.Tx, t db.Tenant, r *db.PlayRun, s *Step) (move, error) {
	if e.Accounts == nil {
		return move{}, errors.New("UPDATE_ACCOUNT needs Engine.Accounts")
	}
	a, err := db.GetAccount(ctx, tx, t, r.AccountID)
	if err != nil {
		return move{}, err
	}
	var p account.Patch
	tags := slices.Clone(a.Tags)
	custom := map[string]json.RawMessage{}
	if len(a.Custom) > 0 {
		if err := json.Unmarshal(a.Custom, &custom); err != nil {
			return move{}, fmt.Errorf("decode custom attributes: %w", err)
		}
	}
	tagsChanged, customChanged := false, false
	for _, op := range s.Update.Operations {
		switch op.Op {
		case OpSetField:
			null := string(op.Value) == "null"
			switch op.Field {
			case SetStage:
				var v string
				if err := json.Unmarshal(op.Value, &v); err != nil {
					return move{}, err
				}
				p.Stage = &v
			case SetHealthScore:
				p.HealthScore.Set = true
				if !null {
					var v int
					if err := json.Unmarshal(op.Value, &v); err != nil {
						return move{}, err
					}
					p.HealthScore.Value = &v
				}
			case SetRenewalDate:
				p.RenewalDate.Set = true
				if !null {
					var v string
					if err := json.Unmarshal(op.Value, &v); err != nil {
						return move{}, err
					}
					d, err := time.Parse(time.DateOnly, v)
					if err != nil {
						return move{}, err
					}
					p.RenewalDate.Value = &d
				}
			case SetOwner:
				p.OwnerID.Set = true
				if !null {
					var v uuid.UUID
					if err := json.Unmarshal(op.Value, &v); err != nil {
						return move{}, err
					}
					p.OwnerID.Value = &v
				}
			}
		case OpSetCustom:
			customChanged = true
			if string(op.Value) == "null" {
				delete(custom, op.Key)
			} else {
				custom[op.Key] = op.Value
			}
		case OpAddTag:
			if !slices.Contains(tags, op.Tag) {
				tags, tagsChanged = append(tags, op.Tag), true
			}
		case OpRemoveTag:
			if i := slices.Index(tags, op.Tag); i >= 0 {
				tags, tagsChanged = slices.Delete(tags, i, i+1), true
			}
		}
	}
	if tagsChanged {
		p.Tags = &tags
	}
	if customChanged {
		raw, err := json.Marshal(custom)
		if err != nil {
			return move{}, err
		}
		rm := json.RawMessage(raw)
		p.Custom = &rm
	}
	if _, err := e.Accounts.ChangeInTx(ctx, tx, t, r.AccountID, p); err != nil {
		return move{}, err
	}
	// The change's hooks may have ended this run (its goal or exit now holds).
	now, err := db.GetPlayRun(ctx, tx, t, r.ID)
	if err != nil {
		return move{}, err
	}
	if !now.Active() {
		return move{end: now.Status, outcome: derefOr(now.Outcome, "account updated")}, nil
	}
	return move{outcome: "account updated"}, nil
}
