// Package analytics answers where accounts get stuck in a journey: the roadblock report of one
// journey (a version or all) over a range of enrolment dates, and one account's progress as a
// timeline. It is read-only SQL over the journey tables and tasks; milestone names come from
// the versions' definition JSON (definition -> 'milestones' -> [{key, name, ...}]), so the
// package depends on no journey engine code.
//
// The funnel, behind share, time in milestone and cohorts read the journey rollup (migration
// 20261204000011_journey_rollup: per-UTC-day counts and per-day and per-month histograms,
// kept by statement-level triggers in the transaction of every change) for the whole days of
// the range, and the rows of the partial days at its ends exactly, so a report costs about the
// same for two years of a million enrolments as for a week. Counts are exact for any range.
// Percentiles (durations, overruns, days to complete) are approximate: computed as
// percentile_cont would, but each value read as the geometric middle of its 2%-wide histogram
// bucket, so within PercentileBound (1%) of the exact figure; values under a minute are read
// as 30 s, and zero is exact. Current positions and overdue tasks read the live rows (small
// partial indexes), and AccountProgress one account's rows.
//
// Every statement filters on the caller's workspace first; another workspace's journey is
// db.ErrNotFound, exactly like a journey that does not exist.
package analytics

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// MaxRange is the longest enrolment date range one report covers: three years of monthly
// cohorts. Longer ranges are bad input rather than slow queries.
const MaxRange = 3 * 366 * 24 * time.Hour

// workMem is the sort and hash memory of a report's transaction: the partial days' rows and
// the rollup rows are aggregated in memory.
const workMem = "64MB"

// Milestone statuses, as journey_milestone_states stores them.
const (
	StatusNotStarted = "NOT_STARTED"
	StatusOnTrack    = "ON_TRACK"
	StatusAtRisk     = "AT_RISK"
	StatusBehind     = "BEHIND"
	StatusDone       = "DONE"
	StatusSkipped    = "SKIPPED"
)

// Query selects the enrolments a report covers: those of JourneyID (of Version only, when set)
// enrolled in [From, To). Now is the moment "overdue" is judged at.
type Query struct {
	JourneyID uuid.UUID
	// Version restricts the report to enrolments pinned to that version; nil means all.
	Version *int
	From    time.Time
	To      time.Time
	Now     time.Time
}

// validate names the bad field: To must be after From, the range at most MaxRange, a version
// positive.
func (q Query) validate() error {
	switch {
	case q.From.IsZero():
		return invalid.Field("from", "is required")
	case q.To.IsZero():
		return invalid.Field("to", "is required")
	case !q.To.After(q.From):
		return invalid.Field("to", "must be after from")
	case q.To.Sub(q.From) > MaxRange:
		return invalid.Field("to", "the range may cover at most %d days", int(MaxRange/(24*time.Hour)))
	case q.Version != nil && *q.Version < 1:
		return invalid.Field("version", "must be positive")
	}
	return nil
}

// Report is the roadblock analytics of one journey over a range of enrolment dates. Counts are
// of enrolments (an account enrolled twice counts twice); durations are percentiles
// (interpolated as percentile_cont does) over the completed milestones, within
// PercentileBound of the exact ones.
type Report struct {
	Query Query
	// Enrollments is how many enrolments the report covers.
	Enrollments int
	// Milestones are the funnel, time in milestone and behind share of each milestone, in the
	// order of the latest version that has it.
	Milestones []Milestone
	// Current is where live (ACTIVE or STALLED) enrolments are now: their started, unfinished
	// milestones, counted per milestone and status (ON_TRACK, AT_RISK, BEHIND), in milestone
	// order then status order.
	Current []Current
	// OverdueByTeamRole and OverdueByAssignee count the open tasks, due before Query.Now, that
	// the covered enrolments' steps created; a nil ID is the group with no role (assignee).
	// Largest group first.
	OverdueByTeamRole []OverdueGroup
	OverdueByAssignee []OverdueGroup
	// Roadblocks are the milestones where live enrolments are stuck (behind or stalled), most
	// stuck first, then by median overrun; milestones where nobody is stuck are left out.
	Roadblocks []Roadblock
	// Cohorts are the enrolments grouped by month of enrolment (UTC), oldest first.
	Cohorts []Cohort
}

