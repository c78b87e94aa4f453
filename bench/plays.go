package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/account"
	"github.com/stewardhq/steward/condition"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/play"
	"github.com/stewardhq/steward/queue"
	"github.com/stewardhq/steward/seed"
	"github.com/stewardhq/steward/task"
)

// Defaults of PlaysOptions: the plays issue's benchmark.
const (
	// DefaultPlaysAccounts is the size of the plays workspace.
	DefaultPlaysAccounts = 1_000_000
	// DefaultMatchEvery marks every 10th account for the SCHEDULE sweep: 10% match.
	DefaultMatchEvery = 10
	// DefaultPlaysRuns is how many runs of the MANUAL play the throughput phase launches.
	DefaultPlaysRuns = 10_000
	// DefaultStepsPerRun is the CREATE_TASK steps of each of those runs.
	DefaultStepsPerRun = 3
	// DefaultPlaysWorkers is River's MaxWorkers on the default queue during the executor phases.
	DefaultPlaysWorkers = 16
	// DefaultEventRate and DefaultEventDuration are the trigger-latency phase: EVENT trigger
	// events recorded at a fixed, modest rate on an otherwise idle queue.
	DefaultEventRate     = 50
	DefaultEventDuration = 10 * time.Second
	// DefaultPhaseTimeout bounds the wait for the executor to finish a phase's steps.
	DefaultPhaseTimeout = 5 * time.Minute
)

// Goals of the plays issue.
const (
	// GoalSweepSeconds is the longest acceptable first sweep (runs created and enqueued).
	GoalSweepSeconds = 30.0
	// GoalStepsPerSecond is the lowest acceptable executor throughput.
	GoalStepsPerSecond = 1_000.0
	// GoalTriggerP99 is the highest acceptable trigger-to-first-step p99.
	GoalTriggerP99 = time.Second
)

// Names the plays benchmark gives what it creates in its workspace.
const (
	// SweepTag marks the accounts the SCHEDULE play matches.
	SweepTag = "sweep-bench"
	// PingEvent is the event that triggers the latency phase's EVENT play.
	PingEvent = "plays_bench_ping"
)

// PlaysWorkspaceName is the name of the plays benchmark's workspace of n accounts, seeded once
// per database and size and found again by name.
func PlaysWorkspaceName(n int) string { return fmt.Sprintf("Bench plays %d", n) }

// PlaysOptions says what RunPlays measures and against which database.
type PlaysOptions struct {
	// Bun and Pool are the database, as db.Open returns them. The pool must have room for
	// Workers step transactions plus River's own connections (Workers+8 or more). Required.
	Bun  *bun.DB
	Pool *pgxpool.Pool
	// Accounts is the size of the plays workspace; 0 means DefaultPlaysAccounts.
	Accounts int
	// MatchEvery marks one account in MatchEvery for the sweep; 0 means DefaultMatchEvery.
	MatchEvery int
	// Runs and StepsPerRun size the throughput phase; 0 means the defaults. Runs is capped by
	// the workspace's accounts (one run per account).
	Runs        int
	StepsPerRun int
	// Workers is River's MaxWorkers on the default queue; 0 means DefaultPlaysWorkers.
	Workers int
	// FetchPollInterval, when positive, overrides River's poll interval (and its fetch
	// cooldown, as queue.NewClient does); 0 keeps River's defaults, as `steward serve` runs.
	FetchPollInterval time.Duration
	// EventRate (per second) and EventDuration shape the latency phase; 0 means the defaults.
	EventRate     int
	EventDuration time.Duration
	// PhaseTimeout bounds the wait for the executor in each phase; 0 means DefaultPhaseTimeout.
	PhaseTimeout time.Duration
	// Progress, when set, receives the seed's progress and one line per phase.
	Progress io.Writer
	// Logger receives the executor's logs; nil discards them.
	Logger *slog.Logger
	// CPUProfile, when set, receives a CPU profile of this process during the throughput phase.
	CPUProfile io.Writer
}

