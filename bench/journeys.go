package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/journey/analytics"
	"github.com/stewardhq/steward/seed"
)

// Defaults of JourneysOptions: the journeys issue's analytics benchmark.
const (
	// DefaultJourneyEnrollments is the enrolments loaded into the benchmark journey, one per
	// account.
	DefaultJourneyEnrollments = 1_000_000
	// DefaultJourneyRuns is how many timed calls each query gets, after two warm-up calls.
	DefaultJourneyRuns = 20
	// journeyBatch is the enrolments written per COPY transaction.
	journeyBatch = 20_000
)

// GoalAnalytics is the journeys issue's goal for one roadblock report over the whole dataset.
const GoalAnalytics = 300 * time.Millisecond

// JourneysBenchNow is the moment the benchmark's data describes and its reports are asked at:
// fixed, so that a cached dataset answers the same figures on every later run.
var JourneysBenchNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// journeysSpan is how far back enrolments go: two years of monthly cohorts.
const journeysSpan = 730 * 24 * time.Hour

// JourneysWorkspaceName is the name of the analytics benchmark's workspace of n enrolments,
// seeded once per database and size and found again by name.
func JourneysWorkspaceName(n int) string { return fmt.Sprintf("Bench journeys %d", n) }

// JourneysOptions says what RunJourneys measures and against which database.
type JourneysOptions struct {
	// Bun and Pool are the database, as db.Open returns them. Required.
	Bun  *bun.DB
	Pool *pgxpool.Pool
	// Enrollments is the dataset's size; 0 means DefaultJourneyEnrollments.
	Enrollments int
	// Runs is the timed calls per query; 0 means DefaultJourneyRuns.
	Runs int
	// Progress, when set, receives the seed's progress and one line per phase.
	Progress io.Writer
}

func (o JourneysOptions) withDefaults() (JourneysOptions, error) {
	switch {
	case o.Bun == nil || o.Pool == nil:
		return o, errors.New("journeys bench options: Bun and Pool are required")
	case o.Enrollments < 0 || o.Runs < 0:
		return o, errors.New("journeys bench options: Enrollments and Runs must not be negative")
	}
	o.Enrollments = orDefault(o.Enrollments, DefaultJourneyEnrollments)
	o.Runs = orDefault(o.Runs, DefaultJourneyRuns)
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o, nil
}

// JourneysReport is what RunJourneys measured; latencies in milliseconds.
type JourneysReport struct {
	Machine Machine         `json:"machine"`
	Dataset JourneysDataset `json:"dataset"`
	// Queries are the timed calls: the roadblock report over the whole dataset, over the last
	// quarter, over one version, and one account's timeline.
	Queries []JourneyQueryResult `json:"queries"`
	// GoalMs is GoalAnalytics; GoalMet says whether the whole-dataset report's p50 met it.
	GoalMs  float64 `json:"goal_ms"`
	GoalMet bool    `json:"goal_met"`
}

// JourneysDataset is the benchmark journey's data.
type JourneysDataset struct {
	WorkspaceID   uuid.UUID `json:"workspace_id"`
	WorkspaceName string    `json:"workspace_name"`
	JourneyID     uuid.UUID `json:"journey_id"`
	Enrollments   int64     `json:"enrollments"`
	Milestones    int64     `json:"milestone_rows"`
	Tasks         int64     `json:"tasks"`
	// ByStatus counts the enrolments per status.
	ByStatus map[string]int64 `json:"by_status"`
	// Seeded says whether this run loaded the data; SeedSeconds is how long accounts and
	// journey rows took (COPY, then VACUUM ANALYZE).
	Seeded      bool    `json:"seeded"`
	SeedSeconds float64 `json:"seed_seconds,omitempty"`
}