// Milestone is one milestone's figures.
type Milestone struct {
	Key  string
	Name string
	// Position is the milestone's place (1-based) in the latest version that has it.
	Position int
	// Entered counts enrolments that started the milestone, Completed those where it is DONE,
	// Skipped those where it was skipped.
	Entered   int
	Completed int
	Skipped   int
	// EverBehind counts enrolments where the milestone went past its target at some point
	// (behind_at set), whether or not it finished since; BehindShare is EverBehind/Entered
	// (0 when nobody entered).
	EverBehind  int
	BehindShare float64
	// Duration is completed_at - started_at of the completed milestones; Overrun is how far
	// past the target they finished (completed_at - due_at, 0 when on time). Nil when no
	// milestone completed.
	DurationMedian *time.Duration
	DurationP90    *time.Duration
	OverrunMedian  *time.Duration
	OverrunP90     *time.Duration
}

// Current is how many live enrolments are in one milestone with one status now; Stalled is how
// many of them are STALLED enrolments.
type Current struct {
	MilestoneKey string
	Status       string
	Count        int
	Stalled      int
}

// OverdueGroup is the overdue tasks of one team role or one assignee (nil: none).
type OverdueGroup struct {
	ID    *uuid.UUID
	Count int
}

// Roadblock is a milestone where live enrolments are stuck now. Behind counts those whose
// milestone is BEHIND, Stalled those whose enrolment is STALLED, and Stuck those that are
// either (each enrolment once). MedianOverrun is the milestone's Milestone.OverrunMedian.
type Roadblock struct {
	MilestoneKey  string
	Name          string
	Behind        int
	Stalled       int
	Stuck         int
	MedianOverrun *time.Duration
}

// Cohort is the enrolments of one month of enrolment and their status now.
type Cohort struct {
	// Month is the first instant of the month, UTC.
	Month     time.Time
	Enrolled  int
	Completed int
	Active    int
	Stalled   int
	Cancelled int
	// MedianDaysToComplete is the median of completed_at - enrolled_at, in days, over the
	// completed enrolments; nil when none completed.
	MedianDaysToComplete *float64
}

// Service runs reports in a read-only, repeatable-read transaction, so that every figure of a
// report comes from the same snapshot. Now is the clock overdue tasks are judged against.
type Service struct {
	DB  *bun.DB
	Now func() time.Time
}

// Roadblocks runs Roadblocks in one read-only snapshot, at the service's clock.
func (s *Service) Roadblocks(ctx context.Context, t db.Tenant, q Query) (*Report, error) {
	q.Now = s.Now()
	var rep *Report
	err := s.DB.RunInTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(ctx context.Context, tx bun.Tx) error {
		// JIT compiling costs more than it saves on these short aggregates.
		if _, err := tx.ExecContext(ctx, "SET LOCAL work_mem = '"+workMem+"'; SET LOCAL jit = off"); err != nil {
			return fmt.Errorf("tune report transaction: %w", err)
		}
		var err error
		rep, err = Roadblocks(ctx, tx, t, q)
		return err
	})
	return rep, err
}

// AccountProgress runs AccountProgress in one read-only snapshot.
func (s *Service) AccountProgress(ctx context.Context, t db.Tenant, journeyID, accountID uuid.UUID) ([]Attempt, error) {
	var out []Attempt
	err := s.DB.RunInTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = AccountProgress(ctx, tx, t, journeyID, accountID)
		return err
	})
	return out, err
}

