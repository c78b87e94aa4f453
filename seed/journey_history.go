package seed

import (
	"container/heap"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/journey"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/queue"
	"github.com/stewardhq/steward/task"
)

// demoJourneyHistory is how far back the demo's journey history starts.
const demoJourneyHistory = 130 * 24 * time.Hour

// DemoJourneys gives the demo workspace its journeys, published (see createDemoJourneys), and
// a history of enrolments made by replaying time: accounts are enrolled on past dates, their
// tasks are completed and their checkpoint events recorded at a pace drawn per account, and the
// engine's status rules run day by day up to now. So some enrolments are completed, some on
// track, some at risk or behind, and a few stalled, exactly as the engine would have left them.
//
// It runs before the job queue starts (it applies River's migrations to insert jobs): the
// replay performs automated steps itself at their past time, and the status job must not move
// enrolments at the real time while the replay is still in the past. Plays with a JOURNEY
// trigger are not started for this history. It does nothing when the workspace already has
// journeys.
func DemoJourneys(ctx context.Context, b *bun.DB, pool *pgxpool.Pool, now time.Time) error {
	var ws db.Workspace
	err := b.NewSelect().Model(&ws).Where("name = ?", DemoWorkspaceName).OrderExpr("created_at").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // a database seeded otherwise: no demo workspace to give journeys to
	}
	if err != nil {
		return fmt.Errorf("find demo workspace: %w", err)
	}
	t := db.Tenant{WorkspaceID: ws.ID}
	admin, err := db.GetUserByEmail(ctx, b, DemoAdminEmail)
	if err != nil {
		return fmt.Errorf("find demo admin: %w", err)
	}
	if err := queue.Migrate(ctx, pool); err != nil {
		return err
	}
	inserter, err := queue.NewInserter(b.DB)
	if err != nil {
		return err
	}
	clock := &replayClock{t: now.Add(-demoJourneyHistory)}
	r := &replay{ctx: ctx, t: t, admin: admin.ID, clock: clock, rng: rand.New(rand.NewPCG(demoSeed, 4)), scheduled: map[string]bool{}}
	r.accounts = &account.Service{DB: b, Now: clock.Now}
	r.tasks = &task.Service{DB: b, Now: clock.Now}
	r.engine = &journey.Engine{
		DB:          b,
		Definitions: &journey.Definitions{DB: b, Now: clock.Now},
		Plays: &play.Engine{
			DB: b, Definitions: &play.Definitions{DB: b, Now: clock.Now}, Tasks: r.tasks, Accounts: r.accounts, Inserter: inserter, Now: clock.Now,
			// Emails are only enqueued here; the server's delivery worker sends them.
			Delivery: &delivery.Service{DB: b, Now: clock.Now},
		},
		Tasks:    r.tasks,
		Accounts: r.accounts,
		Inserter: inserter,
		Now:      clock.Now,
	}
	r.accounts.Hooks = r.engine.AccountHooks()
	r.tasks.Hooks = r.engine.TaskHooks()

	journeys, err := createDemoJourneys(ctx, r.engine.Definitions, t, admin.ID)
	if err != nil || journeys == nil {
		return err
	}
	if err := r.plan(journeys, now); err != nil {
		return err
	}
	return r.run(now)
}

// replayClock is the replay's clock, moved forward event by event.
type replayClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *replayClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *replayClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// replay enrols the demo accounts in the past and plays their progress forward to now.
type replay struct {
	ctx      context.Context
	t        db.Tenant
	admin    uuid.UUID
	clock    *replayClock
	rng      *rand.Rand
	engine   *journey.Engine
	tasks    *task.Service
	accounts *account.Service

	queue actions
	seq   int
	// pace is how slowly each enrolment's people work: 0.4 is brisk, 1 uses the whole target,
	// beyond 1 falls behind. stuck names a milestone an enrolment never gets through.
	pace  map[uuid.UUID]float64
	stuck map[uuid.UUID]string
	// scheduled marks the steps whose completion is planned (enrolment id + step key).
	scheduled map[string]bool
}

// action is one thing the replay does at a time.
type action struct {
	at  time.Time
	seq int
	do  func() error
}

type actions []action

func (a actions) Len() int { return len(a) }
func (a actions) Less(i, j int) bool {
	if !a[i].at.Equal(a[j].at) {
		return a[i].at.Before(a[j].at)
	}
	return a[i].seq < a[j].seq
}
func (a actions) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *actions) Push(x any)   { *a = append(*a, x.(action)) }
func (a *actions) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

func (r *replay) at(when time.Time, do func() error) {
	r.seq++
	heap.Push(&r.queue, action{at: when, seq: r.seq, do: do})
}