// JourneyQueryResult is one query's timings over Runs warm calls.
type JourneyQueryResult struct {
	Name        string  `json:"name"`
	Enrollments int     `json:"enrollments"`
	Runs        int     `json:"runs"`
	P50Ms       float64 `json:"p50_ms"`
	P95Ms       float64 `json:"p95_ms"`
	MaxMs       float64 `json:"max_ms"`
	// PostgresCPUMs is the CPU time of the pool's PostgreSQL backends per call (parallel
	// workers not included), a figure the machine's other load does not inflate as much.
	PostgresCPUMs float64 `json:"postgres_cpu_ms"`
	// Load1 is the machine's one-minute load average when the timed calls began.
	Load1 float64 `json:"load1"`
}

// RunJourneys loads (once) a journey with Enrollments enrolments and times the roadblock
// report and the account timeline on it.
func RunJourneys(ctx context.Context, opts JourneysOptions) (*JourneysReport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	rep := &JourneysReport{GoalMs: ms(GoalAnalytics)}
	if rep.Machine, err = describeMachine(ctx, opts.Pool); err != nil {
		return nil, err
	}
	rep.Machine.DBMaxConns = int(opts.Pool.Config().MaxConns)
	ds, err := ensureJourneyDataset(ctx, opts)
	if err != nil {
		return nil, err
	}
	rep.Dataset = *ds

	svc := &analytics.Service{DB: opts.Bun, Now: func() time.Time { return JourneysBenchNow }}
	t := db.Tenant{WorkspaceID: ds.WorkspaceID}
	from := JourneysBenchNow.Add(-journeysSpan)
	v2 := 2
	reports := []struct {
		name string
		q    analytics.Query
	}{
		{"report, all versions, 24 months (every enrolment)", analytics.Query{JourneyID: ds.JourneyID, From: from, To: JourneysBenchNow}},
		{"report, all versions, last 90 days", analytics.Query{JourneyID: ds.JourneyID, From: JourneysBenchNow.Add(-90 * 24 * time.Hour), To: JourneysBenchNow}},
		{"report, version 2, 24 months", analytics.Query{JourneyID: ds.JourneyID, Version: &v2, From: from, To: JourneysBenchNow}},
	}
	for _, r := range reports {
		fmt.Fprintf(opts.Progress, "timing %s\n", r.name)
		var enrolled int
		res, err := timeCalls(ctx, opts.Pool, r.name, opts.Runs, func(ctx context.Context) error {
			rep, err := svc.Roadblocks(ctx, t, r.q)
			if err == nil {
				enrolled = rep.Enrollments
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		res.Enrollments = enrolled
		rep.Queries = append(rep.Queries, res)
	}

	var accounts []uuid.UUID
	if err := opts.Bun.NewRaw(`SELECT account_id FROM journey_enrollments WHERE workspace_id = ? AND journey_id = ?
		ORDER BY hashtext(id::text) LIMIT 50`, ds.WorkspaceID, ds.JourneyID).Scan(ctx, &accounts); err != nil {
		return nil, fmt.Errorf("pick timeline accounts: %w", err)
	}
	fmt.Fprintln(opts.Progress, "timing account timelines")
	var i int
	res, err := timeCalls(ctx, opts.Pool, "account timeline", opts.Runs, func(ctx context.Context) error {
		i++
		_, err := svc.AccountProgress(ctx, t, ds.JourneyID, accounts[i%len(accounts)])
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Enrollments = 1
	rep.Queries = append(rep.Queries, res)
	rep.GoalMet = rep.Queries[0].P50Ms <= rep.GoalMs
	return rep, nil
}

// timeCalls calls fn twice to warm up, then runs times, and reports the latencies and the
// backends' CPU per call.
func timeCalls(ctx context.Context, pool *pgxpool.Pool, name string, runs int, fn func(context.Context) error) (JourneyQueryResult, error) {
	for range 2 {
		if err := fn(ctx); err != nil {
			return JourneyQueryResult{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	load := loadAverage()
	meter := cpuMeter{pool: pool}
	cpuStart := meter.read(ctx)
	lat := make([]time.Duration, runs)
	for i := range lat {
		start := time.Now()
		if err := fn(ctx); err != nil {
			return JourneyQueryResult{}, fmt.Errorf("%s: %w", name, err)
		}
		lat[i] = time.Since(start)
	}
	_, backends := meter.read(ctx).since(cpuStart)
	slices.Sort(lat)
	pct := func(p float64) float64 { return ms(lat[int(math.Ceil(p*float64(runs)))-1]) }
	return JourneyQueryResult{Name: name, Runs: runs, P50Ms: pct(0.5), P95Ms: pct(0.95), MaxMs: ms(lat[runs-1]),
		PostgresCPUMs: ms(backends) / float64(runs), Load1: load}, nil
}

// loadAverage is the one-minute load average from /proc/loadavg (0 where unknown).
func loadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// WriteTable prints the report for people.
func (r *JourneysReport) WriteTable(w io.Writer) error {
	m, d := r.Machine, r.Dataset
	var b strings.Builder
	fmt.Fprintf(&b, "Journey analytics on %d enrolments (%d milestone rows, %d tasks)\n", d.Enrollments, d.Milestones, d.Tasks)
	fmt.Fprintf(&b, "machine: %d CPU (%s), GOMAXPROCS %d, %d MiB, %s, %s, PostgreSQL %s\n\n",
		m.NumCPU, orUnknown(m.CPUModel), m.GOMAXPROCS, m.MemoryMiB, m.OS, m.GoVersion, m.Postgres)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "query\tenrolments\truns\tp50 ms\tp95 ms\tmax ms\tPostgreSQL CPU ms/call\tload1")
	for _, q := range r.Queries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\n", q.Name, q.Enrollments, q.Runs, q.P50Ms, q.P95Ms, q.MaxMs, q.PostgresCPUMs, q.Load1)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nreport over every enrolment: p50 %.1f ms (goal <= %.0f ms: %s)\n", r.Queries[0].P50Ms, r.GoalMs, verdict(r.GoalMet))
	_, err := io.WriteString(w, b.String())
	return err
}

// The benchmark journey's versions: 4, 5 and 6 milestones. Version 1 covers the oldest 30% of
// enrolments, version 2 the next 40%, version 3 the newest 30%.
var benchMilestones = []struct {
	key, name string
	target    time.Duration
	// spread is the log-normal sigma of the time the milestone takes, relative to its target;
	// bias shifts its median (positive: usually late). Technical setup is the roadblock.
	spread, bias float64
}{
	{"kickoff", "Kickoff", 3 * 24 * time.Hour, 0.4, -0.4},
	{"setup", "Technical setup", 10 * 24 * time.Hour, 0.6, 0.1},
	{"training", "Training", 7 * 24 * time.Hour, 0.4, -0.3},
	{"golive", "Go-live", 5 * 24 * time.Hour, 0.5, -0.2},
	{"adoption", "Adoption review", 14 * 24 * time.Hour, 0.3, -0.2},
	{"handoff", "Handoff to success", 4 * 24 * time.Hour, 0.5, -0.1},
}

// milestonesOf is how many milestones version v has.
func milestonesOf(v int) int { return 3 + v }

// stallAfter is how long without progress makes a live enrolment STALLED in the dataset.
const stallAfter = 21 * 24 * time.Hour

// ensureJourneyDataset finds the benchmark journey or loads it: accounts through seed.Bulk
// (no contacts or events), then enrolments, milestone states, tasks and their step states
// through COPY, in batches on two connections, then VACUUM ANALYZE so the index-only scans
// the report relies on see a settled visibility map.
func ensureJourneyDataset(ctx context.Context, opts JourneysOptions) (*JourneysDataset, error) {
	pool := opts.Pool
	n := opts.Enrollments
	ds := &JourneysDataset{WorkspaceName: JourneysWorkspaceName(n)}
	err := pool.QueryRow(ctx, `
		SELECT w.id, coalesce(j.id, '00000000-0000-0000-0000-000000000000')
		FROM workspaces w LEFT JOIN journeys j ON j.workspace_id = w.id AND j.key = 'bench-onboarding'
		WHERE w.name = $1 ORDER BY w.created_at LIMIT 1`, ds.WorkspaceName).Scan(&ds.WorkspaceID, &ds.JourneyID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("find journeys bench workspace: %w", err)
	}
	if ds.JourneyID == uuid.Nil {
		if ds.WorkspaceID != uuid.Nil {
			return nil, fmt.Errorf("journeys bench workspace %q (%s) has no benchmark journey (an interrupted load?): delete it and run again",
				ds.WorkspaceName, ds.WorkspaceID)
		}
		start := time.Now()
		if err := loadJourneyDataset(ctx, opts, ds); err != nil {
			return nil, err
		}
		ds.Seeded = true
		ds.SeedSeconds = time.Since(start).Seconds()
	}
	err = pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM journey_milestone_states WHERE workspace_id = $1 AND journey_id = $2),
		(SELECT count(*) FROM tasks WHERE workspace_id = $1)`, ds.WorkspaceID, ds.JourneyID).Scan(&ds.Milestones, &ds.Tasks)
	if err != nil {
		return nil, fmt.Errorf("count journeys bench rows: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT status, count(*) FROM journey_enrollments WHERE workspace_id = $1 AND journey_id = $2 GROUP BY 1`,
		ds.WorkspaceID, ds.JourneyID)
	if err != nil {
		return nil, fmt.Errorf("count journeys bench enrolments: %w", err)
	}
	ds.ByStatus = map[string]int64{}
	for rows.Next() {
		var s string
		var c int64
		if err := rows.Scan(&s, &c); err != nil {
			return nil, err
		}
		ds.ByStatus[s] = c
		ds.Enrollments += c
	}
	return ds, rows.Err()
}

func loadJourneyDataset(ctx context.Context, opts JourneysOptions, ds *JourneysDataset) error {
	pool, n := opts.Pool, opts.Enrollments
	fmt.Fprintf(opts.Progress, "seeding %d accounts into workspace %q (cached for later runs)\n", n, ds.WorkspaceName)
	res, err := seed.Bulk(ctx, pool, seed.BulkOptions{
		WorkspaceName: ds.WorkspaceName, Accounts: n, ContactsPerAccount: -1, EventsPerAccount: -1,
		Progress: opts.Progress, Seed: 7, Now: JourneysBenchNow,
	})
	if err != nil {
		return fmt.Errorf("seed journeys bench accounts: %w", err)
	}
	ds.WorkspaceID = res.WorkspaceID
	ws := ds.WorkspaceID

	var setup journeySetup
	if err := opts.Bun.NewRaw(`SELECT user_id FROM memberships WHERE workspace_id = ? AND role = 'CSM' ORDER BY user_id`, ws).
		Scan(ctx, &setup.csms); err != nil {
		return fmt.Errorf("read bench CSMs: %w", err)
	}
	for _, key := range []string{"CSM", "SALES", "IMPLEMENTATION"} {
		r, err := db.TeamRoleByKeyOrID(ctx, opts.Bun, db.Tenant{WorkspaceID: ws}, key)
		if err != nil {
			return err
		}
		setup.roles = append(setup.roles, r.ID)
	}
	if len(setup.csms) == 0 {
		return errors.New("journeys bench workspace has no CSMs")
	}

	// The journey and its three versions, then the enrolments, one per account.
	ds.JourneyID = uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO journeys (workspace_id, id, key, name, stage, status, latest_version, trigger_kind, created_at)
		VALUES ($1, $2, 'bench-onboarding', 'Bench onboarding', 'ONBOARDING', 'ACTIVE', 3, 'MANUAL', $3)`,
		ws, ds.JourneyID, JourneysBenchNow.Add(-journeysSpan)); err != nil {
		return fmt.Errorf("insert bench journey: %w", err)
	}
	for v := 1; v <= 3; v++ {
		var ms []string
		for _, m := range benchMilestones[:milestonesOf(v)] {
			ms = append(ms, fmt.Sprintf(`{"key": %q, "name": %q, "target": "%dh", "steps": []}`, m.key, m.name, int(m.target.Hours())))
		}
		def := `{"milestones": [` + strings.Join(ms, ", ") + `]}`
		if _, err := pool.Exec(ctx, `INSERT INTO journey_versions (workspace_id, journey_id, version, definition, published_at) VALUES ($1, $2, $3, $4, $5)`,
			ws, ds.JourneyID, v, def, JourneysBenchNow.Add(-journeysSpan)); err != nil {
			return fmt.Errorf("insert bench journey version: %w", err)
		}
	}
	var accounts []uuid.UUID
	if err := opts.Bun.NewRaw(`SELECT id FROM accounts WHERE workspace_id = ? ORDER BY id`, ws).Scan(ctx, &accounts); err != nil {
		return fmt.Errorf("read bench accounts: %w", err)
	}
	setup.ws, setup.journey, setup.accounts = ws, ds.JourneyID, accounts

	fmt.Fprintf(opts.Progress, "loading %d enrolments with their milestones and tasks (COPY)\n", len(accounts))
	batches := (len(accounts) + journeyBatch - 1) / journeyBatch
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(2)
	for i := range batches {
		g.Go(func() error {
			b := setup.batch(i)
			return b.write(gctx, pool)
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("load bench journey: %w", err)
	}
	fmt.Fprintln(opts.Progress, "vacuuming and analyzing the journey tables")
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) journey_enrollments, journey_milestone_states, journey_step_states, tasks, accounts",
		pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("vacuum journey bench tables: %w", err)
	}
	return nil
}

// journeySetup is what every batch needs.
type journeySetup struct {
	ws, journey uuid.UUID
	accounts    []uuid.UUID
	csms        []uuid.UUID
	roles       []uuid.UUID
}

// journeyRows are one batch's rows, as COPY takes them.
type journeyRows struct {
	enrollments, milestones, tasks, steps [][]any
}

// batch generates the enrolments of accounts [i*journeyBatch, ...), spread evenly over the two
// years before JourneysBenchNow in account order, each simulated milestone by milestone.
func (s *journeySetup) batch(i int) *journeyRows {
	r := rand.New(rand.NewPCG(11, uint64(i)))
	first := i * journeyBatch
	last := min(first+journeyBatch, len(s.accounts))
	out := &journeyRows{}
	step := journeysSpan / time.Duration(len(s.accounts))
	from := JourneysBenchNow.Add(-journeysSpan)
	for k := first; k < last; k++ {
		enrolled := from.Add(time.Duration(k)*step + time.Duration(r.Int64N(int64(step)))).Truncate(time.Second)
		version := 1
		switch frac := float64(k) / float64(len(s.accounts)); {
		case frac >= 0.7:
			version = 3
		case frac >= 0.3:
			version = 2
		}
		s.enrollment(r, out, s.accounts[k], enrolled, version)
	}
	return out
}

// enrollment simulates one enrolment: milestones run in order, each taking a log-normal
// multiple of its target (5% of them four times that: the customer went quiet); 4% are
// skipped; 6% of enrolments are cancelled part way; a live enrolment without progress for
// stallAfter is STALLED. The current milestone of a live enrolment has one or two open tasks.
func (s *journeySetup) enrollment(r *rand.Rand, out *journeyRows, account uuid.UUID, enrolled time.Time, version int) {
	now := JourneysBenchNow
	id := uuid.New()
	n := milestonesOf(version)
	cancelAt := -1
	if r.Float64() < 0.06 {
		cancelAt = r.IntN(n)
	}
	status := "COMPLETED"
	var completedAt, cancelledAt *time.Time
	lastProgress := enrolled
	t := enrolled.Add(time.Duration(r.Int64N(int64(12 * time.Hour)))).Truncate(time.Second)
	type ms struct {
		key                                              string
		status                                           string
		started, due, atRisk, behind, completed, skipped *time.Time
	}
	rows := make([]ms, n)
	live := -1 // the milestone a live enrolment is in
	for j := range n {
		m := benchMilestones[j]
		row := ms{key: m.key, status: "NOT_STARTED"}
		if status != "COMPLETED" { // an earlier milestone is still open, or the enrolment ended
			rows[j] = row
			continue
		}
		if j > 0 && r.Float64() < 0.04 {
			sk := t
			row.status, row.skipped = "SKIPPED", &sk
			rows[j] = row
			continue
		}
		start := t
		due := start.Add(m.target)
		took := time.Duration(float64(m.target) * math.Exp(m.bias+m.spread*r.NormFloat64())).Truncate(time.Minute)
		if r.Float64() < 0.05 { // the customer goes quiet: the milestone drags on
			took *= 4
		}
		row.started, row.due = &start, &due
		riskAt := start.Add(m.target * 3 / 4)
		end := start.Add(took)
		if j == cancelAt {
			cancelled := start.Add(time.Duration(r.Float64() * float64(took)))
			if cancelled.Before(now) {
				end = cancelled
				status = "CANCELLED"
				cancelledAt = &cancelled
			}
		}
		if status == "COMPLETED" && !end.Before(now) {
			status = "ACTIVE"
			end = now
			live = j
		}
		if !riskAt.After(end) {
			row.atRisk = &riskAt
		}
		if !due.After(end) {
			row.behind = &due
		}
		if status == "COMPLETED" {
			done := end
			row.status, row.completed = "DONE", &done
			t = done
			lastProgress = done
		} else {
			switch {
			case row.behind != nil:
				row.status = "BEHIND"
			case row.atRisk != nil:
				row.status = "AT_RISK"
			default:
				row.status = "ON_TRACK"
			}
			lastProgress = start
		}
		rows[j] = row
	}
	switch status {
	case "COMPLETED":
		completedAt = &t
	case "ACTIVE":
		if now.Sub(lastProgress) > stallAfter {
			status = "STALLED"
		}
	}
	ws, eid, jid, aid := pgID(s.ws), pgID(id), pgID(s.journey), pgID(account)
	out.enrollments = append(out.enrollments, []any{ws, eid, jid, version, aid, status, 1, "MANUAL",
		enrolled, lastProgress, completedAt, cancelledAt, lastProgress})
	for j, m := range rows {
		out.milestones = append(out.milestones, []any{ws, eid, m.key, jid, version, aid, enrolled, j + 1, m.status,
			m.started, m.due, m.atRisk, m.behind, m.completed, m.skipped, lastProgress})
	}
	if live < 0 {
		return
	}
	m := rows[live]
	for k := range 1 + r.IntN(2) {
		task := uuid.New()
		role := s.roles[r.IntN(len(s.roles))]
		assignee := s.csms[r.IntN(len(s.csms))]
		due := m.started.Add(benchMilestones[live].target / 2)
		out.tasks = append(out.tasks, []any{ws, pgID(task), aid, "Milestone task", pgID(assignee), pgID(role), due, "OPEN", "JOURNEY", *m.started, *m.started})
		out.steps = append(out.steps, []any{ws, eid, m.key, fmt.Sprintf("%s-task-%d", m.key, k), "TASK", true, "PENDING", pgID(task), *m.started})
	}
}

// pgID is u as COPY's binary format takes it.
func pgID(u uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: u, Valid: true} }

// write copies the batch's rows in one transaction, parents first.
func (b *journeyRows) write(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		copies := []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"journey_enrollments", []string{"workspace_id", "id", "journey_id", "version", "account_id", "status", "attempt", "source",
				"enrolled_at", "last_progress_at", "completed_at", "cancelled_at", "updated_at"}, b.enrollments},
			{"journey_milestone_states", []string{"workspace_id", "enrollment_id", "milestone_key", "journey_id", "version", "account_id",
				"enrolled_at", "position", "status", "started_at", "due_at", "at_risk_at", "behind_at", "completed_at", "skipped_at", "updated_at"}, b.milestones},
			{"tasks", []string{"workspace_id", "id", "account_id", "title", "assignee_id", "team_role_id", "due_at", "status", "source_kind",
				"created_at", "updated_at"}, b.tasks},
			{"journey_step_states", []string{"workspace_id", "enrollment_id", "milestone_key", "step_key", "kind", "required", "status",
				"task_id", "created_at"}, b.steps},
		}
		for _, c := range copies {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", c.table, err)
			}
		}
		return nil
	})
}