// Roadblocks computes the report of q. A journey of another workspace (or none) is
// db.ErrNotFound; a version the journey never published, or a bad range, is an invalid.Error.
// It runs seven statements; run it in a read-only repeatable-read transaction (Service does) for
// figures from one snapshot.
func Roadblocks(ctx context.Context, idb bun.IDB, t db.Tenant, q Query) (*Report, error) {
	if err := q.validate(); err != nil {
		return nil, err
	}
	if err := checkJourney(ctx, idb, t, q.JourneyID, q.Version); err != nil {
		return nil, err
	}
	rep := &Report{Query: q}
	names, err := milestoneNames(ctx, idb, t, q.JourneyID, q.Version)
	if err != nil {
		return nil, err
	}
	s := splitRange(q.From, q.To)
	hist, err := histograms(ctx, idb, t, q, s)
	if err != nil {
		return nil, err
	}
	if err := milestoneFigures(ctx, idb, t, q, s, names, hist, rep); err != nil {
		return nil, err
	}
	if err := currentFigures(ctx, idb, t, q, rep); err != nil {
		return nil, err
	}
	if err := overdueFigures(ctx, idb, t, q, rep); err != nil {
		return nil, err
	}
	if err := cohortFigures(ctx, idb, t, q, s, hist, rep); err != nil {
		return nil, err
	}
	rep.Roadblocks = roadblocks(rep)
	return rep, nil
}

// checkJourney answers db.ErrNotFound for a journey the workspace does not have, and bad input
// for a version it never published.
func checkJourney(ctx context.Context, idb bun.IDB, t db.Tenant, journeyID uuid.UUID, version *int) error {
	var latest int
	err := idb.NewRaw(`SELECT latest_version FROM journeys WHERE workspace_id = ? AND id = ?`,
		t.WorkspaceID, journeyID).Scan(ctx, &latest)
	if err != nil {
		return mapErr("find journey", err)
	}
	if version != nil && *version > latest {
		return invalid.Field("version", "the journey has no published version %d", *version)
	}
	return nil
}

// milestoneName is a milestone key's name and position in the latest version that has it.
type milestoneName struct {
	Key      string `bun:"key"`
	Name     string `bun:"name"`
	Position int    `bun:"position"`
}

// milestoneNames reads the milestones of the journey's versions (version only, when set), each
// key once with its name and position from the newest version that has it, in order.
func milestoneNames(ctx context.Context, idb bun.IDB, t db.Tenant, journeyID uuid.UUID, version *int) ([]milestoneName, error) {
	var rows []milestoneName
	err := idb.NewRaw(`
		SELECT key, name, position FROM (
		    SELECT DISTINCT ON (m.value->>'key')
		           m.value->>'key' AS key,
		           coalesce(m.value->>'name', m.value->>'key') AS name,
		           m.ordinality::int AS position
		    FROM journey_versions v
		    CROSS JOIN LATERAL jsonb_array_elements(
		        CASE WHEN jsonb_typeof(v.definition->'milestones') = 'array' THEN v.definition->'milestones' ELSE '[]'::jsonb END
		    ) WITH ORDINALITY AS m
		    WHERE v.workspace_id = ? AND v.journey_id = ? AND (?::int IS NULL OR v.version = ?::int)
		      AND m.value->>'key' IS NOT NULL
		    ORDER BY m.value->>'key', v.version DESC
		) latest
		ORDER BY position, key`, t.WorkspaceID, journeyID, version, version).Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("read milestone names", err)
	}
	return rows, nil
}

// rangeSQL is the filter every statement applies to its journey rows (alias given): the
// workspace, the journey, the enrolment range and the version when set. Its arguments come
// from rangeArgs.
func rangeSQL(alias string) string {
	return alias + ".workspace_id = ? AND " + alias + ".journey_id = ? AND " +
		alias + ".enrolled_at >= ? AND " + alias + ".enrolled_at < ? AND (?::int IS NULL OR " + alias + ".version = ?::int)"
}

func rangeArgs(t db.Tenant, q Query) []any {
	return []any{t.WorkspaceID, q.JourneyID, q.From, q.To, q.Version, q.Version}
}