func (o PlaysOptions) withDefaults() (PlaysOptions, error) {
	switch {
	case o.Bun == nil || o.Pool == nil:
		return o, errors.New("plays bench options: Bun and Pool are required")
	case o.Accounts < 0, o.MatchEvery < 0, o.Runs < 0, o.StepsPerRun < 0, o.Workers < 0, o.EventRate < 0:
		return o, errors.New("plays bench options: Accounts, MatchEvery, Runs, StepsPerRun, Workers and EventRate must not be negative")
	case o.EventDuration < 0 || o.PhaseTimeout < 0:
		return o, errors.New("plays bench options: EventDuration and PhaseTimeout must not be negative")
	}
	o.Accounts = orDefault(o.Accounts, DefaultPlaysAccounts)
	o.MatchEvery = orDefault(o.MatchEvery, DefaultMatchEvery)
	o.Runs = min(orDefault(o.Runs, DefaultPlaysRuns), o.Accounts)
	o.StepsPerRun = orDefault(o.StepsPerRun, DefaultStepsPerRun)
	o.Workers = orDefault(o.Workers, DefaultPlaysWorkers)
	o.EventRate = orDefault(o.EventRate, DefaultEventRate)
	o.EventDuration = orDefault(o.EventDuration, DefaultEventDuration)
	o.PhaseTimeout = orDefault(o.PhaseTimeout, DefaultPhaseTimeout)
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// PlaysReport is what RunPlays measured; it marshals to JSON as `steward bench --plays`
// prints it.
type PlaysReport struct {
	Machine    Machine          `json:"machine"`
	Dataset    Dataset          `json:"dataset"`
	Sweep      SweepResult      `json:"sweep"`
	Throughput ThroughputResult `json:"throughput"`
	Latency    LatencyResult    `json:"latency"`
	Goals      PlaysGoals       `json:"goals"`
}

// SweepResult is the SCHEDULE sweep phase: Engine.Sweep called directly, no worker running.
type SweepResult struct {
	// Matching is the accounts the play's condition holds for (tagged SweepTag).
	Matching int64 `json:"matching"`
	// Runs and Jobs are the bench play's runs and first-step River jobs the first sweep
	// inserted; both must equal Matching.
	Runs int64 `json:"runs"`
	Jobs int64 `json:"jobs"`
	// OtherRuns is what the sweep started for other workspaces' SCHEDULE plays (Sweep serves
	// every workspace); it is part of Seconds.
	OtherRuns int     `json:"other_runs"`
	Seconds   float64 `json:"seconds"`
	// SecondRuns is what the second sweep inserted for the bench play (must be 0), in
	// SecondSeconds.
	SecondRuns    int64   `json:"second_runs"`
	SecondSeconds float64 `json:"second_seconds"`
	// CleanupSeconds is the time to delete the runs and jobs again.
	CleanupSeconds float64 `json:"cleanup_seconds"`
}

// ThroughputResult is the executor phase: Runs runs of StepsPerRun CREATE_TASK steps, launched
// with the workers stopped, then worked by River with Workers workers.
type ThroughputResult struct {
	Runs          int     `json:"runs"`
	StepsPerRun   int     `json:"steps_per_run"`
	Workers       int     `json:"workers"`
	PoolMaxConns  int32   `json:"pool_max_conns"`
	LaunchSeconds float64 `json:"launch_seconds"`
	// StepsDone is the step runs DONE when the phase ended (Runs*StepsPerRun when complete).
	StepsDone int64 `json:"steps_done"`
	// Seconds runs from the first step's start to the last step's end (step log times).
	Seconds        float64 `json:"seconds"`
	StepsPerSecond float64 `json:"steps_per_second"`
	// ProcessCPUMs and PostgresCPUMs are CPU time per step, as in the accounts benchmark.
	ProcessCPUMs  float64 `json:"process_cpu_ms"`
	PostgresCPUMs float64 `json:"postgres_cpu_ms"`
	// StatementsPerStep is bun's statement count over the phase per step (River's own
	// statements, on pgx, are not counted).
	StatementsPerStep float64 `json:"statements_per_step"`
	Complete          bool    `json:"complete"`
}

// LatencyResult is the trigger phase: EVENT trigger events recorded at Rate/s, each on its own
// account, measured from RecordEvents returning (its transaction committed) to the first
// step's start in the step log.
type LatencyResult struct {
	Rate    int     `json:"rate"`
	Seconds float64 `json:"seconds"`
	Events  int     `json:"events"`
	// Started is the events whose run's first step ran within the phase timeout.
	Started int     `json:"started"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// RecordP50Ms is RecordEvents' own duration (the trigger's transaction), for reference.
	RecordP50Ms float64 `json:"record_p50_ms"`
	// FetchPollMs and FetchCooldownMs are River's settings during the executor phases.
	FetchPollMs     float64 `json:"fetch_poll_ms"`
	FetchCooldownMs float64 `json:"fetch_cooldown_ms"`
}

// PlaysGoals are the goals and whether this run met them.
type PlaysGoals struct {
	SweepSeconds   float64 `json:"sweep_seconds"`
	StepsPerSecond float64 `json:"steps_per_second"`
	TriggerP99Ms   float64 `json:"trigger_p99_ms"`
	// SweepMet needs the first sweep to insert exactly the matching runs and jobs within
	// SweepSeconds, and the second to insert none.
	SweepMet      bool `json:"sweep_met"`
	ThroughputMet bool `json:"throughput_met"`
	// LatencyMet needs every event's run to have started.
	LatencyMet bool `json:"latency_met"`
}

func (r *PlaysReport) judge() {
	s, t, l := r.Sweep, r.Throughput, r.Latency
	r.Goals = PlaysGoals{SweepSeconds: GoalSweepSeconds, StepsPerSecond: GoalStepsPerSecond, TriggerP99Ms: ms(GoalTriggerP99)}
	r.Goals.SweepMet = s.Runs == s.Matching && s.Jobs == s.Matching && s.SecondRuns == 0 && s.Seconds <= GoalSweepSeconds
	r.Goals.ThroughputMet = t.Complete && t.StepsPerSecond >= GoalStepsPerSecond
	r.Goals.LatencyMet = l.Events > 0 && l.Started == l.Events && l.P99Ms <= r.Goals.TriggerP99Ms
}

// WriteTable prints the report for people.
func (r *PlaysReport) WriteTable(w io.Writer) error {
	m, s, t, l := r.Machine, r.Sweep, r.Throughput, r.Latency
	var b strings.Builder
	fmt.Fprintf(&b, "Plays on a workspace of %d accounts\n", r.Dataset.Accounts)
	fmt.Fprintf(&b, "machine: %d CPU (%s), GOMAXPROCS %d, %d MiB, %s, %s, PostgreSQL %s, pool %d\n\n",
		m.NumCPU, orUnknown(m.CPUModel), m.GOMAXPROCS, m.MemoryMiB, m.OS, m.GoVersion, m.Postgres, m.DBMaxConns)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sweep\tmatching %d\truns %d, jobs %d\t%.2f s\tsecond sweep: %d runs in %.2f s\tother plays' runs %d\tcleanup %.1f s\n",
		s.Matching, s.Runs, s.Jobs, s.Seconds, s.SecondRuns, s.SecondSeconds, s.OtherRuns, s.CleanupSeconds)
	fmt.Fprintf(tw, "executor\t%d runs x %d CREATE_TASK\t%d workers, pool %d\t%d steps in %.2f s\t%.0f steps/s\tCPU/step %.2f+%.2f ms, %.1f bun stmts/step\tlaunch %.1f s\n",
		t.Runs, t.StepsPerRun, t.Workers, t.PoolMaxConns, t.StepsDone, t.Seconds, t.StepsPerSecond, t.ProcessCPUMs, t.PostgresCPUMs, t.StatementsPerStep, t.LaunchSeconds)
	fmt.Fprintf(tw, "trigger\t%d events at %d/s\t%d started\tp50 %.1f ms, p90 %.1f ms\tp99 %.1f ms, max %.1f ms\tpoll %.0f ms, cooldown %.0f ms\trecordEvents p50 %.1f ms\n",
		l.Events, l.Rate, l.Started, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, l.FetchPollMs, l.FetchCooldownMs, l.RecordP50Ms)
	if err := tw.Flush(); err != nil {
		return err
	}
	g := r.Goals
	fmt.Fprintf(&b, "\nsweep of %d matching accounts: %.2f s, second sweep %d (goal <= %.0f s and 0: %s)\n",
		s.Matching, s.Seconds, s.SecondRuns, g.SweepSeconds, verdict(g.SweepMet))
	fmt.Fprintf(&b, "executor: %.0f steps/s (goal >= %.0f: %s)\n", t.StepsPerSecond, g.StepsPerSecond, verdict(g.ThroughputMet))
	fmt.Fprintf(&b, "trigger to first step: p50 %.1f ms, p99 %.1f ms (goal p99 <= %.0f ms: %s)\n", l.P50Ms, l.P99Ms, g.TriggerP99Ms, verdict(g.LatencyMet))
	_, err := io.WriteString(w, b.String())
	return err
}

// playsBench is one RunPlays: the options, the workspace and the executor.
type playsBench struct {
	opts   PlaysOptions
	tenant db.Tenant
	user   uuid.UUID
	defs   *play.Definitions
	engine *play.Engine
}

// RunPlays prepares the plays workspace (seeding it on first use), then measures the SCHEDULE
// sweep (with no worker running), the executor's throughput and the trigger-to-first-step
// latency (with a River client running). Everything it creates in the workspace (plays, runs,
// step jobs, tasks, events) is removed or archived before it returns, and leftovers of an
// interrupted run are removed first, so runs repeat. A run whose counts are wrong (a sweep that
// inserts other than the matching runs) is reported, not an error; setup failures are errors.
func RunPlays(ctx context.Context, opts PlaysOptions) (*PlaysReport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	rep := &PlaysReport{}
	if rep.Machine, err = describeMachine(ctx, opts.Pool); err != nil {
		return nil, err
	}
	rep.Machine.DBMaxConns = int(opts.Pool.Config().MaxConns)
	if err := queue.Migrate(ctx, opts.Pool); err != nil {
		return nil, err
	}
	if rep.Dataset, err = ensurePlaysDataset(ctx, opts.Pool, opts.Accounts, opts.MatchEvery, opts.Progress); err != nil {
		return nil, err
	}
	pb := &playsBench{opts: opts, tenant: db.Tenant{WorkspaceID: rep.Dataset.WorkspaceID}}
	if err := opts.Pool.QueryRow(ctx, `
		SELECT user_id FROM memberships WHERE workspace_id = $1 AND disabled_at IS NULL
		ORDER BY role = 'ADMIN' DESC, created_at, user_id LIMIT 1`, pb.tenant.WorkspaceID).Scan(&pb.user); err != nil {
		return nil, fmt.Errorf("pick plays bench user: %w", err)
	}
	if err := pb.buildEngine(); err != nil {
		return nil, err
	}
	if err := pb.cleanup(ctx); err != nil {
		return nil, err
	}

	fmt.Fprintln(opts.Progress, "plays: sweep")
	if rep.Sweep, err = pb.sweep(ctx); err != nil {
		return nil, err
	}

	fmt.Fprintln(opts.Progress, "plays: launching the executor's runs")
	exec, err := pb.launch(ctx)
	if err != nil {
		return nil, err
	}
	client, err := pb.startRiver(ctx)
	if err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := client.StopAndCancel(stopCtx); err != nil {
			opts.Logger.Warn("stop bench river client", slog.Any("error", err))
		}
	}()

	fmt.Fprintln(opts.Progress, "plays: executor throughput")
	if rep.Throughput, err = pb.throughput(ctx, exec); err != nil {
		return nil, err
	}
	fmt.Fprintln(opts.Progress, "plays: trigger latency")
	if rep.Latency, err = pb.latency(ctx); err != nil {
		return nil, err
	}
	// As queue.NewClient sets them.
	poll, cooldown := river.FetchPollIntervalDefault, queue.DefaultFetchCooldown
	if opts.FetchPollInterval > 0 {
		poll, cooldown = opts.FetchPollInterval, min(opts.FetchPollInterval, queue.DefaultFetchCooldown)
	}
	rep.Latency.FetchPollMs, rep.Latency.FetchCooldownMs = ms(poll), ms(cooldown)
	if err := pb.cleanup(ctx); err != nil {
		return nil, err
	}
	rep.judge()
	return rep, nil
}

// ensurePlaysDataset finds or seeds the workspace PlaysWorkspaceName(n), with one contact per
// account and no events (the plays read neither), then tags exactly every matchEvery-th
// account (by id) with SweepTag and no other.
func ensurePlaysDataset(ctx context.Context, pool *pgxpool.Pool, n, matchEvery int, progress io.Writer) (Dataset, error) {
	name := PlaysWorkspaceName(n)
	ds := Dataset{WorkspaceName: name, Accounts: n}
	var have int
	err := pool.QueryRow(ctx, `
		SELECT w.id, (SELECT count(*) FROM accounts a WHERE a.workspace_id = w.id)
		FROM workspaces w WHERE w.name = $1 ORDER BY w.created_at, w.id LIMIT 1`, name).
		Scan(&ds.WorkspaceID, &have)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return ds, fmt.Errorf("find plays bench workspace: %w", err)
	case have > n:
		return ds, fmt.Errorf("plays bench workspace %q (%s) has %d accounts, more than %d", name, ds.WorkspaceID, have, n)
	}
	if have < n {
		fmt.Fprintf(progress, "seeding %d accounts into workspace %q (cached for later runs)\n", n-have, name)
		start := time.Now()
		res, err := seedBulk(ctx, pool, ds.WorkspaceID, name, n-have, uint64(have)+1, progress)
		if err != nil {
			return ds, fmt.Errorf("seed plays bench workspace: %w", err)
		}
		ds.WorkspaceID = res
		ds.Seeded = true
		ds.SeedSeconds = time.Since(start).Seconds()
	}
	// Exactly one account in matchEvery (by id) carries the tag, whatever an earlier run left.
	// Fresh statistics first: right after the seed the planner does not know the workspace's
	// size, and a plan for a small one nested-loops over a million rows.
	if _, err := pool.Exec(ctx, "ANALYZE accounts", pgx.QueryExecModeSimpleProtocol); err != nil {
		return ds, fmt.Errorf("analyze accounts: %w", err)
	}
	var changed int64
	for _, q := range []string{
		`UPDATE accounts SET tags = array_remove(tags, $3)
		 WHERE workspace_id = $1 AND $3 = ANY (tags) AND id NOT IN (
		     SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM accounts WHERE workspace_id = $1) s
		     WHERE rn % $2 = 0)`,
		`UPDATE accounts SET tags = array_append(tags, $3)
		 WHERE workspace_id = $1 AND NOT ($3 = ANY (tags)) AND id IN (
		     SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM accounts WHERE workspace_id = $1) s
		     WHERE rn % $2 = 0)`,
	} {
		tag, err := pool.Exec(ctx, q, pgx.QueryExecModeSimpleProtocol, ds.WorkspaceID, matchEvery, SweepTag)
		if err != nil {
			return ds, fmt.Errorf("tag sweep accounts: %w", err)
		}
		changed += tag.RowsAffected()
	}
	if ds.Seeded || changed > 0 {
		fmt.Fprintf(progress, "tagged or untagged %d accounts; vacuuming and analyzing\n", changed)
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) accounts, contacts", pgx.QueryExecModeSimpleProtocol); err != nil {
			return ds, fmt.Errorf("vacuum plays bench tables: %w", err)
		}
	}
	return ds, nil
}

// buildEngine wires the executor as server.StartQueue does, on the options' database.
func (pb *playsBench) buildEngine() error {
	b := pb.opts.Bun
	ins, err := queue.NewInserter(b.DB)
	if err != nil {
		return err
	}
	deliveries, err := delivery.New(b, delivery.Config{})
	if err != nil {
		return err
	}
	pb.defs = &play.Definitions{DB: b, Now: time.Now, Log: pb.opts.Logger}
	pb.engine = &play.Engine{
		DB:          b,
		Definitions: pb.defs,
		Tasks:       &task.Service{DB: b, Now: time.Now},
		Delivery:    deliveries,
		Inserter:    ins,
		Log:         pb.opts.Logger,
	}
	pb.engine.Accounts = &account.Service{DB: b, Now: time.Now, Hooks: pb.engine.Hooks()}
	return nil
}

// startRiver starts a working River client with the workers `steward serve` registers (so
// that other workspaces' jobs it may pick up are worked, not failed) and no periodic jobs.
func (pb *playsBench) startRiver(ctx context.Context) (*river.Client[pgx.Tx], error) {
	ws := river.NewWorkers()
	pb.engine.Workers(ws)
	river.AddWorker(ws, &delivery.EmailWorker{Service: pb.engine.Delivery})
	river.AddWorker(ws, &delivery.WebhookWorker{Service: pb.engine.Delivery})
	c, err := queue.NewClient(pb.opts.Pool, ws, nil, queue.Config{
		Queues:            map[string]int{river.QueueDefault: pb.opts.Workers},
		FetchPollInterval: pb.opts.FetchPollInterval,
	})
	if err != nil {
		return nil, err
	}
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start bench river client: %w", err)
	}
	return c, nil
}

// publish creates and publishes a play in the bench workspace.
func (pb *playsBench) publish(ctx context.Context, name, definition string) (uuid.UUID, error) {
	p, err := pb.defs.Create(ctx, pb.tenant, pb.user, play.NewPlay{
		Name: fmt.Sprintf("%s %s", name, time.Now().UTC().Format("2006-01-02T15:04:05.000")), Scope: condition.ScopeAccount,
		Definition: json.RawMessage(definition),
	})
	if err != nil {
		return uuid.Nil, fmt.Errorf("create bench play: %w", err)
	}
	if _, err := pb.defs.Publish(ctx, pb.tenant, p.ID, pb.user); err != nil {
		return uuid.Nil, fmt.Errorf("publish bench play: %w", err)
	}
	return p.ID, nil
}

// sweepDefinition matches the tagged accounts; its one step waits a year, so that a worker that
// picks a job up (the throughput phase's, or another process's) does nothing measurable.
var sweepDefinition = `{"trigger": {"kind": "SCHEDULE", "condition": {"field": "account.tags", "op": "contains", "value": "` + SweepTag + `"}},
 "steps": [{"id": "hold", "kind": "WAIT", "duration": "365d"}]}`

// sweep publishes the SCHEDULE play and times two sweeps: the first must create a run and a
// first-step job per matching account, the second nothing. "Created and enqueued" is exactly
// what Engine.Sweep commits: play_runs rows and river_job rows, in one transaction per play.
func (pb *playsBench) sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	pool, ws := pb.opts.Pool, pb.tenant.WorkspaceID
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE workspace_id = $1 AND archived_at IS NULL AND $2 = ANY (tags)`,
		ws, SweepTag).Scan(&res.Matching); err != nil {
		return res, fmt.Errorf("count matching accounts: %w", err)
	}
	playID, err := pb.publish(ctx, "Bench sweep", sweepDefinition)
	if err != nil {
		return res, err
	}
	counts := func() (runs, jobs int64, err error) {
		err = pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM play_runs WHERE workspace_id = $1 AND play_id = $2),
			       (SELECT count(*) FROM river_job WHERE kind = $3 AND args->>'workspace_id' = $1::text)`,
			ws, playID, play.KindStep).Scan(&runs, &jobs)
		return runs, jobs, err
	}
	start := time.Now()
	total, err := pb.engine.Sweep(ctx)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, fmt.Errorf("first sweep: %w", err)
	}
	if res.Runs, res.Jobs, err = counts(); err != nil {
		return res, fmt.Errorf("count swept runs: %w", err)
	}
	res.OtherRuns = total - int(res.Runs)
	fmt.Fprintf(pb.opts.Progress, "first sweep: %d runs, %d jobs in %.2f s\n", res.Runs, res.Jobs, res.Seconds)

	start = time.Now()
	total2, err := pb.engine.Sweep(ctx)
	res.SecondSeconds = time.Since(start).Seconds()
	if err != nil {
		return res, fmt.Errorf("second sweep: %w", err)
	}
	runs2, _, err := counts()
	if err != nil {
		return res, fmt.Errorf("count swept runs: %w", err)
	}
	res.SecondRuns = runs2 - res.Runs
	res.OtherRuns += total2 - int(res.SecondRuns)

	start = time.Now()
	if err := pb.cleanup(ctx); err != nil {
		return res, err
	}
	res.CleanupSeconds = time.Since(start).Seconds()
	return res, nil
}

// taskDefinition is the throughput play: StepsPerRun CREATE_TASK steps for the account owner.
func taskDefinition(trigger string, steps int) string {
	list := make([]string, steps)
	for i := range list {
		list[i] = fmt.Sprintf(`{"id": "task-%d", "kind": "CREATE_TASK", "title": "Bench task %d for {{account.name}}", "assignee": {"kind": "OWNER"}, "priority": "NORMAL"}`, i+1, i+1)
	}
	return `{"trigger": ` + trigger + `, "steps": [` + strings.Join(list, ", ") + `]}`
}

// launched is the throughput phase's play and its launch figures.
type launched struct {
	playID uuid.UUID
	res    ThroughputResult
}

// launch publishes the MANUAL play and launches Runs runs of it, by MaxLaunchSubjects, before
// any worker runs, so that the launch's own cost is not in the executor's figure.
func (pb *playsBench) launch(ctx context.Context) (launched, error) {
	o := pb.opts
	l := launched{res: ThroughputResult{Runs: o.Runs, StepsPerRun: o.StepsPerRun, Workers: o.Workers, PoolMaxConns: o.Pool.Config().MaxConns}}
	var err error
	if l.playID, err = pb.publish(ctx, "Bench executor", taskDefinition(`{"kind": "MANUAL"}`, o.StepsPerRun)); err != nil {
		return l, err
	}
	ids, err := pb.accounts(ctx, o.Runs, 0)
	if err != nil {
		return l, err
	}
	start := time.Now()
	n := 0
	for batch := range slices.Chunk(ids, play.MaxLaunchSubjects) {
		runs, err := pb.engine.Launch(ctx, pb.tenant, l.playID, batch)
		if err != nil {
			return l, fmt.Errorf("launch bench runs: %w", err)
		}
		n += len(runs)
	}
	l.res.LaunchSeconds = time.Since(start).Seconds()
	if n != o.Runs {
		return l, fmt.Errorf("launched %d bench runs, want %d", n, o.Runs)
	}
	return l, nil
}

// throughput lets the started River client work the launched runs and counts the step log
// until every step is DONE or the phase times out. The figure is the step log's own window,
// from the first step's start to the last step's end, so the client's start-up is not in it.
func (pb *playsBench) throughput(ctx context.Context, l launched) (ThroughputResult, error) {
	o, res, playID := pb.opts, l.res, l.playID
	var err error
	want := int64(o.Runs * o.StepsPerRun)
	meter := cpuMeter{pool: o.Pool}
	cpu0, stmts0 := meter.read(ctx), o.Bun.DBStats().Queries
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return res, fmt.Errorf("start cpu profile: %w", err)
		}
	}
	res.StepsDone, err = pb.waitSteps(ctx, playID, want)
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, err
	}
	self, backends := meter.read(ctx).since(cpu0)
	stmts := o.Bun.DBStats().Queries - stmts0
	res.Complete = res.StepsDone == want
	var first, last time.Time
	if err := o.Pool.QueryRow(ctx, `
		SELECT min(s.started_at), max(s.finished_at) FROM play_step_runs s
		JOIN play_runs r ON r.workspace_id = s.workspace_id AND r.id = s.run_id
		WHERE r.workspace_id = $1 AND r.play_id = $2 AND s.status = 'DONE'`, pb.tenant.WorkspaceID, playID).Scan(&first, &last); err != nil {
		return res, fmt.Errorf("read step window: %w", err)
	}
	res.Seconds = last.Sub(first).Seconds()
	if res.Seconds > 0 {
		res.StepsPerSecond = float64(res.StepsDone) / res.Seconds
	}
	if res.StepsDone > 0 {
		n := float64(res.StepsDone)
		res.ProcessCPUMs, res.PostgresCPUMs = ms(self)/n, ms(backends)/n
		res.StatementsPerStep = float64(stmts) / n
	}
	fmt.Fprintf(o.Progress, "executor: %d steps in %.2f s\n", res.StepsDone, res.Seconds)
	return res, pb.cleanup(ctx)
}

// waitSteps polls the play's DONE step runs until there are want or the phase times out, and
// returns the last count.
func (pb *playsBench) waitSteps(ctx context.Context, playID uuid.UUID, want int64) (int64, error) {
	deadline := time.Now().Add(pb.opts.PhaseTimeout)
	for {
		var done int64
		if err := pb.opts.Pool.QueryRow(ctx, `
			SELECT count(*) FROM play_step_runs s
			JOIN play_runs r ON r.workspace_id = s.workspace_id AND r.id = s.run_id
			WHERE r.workspace_id = $1 AND r.play_id = $2 AND s.status = 'DONE'`, pb.tenant.WorkspaceID, playID).Scan(&done); err != nil {
			return done, fmt.Errorf("count done steps: %w", err)
		}
		if done >= want || time.Now().After(deadline) {
			return done, nil
		}
		select {
		case <-ctx.Done():
			return done, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// accounts returns n live accounts of the workspace by id, skipping the first offset.
func (pb *playsBench) accounts(ctx context.Context, n, offset int) ([]uuid.UUID, error) {
	rows, err := pb.opts.Pool.Query(ctx, `SELECT id FROM accounts WHERE workspace_id = $1 AND archived_at IS NULL ORDER BY id LIMIT $2 OFFSET $3`,
		pb.tenant.WorkspaceID, n, offset)
	if err != nil {
		return nil, fmt.Errorf("pick bench accounts: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("pick bench accounts: %w", err)
	}
	if len(ids) < n {
		return nil, fmt.Errorf("plays bench workspace has %d accounts, want %d", len(ids), n)
	}
	return ids, nil
}

// latency records one PingEvent per tick, each on its own account, at EventRate for
// EventDuration, then reads when each run's first step started.
func (pb *playsBench) latency(ctx context.Context) (LatencyResult, error) {
	o := pb.opts
	res := LatencyResult{Rate: o.EventRate}
	n := int(float64(o.EventRate) * o.EventDuration.Seconds())
	res.Events = n
	if n == 0 {
		return res, nil
	}
	playID, err := pb.publish(ctx, "Bench trigger", taskDefinition(`{"kind": "EVENT", "event": "`+PingEvent+`"}`, 1))
	if err != nil {
		return res, err
	}
	ids, err := pb.accounts(ctx, n, 0)
	if err != nil {
		return res, err
	}
	committed := make(map[uuid.UUID]time.Time, n)
	recordTimes := make([]time.Duration, 0, n)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	run := uuid.NewString()
	tick := time.NewTicker(time.Second / time.Duration(o.EventRate))
	defer tick.Stop()
	start := time.Now()
	for i, id := range ids {
		if i > 0 {
			<-tick.C
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			_, err := pb.engine.Accounts.RecordEvents(ctx, pb.tenant, []account.EventInput{{
				ClientEventID: fmt.Sprintf("bench-%s-%d", run, i), AccountID: &id, Name: PingEvent, OccurredAt: began,
			}})
			end := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("record bench event: %w", err)
				}
				return
			}
			committed[id] = end
			recordTimes = append(recordTimes, end.Sub(began))
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	if firstErr != nil {
		return res, firstErr
	}
	if _, err := pb.waitSteps(ctx, playID, int64(n)); err != nil {
		return res, err
	}
	rows, err := o.Pool.Query(ctx, `
		SELECT r.account_id, min(s.started_at) FROM play_step_runs s
		JOIN play_runs r ON r.workspace_id = s.workspace_id AND r.id = s.run_id
		WHERE r.workspace_id = $1 AND r.play_id = $2 GROUP BY r.account_id`, pb.tenant.WorkspaceID, playID)
	if err != nil {
		return res, fmt.Errorf("read first steps: %w", err)
	}
	var lat []time.Duration
	for rows.Next() {
		var id uuid.UUID
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return res, err
		}
		if c, ok := committed[id]; ok {
			lat = append(lat, at.Sub(c))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, err
	}
	res.Started = len(lat)
	res.P50Ms, res.P90Ms, res.P99Ms, res.MaxMs = quantileMs(lat, 0.5), quantileMs(lat, 0.9), quantileMs(lat, 0.99), quantileMs(lat, 1)
	res.RecordP50Ms = quantileMs(recordTimes, 0.5)
	fmt.Fprintf(o.Progress, "trigger: %d of %d first steps, p99 %.1f ms\n", res.Started, n, res.P99Ms)
	return res, nil
}

// quantileMs is the q-quantile of ds (nearest rank) in milliseconds; 0 for none.
func quantileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return ms(s[max(0, min(i, len(s)-1))])
}

// cleanup removes what the benchmark creates in its workspace: the step jobs, the runs (their
// step logs cascade), the plays' tasks and ping events, and archives its plays. The workspace
// is the benchmark's own, so all of it is the benchmark's.
func (pb *playsBench) cleanup(ctx context.Context) error {
	ws := pb.tenant.WorkspaceID
	err := db.InTx(ctx, pb.opts.Bun, func(ctx context.Context, tx bun.Tx) error {
		for _, q := range []struct{ what, sql string }{
			{"step jobs", `DELETE FROM river_job WHERE kind = '` + play.KindStep + `' AND args->>'workspace_id' = ?::text`},
			{"runs", `DELETE FROM play_runs WHERE workspace_id = ?`},
			{"tasks", `DELETE FROM tasks WHERE workspace_id = ? AND source_kind = 'PLAY'`},
			{"events", `DELETE FROM events WHERE workspace_id = ? AND name = '` + PingEvent + `'`},
		} {
			if _, err := tx.ExecContext(ctx, q.sql, ws); err != nil {
				return fmt.Errorf("delete bench %s: %w", q.what, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var live []uuid.UUID
	if err := pb.opts.Bun.NewRaw(`SELECT id FROM plays WHERE workspace_id = ? AND status <> 'ARCHIVED'`, ws).Scan(ctx, &live); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("list bench plays: %w", err)
	}
	for _, id := range live {
		if _, err := pb.defs.Archive(ctx, pb.tenant, id); err != nil {
			return fmt.Errorf("archive bench play: %w", err)
		}
	}
	return nil
}

// seedBulk fills (or creates) the workspace with n accounts of one contact each and no events,
// and returns the workspace's id.
func seedBulk(ctx context.Context, pool *pgxpool.Pool, id uuid.UUID, name string, n int, rng uint64, progress io.Writer) (uuid.UUID, error) {
	res, err := seed.Bulk(ctx, pool, seed.BulkOptions{
		WorkspaceID: id, WorkspaceName: name, Accounts: n, Progress: progress,
		ContactsPerAccount: 1, EventsPerAccount: -1, Seed: rng,
	})
	if err != nil {
		return uuid.Nil, err
	}
	return res.WorkspaceID, nil
}