// demoAccount is what the plan needs of an account.
type demoAccount struct {
	ID    uuid.UUID `bun:"id"`
	Stage string    `bun:"stage"`
	Tags  []string  `bun:"tags,array"`
}

func hasTag(a demoAccount, tag string) bool {
	for _, t := range a.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// plan schedules the enrolments:
//   - ONBOARDING accounts enrolled 2 to 55 days ago in Onboarding (analytics add-on buyers in its
//     copy), at mixed paces, a few stuck on the integration;
//   - 24 ADOPTION accounts that went through Onboarding 70 to 120 days ago and then Adoption;
//   - 14 RENEWAL accounts in Renewal for the last 5 to 45 days;
//   - AT_RISK accounts tagged relaunch in Relaunch.
func (r *replay) plan(journeys map[string]*db.Journey, now time.Time) error {
	var accounts []demoAccount
	if err := r.t.Select(r.engine.DB, (*db.Account)(nil)).Column("a.id", "a.stage", "a.tags").
		OrderExpr("a.created_at, a.id").Scan(r.ctx, &accounts); err != nil {
		return fmt.Errorf("pick demo accounts: %w", err)
	}
	r.pace, r.stuck = map[uuid.UUID]float64{}, map[uuid.UUID]string{}
	day := 24 * time.Hour
	daysAgo := func(lo, hi int) time.Time {
		return now.Add(-time.Duration(lo+r.rng.IntN(hi-lo+1))*day - time.Duration(r.rng.IntN(8*3600))*time.Second)
	}
	pace := func() (float64, bool) {
		switch x := r.rng.Float64(); {
		case x < 0.35:
			return 0.3 + r.rng.Float64()*0.3, false // brisk
		case x < 0.7:
			return 0.6 + r.rng.Float64()*0.5, false // about on time
		case x < 0.88:
			return 1.1 + r.rng.Float64()*0.9, false // late
		default:
			return 1, true // stuck somewhere
		}
	}
	// enrol plans an enrolment; an empty stuckAt means it gets through at no more than its
	// targets' pace.
	enrol := func(key string, a uuid.UUID, when time.Time, stuckAt string) {
		j := journeys[key]
		r.at(when, func() error {
			p, stuck := pace()
			if stuckAt == "" {
				p = min(p, 0.9)
			}
			enr, err := r.engine.Enroll(r.ctx, r.t, j.ID, []uuid.UUID{a}, r.admin)
			if err != nil {
				return fmt.Errorf("enrol demo account in %s: %w", key, err)
			}
			id := enr[0].ID
			r.pace[id] = p
			if stuck && stuckAt != "" {
				r.stuck[id] = stuckAt
			}
			return r.follow(id)
		})
	}
	adoption, renewal := 0, 0
	for _, a := range accounts {
		switch {
		case a.Stage == "ONBOARDING" && hasTag(a, "add-on:analytics"):
			enrol(JourneyOnboardingAddOn, a.ID, daysAgo(3, 55), "technical-setup")
		case a.Stage == "ONBOARDING":
			enrol(JourneyOnboarding, a.ID, daysAgo(2, 55), "technical-setup")
		case a.Stage == "ADOPTION" && adoption < 24:
			adoption++
			start := daysAgo(70, 120)
			enrol(JourneyOnboarding, a.ID, start, "")
			enrol(JourneyAdoption, a.ID, start.Add(time.Duration(45+r.rng.IntN(20))*day), "first-value")
		case a.Stage == "RENEWAL" && renewal < 14:
			renewal++
			enrol(JourneyRenewal, a.ID, daysAgo(5, 45), "commercial")
		case a.Stage == "AT_RISK" && hasTag(a, "relaunch"):
			enrol(JourneyRelaunch, a.ID, daysAgo(4, 30), "running-again")
		}
	}
	// The status rules run twice a day of the replayed time, as the periodic job would.
	for tick := now.Add(-demoJourneyHistory); tick.Before(now); tick = tick.Add(12 * time.Hour) {
		r.at(tick, func() error {
			if _, err := r.engine.UpdateStatuses(r.ctx); err != nil {
				return err
			}
			return r.followAll()
		})
	}
	return nil
}

// run replays the planned actions in time order, then brings every status to now.
func (r *replay) run(now time.Time) error {
	for r.queue.Len() > 0 {
		a := heap.Pop(&r.queue).(action)
		if a.at.After(now) {
			continue
		}
		r.clock.set(a.at)
		if err := a.do(); err != nil {
			return err
		}
	}
	r.clock.set(now)
	if _, err := r.engine.UpdateStatuses(r.ctx); err != nil {
		return fmt.Errorf("bring demo journeys to now: %w", err)
	}
	return nil
}

// followAll follows the enrolments that have pending steps not planned yet (the status job
// may have completed a milestone on a condition and started the next).
func (r *replay) followAll() error {
	var pending []db.JourneyStepState
	err := r.t.Select(r.engine.DB, &pending).Column("jss.enrollment_id", "jss.step_key").
		Where("jss.status = ?", db.JourneyStepPending).Scan(r.ctx)
	if err != nil {
		return fmt.Errorf("find pending demo steps: %w", err)
	}
	seen := map[uuid.UUID]bool{}
	for _, st := range pending {
		if r.scheduled[st.EnrollmentID.String()+"/"+st.StepKey] || seen[st.EnrollmentID] {
			continue
		}
		seen[st.EnrollmentID] = true
		if err := r.follow(st.EnrollmentID); err != nil {
			return err
		}
	}
	return nil
}

// follow looks at an enrolment's started steps and plans what its people do: automated steps
// run at once, tasks are completed after their due time scaled by the enrolment's pace, and
// checkpoints on an event get that event recorded. Steps of the milestone the enrolment is
// stuck on are left alone.
func (r *replay) follow(enrollmentID uuid.UUID) error {
	enr, err := db.GetEnrollment(r.ctx, r.engine.DB, r.t, enrollmentID)
	if err != nil {
		return err
	}
	if enr.Status != db.EnrollmentActive && enr.Status != db.EnrollmentStalled {
		return nil
	}
	pub, err := r.engine.Definitions.Load(r.ctx, r.engine.DB, r.t, enr.JourneyID, enr.Version)
	if err != nil {
		return err
	}
	states, err := db.MilestoneStates(r.ctx, r.engine.DB, r.t, enrollmentID)
	if err != nil {
		return err
	}
	started := map[string]*db.JourneyMilestoneState{}
	for i := range states {
		if states[i].StartedAt != nil {
			started[states[i].MilestoneKey] = &states[i]
		}
	}
	steps, err := db.StepStates(r.ctx, r.engine.DB, r.t, []uuid.UUID{enrollmentID})
	if err != nil {
		return err
	}
	pace := r.pace[enrollmentID]
	for i := range steps {
		st := &steps[i]
		key := enrollmentID.String() + "/" + st.StepKey
		if st.Status != db.JourneyStepPending || r.scheduled[key] {
			continue
		}
		step, m, ok := pub.Definition.Step(st.StepKey)
		ms := started[st.MilestoneKey]
		if !ok || ms == nil {
			continue
		}
		if step.Kind.Automated() {
			r.scheduled[key] = true
			args := journey.StepArgs{WorkspaceID: r.t.WorkspaceID, EnrollmentID: enrollmentID, StepKey: st.StepKey}
			if err := r.engine.WorkStep(r.ctx, args, 1, 1); err != nil {
				return fmt.Errorf("perform demo step %s: %w", st.StepKey, err)
			}
			continue
		}
		r.scheduled[key] = true
		if r.stuck[enrollmentID] == m.Key {
			continue
		}
		due := m.Target.Length() * 6 / 10
		if step.Task != nil && step.Task.DueIn != "" {
			due = step.Task.DueIn.Length()
		}
		when := ms.StartedAt.Add(time.Duration(float64(due) * pace * (0.7 + 0.6*r.rng.Float64())))
		switch {
		case st.TaskID != nil:
			taskID := *st.TaskID
			r.at(when, func() error { return r.completeTask(enrollmentID, taskID) })
		case step.Condition != nil && step.Condition.Root().Event != "":
			name := step.Condition.Root().Event
			accountID := enr.AccountID
			r.at(when, func() error { return r.recordEvent(enrollmentID, accountID, name) })
		}
	}
	return nil
}

func (r *replay) completeTask(enrollmentID, taskID uuid.UUID) error {
	tk, err := r.tasks.Get(r.ctx, r.t, taskID)
	if err != nil {
		return err
	}
	if tk.Status != db.TaskOpen {
		return nil // cancelled with its enrolment, or done already
	}
	by := r.admin
	if tk.AssigneeID != nil {
		by = *tk.AssigneeID
	}
	if _, err := r.tasks.Complete(r.ctx, r.t, taskID, by); err != nil && !errors.Is(err, db.ErrConflict) {
		return fmt.Errorf("complete demo task: %w", err)
	}
	return r.follow(enrollmentID)
}

func (r *replay) recordEvent(enrollmentID, accountID uuid.UUID, name string) error {
	_, err := r.accounts.RecordEvents(r.ctx, r.t, []account.EventInput{{
		ClientEventID: "journey-demo-" + enrollmentID.String() + "-" + name,
		AccountID:     &accountID, Name: name, OccurredAt: r.clock.Now(),
	}})
	if err != nil {
		return fmt.Errorf("record demo event %s: %w", name, err)
	}
	return r.follow(enrollmentID)
}