// milestoneRow is one milestone's aggregate.
type milestoneRow struct {
	Key        string   `bun:"milestone_key"`
	Position   int      `bun:"-"`
	Entered    int      `bun:"entered"`
	Completed  int      `bun:"completed"`
	Skipped    int      `bun:"skipped"`
	EverBehind int      `bun:"ever_behind"`
	DurP50     *float64 `bun:"-"`
	DurP90     *float64 `bun:"-"`
	OverP50    *float64 `bun:"-"`
	OverP90    *float64 `bun:"-"`
}

// histogramRow is one bucket of a measure's histogram over the report's range; Month is set
// for the 'to_complete' measure only (cohorts are per month).
type histogramRow struct {
	Month   *time.Time `bun:"month"`
	Key     string     `bun:"milestone_key"`
	Measure string     `bun:"measure"`
	Bucket  int        `bun:"bucket"`
	N       int        `bun:"n"`
}

// histograms reads the report's histograms, bucket by bucket: whole months from
// journey_histogram_monthly, the other whole days from journey_histogram_daily, and the
// partial days' completed rows bucketed on the fly, summed per milestone (per month for days
// to complete), measure and bucket, in bucket order.
func histograms(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, s span) ([]histogramRow, error) {
	scope := `h.workspace_id = ? AND h.journey_id = ? AND (?::int IS NULL OR h.version = ?::int)`
	scopeArgs := []any{t.WorkspaceID, q.JourneyID, q.Version, q.Version}
	args := append(slices.Clone(scopeArgs), dateArg(s.MonthFrom), dateArg(s.MonthTo))
	args = append(args, scopeArgs...)
	args = append(args, dateArg(s.DayFrom), dateArg(s.MonthFrom), dateArg(s.MonthTo), dateArg(s.DayTo))
	msSQL, msArgs := exactSQL(`NULL::date, a.milestone_key, m.measure, m.bucket, 1`,
		`journey_milestone_states`, ` AND a.status = 'DONE' AND m.bucket IS NOT NULL`, t, q, s)
	msSQL = strings.ReplaceAll(msSQL, "journey_milestone_states a WHERE", `journey_milestone_states a
		CROSS JOIN LATERAL (VALUES
		    ('duration', journey_rollup_bucket(date_part('epoch', a.completed_at - a.started_at))),
		    ('overrun', CASE WHEN a.due_at IS NOT NULL THEN journey_rollup_bucket(date_part('epoch', a.completed_at - a.due_at)) END)
		) m (measure, bucket) WHERE`)
	enSQL, enArgs := exactSQL(`(date_trunc('month', a.enrolled_at, 'UTC') AT TIME ZONE 'UTC')::date, '', 'to_complete',
		journey_rollup_bucket(date_part('epoch', a.completed_at - a.enrolled_at)), 1`,
		`journey_enrollments`, ` AND a.status = 'COMPLETED'`, t, q, s)
	args = append(append(args, msArgs...), enArgs...)
	var rows []histogramRow
	err := idb.NewRaw(`
		SELECT month, milestone_key, measure, bucket, sum(n)::int AS n FROM (
		    SELECT CASE WHEN h.measure = 'to_complete' THEN h.enrolled_month END AS month,
		           h.milestone_key, h.measure, h.bucket, h.n
		    FROM journey_histogram_monthly h
		    WHERE `+scope+` AND h.enrolled_month >= ?::date AND h.enrolled_month < ?::date
		    UNION ALL
		    SELECT CASE WHEN h.measure = 'to_complete' THEN date_trunc('month', h.enrolled_on::timestamp)::date END,
		           h.milestone_key, h.measure, h.bucket, h.n
		    FROM journey_histogram_daily h
		    WHERE `+scope+` AND ((h.enrolled_on >= ?::date AND h.enrolled_on < ?::date)
		                     OR (h.enrolled_on >= ?::date AND h.enrolled_on < ?::date))
		    UNION ALL
		    `+msSQL+`
		    UNION ALL
		    `+enSQL+`
		) x
		GROUP BY 1, 2, 3, 4
		ORDER BY 1, 2, 3, 4`, args...).Scan(ctx, &rows)
	if err != nil {
		return nil, mapErr("read duration histograms", err)
	}
	return rows, nil
}

// milestoneFigures fills the funnel, behind share and time in milestone from the rollup: the
// counts of the range's whole days from journey_milestone_daily plus the partial days' rows,
// then the percentiles from the histograms (hist, as histograms read them).
func milestoneFigures(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, s span, names []milestoneName, hist []histogramRow, rep *Report) error {
	exact, exactArgs := exactSQL(`a.milestone_key, (a.started_at IS NOT NULL)::int, (a.status = 'DONE')::int,
		(a.status = 'SKIPPED')::int, (a.behind_at IS NOT NULL)::int`, `journey_milestone_states`, ``, t, q, s)
	args := []any{t.WorkspaceID, q.JourneyID, q.Version, q.Version, dateArg(s.DayFrom), dateArg(s.DayTo)}
	var rows []milestoneRow
	err := idb.NewRaw(`
		SELECT milestone_key, sum(entered)::int AS entered, sum(completed)::int AS completed,
		       sum(skipped)::int AS skipped, sum(ever_behind)::int AS ever_behind
		FROM (
		    SELECT d.milestone_key, d.entered, d.completed, d.skipped, d.ever_behind
		    FROM journey_milestone_daily d
		    WHERE d.workspace_id = ? AND d.journey_id = ? AND (?::int IS NULL OR d.version = ?::int)
		      AND d.enrolled_on >= ?::date AND d.enrolled_on < ?::date
		    UNION ALL
		    `+exact+`
		) x
		GROUP BY milestone_key`, append(args, exactArgs...)...).Scan(ctx, &rows)
	if err != nil {
		return mapErr("count milestones", err)
	}
	// Rollup rows whose rows all went away (deleted, or moved to another version) sum to zero:
	// such a key is no milestone of the range. (A key no definition names is listed only once
	// some row of it started.)
	rows = slices.DeleteFunc(rows, func(r milestoneRow) bool {
		return r.Entered == 0 && r.Completed == 0 && r.Skipped == 0 && r.EverBehind == 0
	})
	byMeasure := map[[2]string][]bucketCount{}
	for _, h := range hist {
		if h.Measure == "to_complete" {
			continue
		}
		k := [2]string{h.Key, h.Measure}
		byMeasure[k] = append(byMeasure[k], bucketCount{Bucket: h.Bucket, N: h.N})
	}
	for i := range rows {
		if p := percentiles(byMeasure[[2]string{rows[i].Key, "duration"}], 0.5, 0.9); p != nil {
			rows[i].DurP50, rows[i].DurP90 = &p[0], &p[1]
		}
		if p := percentiles(byMeasure[[2]string{rows[i].Key, "overrun"}], 0.5, 0.9); p != nil {
			rows[i].OverP50, rows[i].OverP90 = &p[0], &p[1]
		}
	}
	byKey := make(map[string]milestoneRow, len(rows))
	for _, r := range rows {
		byKey[r.Key] = r
	}
	// Every milestone of the definitions, in their order, then keys only the states know.
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n.Key] = true
		r := byKey[n.Key]
		r.Key, r.Position = n.Key, n.Position
		rep.Milestones = append(rep.Milestones, toMilestone(r, n.Name))
	}
	var extra []milestoneRow
	for _, r := range rows {
		if !seen[r.Key] {
			pos, err := keyPosition(ctx, idb, t, q, r.Key)
			if err != nil {
				return err
			}
			r.Position = pos
			extra = append(extra, r)
		}
	}
	slices.SortFunc(extra, func(a, b milestoneRow) int {
		if a.Position != b.Position {
			return a.Position - b.Position
		}
		return cmp.Compare(a.Key, b.Key)
	})
	for _, r := range extra {
		rep.Milestones = append(rep.Milestones, toMilestone(r, r.Key))
	}
	return nil
}

// keyPosition is the smallest position a milestone key no definition names has in q's range;
// such keys are rare (only rows written outside the engine), so one lookup each is fine.
func keyPosition(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, key string) (int, error) {
	var pos int
	err := idb.NewRaw(`SELECT coalesce(min(ms.position), 0) FROM journey_milestone_states ms WHERE `+rangeSQL("ms")+` AND ms.milestone_key = ?`,
		append(rangeArgs(t, q), key)...).Scan(ctx, &pos)
	if err != nil {
		return 0, mapErr("find milestone position", err)
	}
	return pos, nil
}

func toMilestone(r milestoneRow, name string) Milestone {
	m := Milestone{
		Key: r.Key, Name: name, Position: r.Position,
		Entered: r.Entered, Completed: r.Completed, Skipped: r.Skipped, EverBehind: r.EverBehind,
		DurationMedian: seconds(r.DurP50), DurationP90: seconds(r.DurP90),
		OverrunMedian: seconds(r.OverP50), OverrunP90: seconds(r.OverP90),
	}
	if r.Entered > 0 {
		m.BehindShare = float64(r.EverBehind) / float64(r.Entered)
	}
	return m
}

// seconds turns a number of seconds into a duration, rounded to the microsecond PostgreSQL
// stores.
func seconds(s *float64) *time.Duration {
	if s == nil {
		return nil
	}
	d := time.Duration(*s * float64(time.Second)).Round(time.Microsecond)
	return &d
}

// currentFigures counts the live enrolments' started, unfinished milestones by milestone and
// status. The partial index journey_milestone_states_live_idx holds exactly those rows; the
// join keeps the live enrolments (a cancelled or completed enrolment's open rows do not count).
func currentFigures(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, rep *Report) error {
	var rows []struct {
		Key     string `bun:"milestone_key"`
		Status  string `bun:"status"`
		Count   int    `bun:"n"`
		Stalled int    `bun:"stalled"`
	}
	err := idb.NewRaw(`
		SELECT ms.milestone_key, ms.status, count(*) AS n,
		       count(*) FILTER (WHERE e.status = 'STALLED') AS stalled
		FROM journey_milestone_states ms
		JOIN journey_enrollments e ON e.workspace_id = ms.workspace_id AND e.id = ms.enrollment_id
		WHERE `+rangeSQL("ms")+`
		  AND ms.status IN ('ON_TRACK', 'AT_RISK', 'BEHIND')
		  AND e.workspace_id = ? AND e.journey_id = ? AND e.status IN ('ACTIVE', 'STALLED')
		GROUP BY ms.milestone_key, ms.status`,
		append(rangeArgs(t, q), t.WorkspaceID, q.JourneyID)...).Scan(ctx, &rows)
	if err != nil {
		return mapErr("count current milestones", err)
	}
	order := milestoneOrder(rep)
	for _, r := range rows {
		rep.Current = append(rep.Current, Current{MilestoneKey: r.Key, Status: r.Status, Count: r.Count, Stalled: r.Stalled})
	}
	slices.SortFunc(rep.Current, func(a, b Current) int {
		if oa, ob := order(a.MilestoneKey), order(b.MilestoneKey); oa != ob {
			return oa - ob
		}
		return statusRank(a.Status) - statusRank(b.Status)
	})
	return nil
}

// milestoneOrder returns a function giving a milestone key's index in rep.Milestones (keys not
// there sort last).
func milestoneOrder(rep *Report) func(string) int {
	idx := make(map[string]int, len(rep.Milestones))
	for i, m := range rep.Milestones {
		idx[m.Key] = i
	}
	return func(key string) int {
		if i, ok := idx[key]; ok {
			return i
		}
		return len(idx)
	}
}

func statusRank(s string) int {
	return slices.Index([]string{StatusNotStarted, StatusOnTrack, StatusAtRisk, StatusBehind, StatusDone, StatusSkipped}, s)
}

// overdueFigures counts the covered enrolments' overdue tasks by team role and by assignee in
// one statement (GROUPING SETS). Overdue is as the task package says: OPEN, or SNOOZED with the
// snooze run out, and due before now.
func overdueFigures(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, rep *Report) error {
	var rows []struct {
		ByRole   bool       `bun:"by_role"`
		ID       *uuid.UUID `bun:"id"`
		Count    int        `bun:"n"`
		Assignee *uuid.UUID `bun:"assignee_id"`
	}
	// Most overdue tasks belong to live enrolments: those are hash-joined from the small
	// partial index of live enrolments (journey_enrollments_live_range_idx); only the tasks of
	// finished enrolments probe theirs (an index-only lookup in
	// journey_enrollments_range_probe_idx). Reading every enrolment of a long range to join a
	// few tens of thousands of tasks would cost far more.
	args := []any{t.WorkspaceID, q.Now, q.Now, q.JourneyID, q.From, q.To, q.Version, q.Version, t.WorkspaceID}
	args = append(args, rangeArgs(t, q)...)
	err := idb.NewRaw(`
		WITH od AS MATERIALIZED (
		    SELECT ss.enrollment_id, tk.team_role_id, tk.assignee_id
		    FROM tasks tk
		    JOIN journey_step_states ss ON ss.workspace_id = tk.workspace_id AND ss.task_id = tk.id
		    WHERE tk.workspace_id = ?
		      AND tk.status IN ('OPEN', 'SNOOZED') AND tk.due_at IS NOT NULL
		      AND (tk.status = 'OPEN' OR tk.snoozed_until <= ?)
		      AND tk.due_at < ?
		      AND tk.source_kind = 'JOURNEY'
		), live AS MATERIALIZED (
		    SELECT e.id,
		           e.journey_id = ? AND e.enrolled_at >= ? AND e.enrolled_at < ? AND (?::int IS NULL OR e.version = ?::int) AS covered
		    FROM journey_enrollments e
		    WHERE e.workspace_id = ? AND e.status IN ('ACTIVE', 'STALLED')
		), tk AS (
		    SELECT od.team_role_id, od.assignee_id FROM od JOIN live ON live.id = od.enrollment_id WHERE live.covered
		    UNION ALL
		    SELECT od.team_role_id, od.assignee_id FROM od
		    CROSS JOIN LATERAL (
		        SELECT 1 FROM journey_enrollments e
		        WHERE e.id = od.enrollment_id AND `+rangeSQL("e")+` AND e.status NOT IN ('ACTIVE', 'STALLED')
		        LIMIT 1
		    ) e
		    WHERE NOT EXISTS (SELECT 1 FROM live WHERE live.id = od.enrollment_id)
		)
		SELECT GROUPING(tk.team_role_id) = 0 AS by_role,
		       CASE WHEN GROUPING(tk.team_role_id) = 0 THEN tk.team_role_id ELSE tk.assignee_id END AS id,
		       count(*) AS n
		FROM tk
		GROUP BY GROUPING SETS ((tk.team_role_id), (tk.assignee_id))
		ORDER BY 1 DESC, n DESC, 2 NULLS LAST`, args...).Scan(ctx, &rows)
	if err != nil {
		return mapErr("count overdue journey tasks", err)
	}
	for _, r := range rows {
		g := OverdueGroup{ID: r.ID, Count: r.Count}
		if r.ByRole {
			rep.OverdueByTeamRole = append(rep.OverdueByTeamRole, g)
		} else {
			rep.OverdueByAssignee = append(rep.OverdueByAssignee, g)
		}
	}
	return nil
}

// cohortFigures groups the covered enrolments by month of enrolment (UTC): the counts of the
// range's whole days from journey_cohort_daily plus the partial days' enrolments, the medians
// from the days-to-complete histograms (hist).
func cohortFigures(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, s span, hist []histogramRow, rep *Report) error {
	var rows []struct {
		Month     time.Time `bun:"month"`
		Enrolled  int       `bun:"enrolled"`
		Completed int       `bun:"completed"`
		Active    int       `bun:"active"`
		Stalled   int       `bun:"stalled"`
		Cancelled int       `bun:"cancelled"`
	}
	exact, exactArgs := exactSQL(`(date_trunc('month', a.enrolled_at, 'UTC') AT TIME ZONE 'UTC')::date, 1,
		(a.status = 'COMPLETED')::int, (a.status = 'ACTIVE')::int, (a.status = 'STALLED')::int, (a.status = 'CANCELLED')::int`,
		`journey_enrollments`, ``, t, q, s)
	args := []any{t.WorkspaceID, q.JourneyID, q.Version, q.Version, dateArg(s.DayFrom), dateArg(s.DayTo)}
	err := idb.NewRaw(`
		SELECT month, sum(enrolled)::int AS enrolled, sum(completed)::int AS completed, sum(active)::int AS active,
		       sum(stalled)::int AS stalled, sum(cancelled)::int AS cancelled
		FROM (
		    SELECT date_trunc('month', c.enrolled_on::timestamp)::date AS month,
		           c.enrolled, c.completed, c.active, c.stalled, c.cancelled
		    FROM journey_cohort_daily c
		    WHERE c.workspace_id = ? AND c.journey_id = ? AND (?::int IS NULL OR c.version = ?::int)
		      AND c.enrolled_on >= ?::date AND c.enrolled_on < ?::date
		    UNION ALL
		    `+exact+`
		) x
		GROUP BY month
		HAVING sum(enrolled) <> 0
		ORDER BY month`, append(args, exactArgs...)...).Scan(ctx, &rows)
	if err != nil {
		return mapErr("group enrolment cohorts", err)
	}
	byMonth := map[time.Time][]bucketCount{}
	for _, h := range hist {
		if h.Measure == "to_complete" && h.Month != nil {
			m := h.Month.UTC()
			byMonth[m] = append(byMonth[m], bucketCount{Bucket: h.Bucket, N: h.N})
		}
	}
	for _, r := range rows {
		month := r.Month.UTC()
		c := Cohort{
			Month: month, Enrolled: r.Enrolled, Completed: r.Completed, Active: r.Active,
			Stalled: r.Stalled, Cancelled: r.Cancelled,
		}
		if p := percentiles(byMonth[month], 0.5); p != nil {
			days := p[0] / 86400
			c.MedianDaysToComplete = &days
		}
		rep.Enrollments += r.Enrolled
		rep.Cohorts = append(rep.Cohorts, c)
	}
	return nil
}

// roadblocks ranks the milestones where live enrolments are stuck: by stuck enrolments (behind
// or stalled, each once), then median overrun (a known overrun before none), then position.
func roadblocks(rep *Report) []Roadblock {
	type counts struct{ behind, stalled, stuck int }
	by := map[string]*counts{}
	for _, c := range rep.Current {
		n := by[c.MilestoneKey]
		if n == nil {
			n = &counts{}
			by[c.MilestoneKey] = n
		}
		n.stalled += c.Stalled
		if c.Status == StatusBehind {
			n.behind += c.Count
			n.stuck += c.Count
		} else {
			n.stuck += c.Stalled
		}
	}
	var out []Roadblock
	for _, m := range rep.Milestones {
		n := by[m.Key]
		if n == nil || n.stuck == 0 {
			continue
		}
		out = append(out, Roadblock{MilestoneKey: m.Key, Name: m.Name, Behind: n.behind, Stalled: n.stalled, Stuck: n.stuck, MedianOverrun: m.OverrunMedian})
	}
	// A stable sort keeps milestone order among equals.
	slices.SortStableFunc(out, func(a, b Roadblock) int {
		if a.Stuck != b.Stuck {
			return b.Stuck - a.Stuck
		}
		switch {
		case a.MedianOverrun == nil && b.MedianOverrun == nil:
			return 0
		case a.MedianOverrun == nil:
			return 1
		case b.MedianOverrun == nil:
			return -1
		}
		return cmp.Compare(*b.MedianOverrun, *a.MedianOverrun)
	})
	return out
}

// mapErr names the operation and turns a missing row into db.ErrNotFound.
func mapErr(op string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, db.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", op, err)
}
