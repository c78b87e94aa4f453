// Package analytics answers where accounts get stuck in a journey: the roadblock report of one
// journey (a version or all) over a range of enrolment dates, and one account's progress as a
// timeline. It is read-only SQL over the journey tables (journey_enrollments,
// journey_milestone_states, journey_step_states) and tasks, computed in a handful of
// statements with FILTER, GROUPING SETS and percentile_cont; milestone names come from the
// versions' definition JSON (definition -> 'milestones' -> [{key, name, ...}]), so the
// package depends on no journey engine code.
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
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// MaxRange is the longest enrolment date range one report covers: three years of monthly
// cohorts. Longer ranges are bad input rather than slow queries.
const MaxRange = 3 * 366 * 24 * time.Hour

// workMem is the sort memory of a report's transaction: the percentiles sort every completed
// milestone's duration, and PostgreSQL's 4 MB default would spill them to disk.
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
// of enrolments (an account enrolled twice counts twice); durations are exact percentiles
// (percentile_cont, interpolated) over the completed milestones.
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
// It runs six statements; run it in a read-only repeatable-read transaction (Service does) for
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
	if err := milestoneFigures(ctx, idb, t, q, names, rep); err != nil {
		return nil, err
	}
	if err := currentFigures(ctx, idb, t, q, rep); err != nil {
		return nil, err
	}
	if err := overdueFigures(ctx, idb, t, q, rep); err != nil {
		return nil, err
	}
	if err := cohortFigures(ctx, idb, t, q, rep); err != nil {
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

// milestoneRow is one milestone's aggregate over journey_milestone_states.
type milestoneRow struct {
	Key        string   `bun:"milestone_key"`
	Position   int      `bun:"position"`
	Entered    int      `bun:"entered"`
	Completed  int      `bun:"completed"`
	Skipped    int      `bun:"skipped"`
	EverBehind int      `bun:"ever_behind"`
	DurP50     *float64 `bun:"-"`
	DurP90     *float64 `bun:"-"`
	OverP50    *float64 `bun:"-"`
	OverP90    *float64 `bun:"-"`
}

// milestoneFigures fills the funnel, behind share and time in milestone in two statements:
// the counts over every covered milestone row (a hash aggregate that PostgreSQL can run in
// parallel workers), then the percentiles over the completed rows only, which must be sorted
// (ordered-set aggregates neither hash nor run in parallel). Both percentiles of a measure come
// from one sort (percentile_cont over an array of fractions).
func milestoneFigures(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, names []milestoneName, rep *Report) error {
	var rows []milestoneRow
	err := idb.NewRaw(`
		SELECT ms.milestone_key,
		       min(ms.position) AS position,
		       count(*) FILTER (WHERE ms.started_at IS NOT NULL) AS entered,
		       count(*) FILTER (WHERE ms.status = 'DONE') AS completed,
		       count(*) FILTER (WHERE ms.status = 'SKIPPED') AS skipped,
		       count(*) FILTER (WHERE ms.behind_at IS NOT NULL) AS ever_behind
		FROM journey_milestone_states ms
		WHERE `+rangeSQL("ms")+`
		GROUP BY ms.milestone_key`, rangeArgs(t, q)...).Scan(ctx, &rows)
	if err != nil {
		return mapErr("count milestones", err)
	}
	var pcts []struct {
		Key  string    `bun:"milestone_key"`
		Dur  []float64 `bun:"dur,array"`
		Over []float64 `bun:"over,array"`
	}
	err = idb.NewRaw(`
		SELECT ms.milestone_key,
		       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', ms.completed_at - ms.started_at)) AS dur,
		       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY greatest(date_part('epoch', ms.completed_at - ms.due_at), 0))
		           FILTER (WHERE ms.due_at IS NOT NULL) AS over
		FROM journey_milestone_states ms
		WHERE `+rangeSQL("ms")+` AND ms.status = 'DONE'
		GROUP BY ms.milestone_key`, rangeArgs(t, q)...).Scan(ctx, &pcts)
	if err != nil {
		return mapErr("time milestones", err)
	}
	for _, p := range pcts {
		i := slices.IndexFunc(rows, func(r milestoneRow) bool { return r.Key == p.Key })
		if i < 0 {
			continue // completed after the count: impossible in one snapshot
		}
		if len(p.Dur) == 2 {
			rows[i].DurP50, rows[i].DurP90 = &p.Dur[0], &p.Dur[1]
		}
		if len(p.Over) == 2 {
			rows[i].OverP50, rows[i].OverP90 = &p.Over[0], &p.Over[1]
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
	args := []any{t.WorkspaceID, q.Now, q.Now}
	args = append(args, rangeArgs(t, q)...)
	err := idb.NewRaw(`
		SELECT GROUPING(tk.team_role_id) = 0 AS by_role,
		       CASE WHEN GROUPING(tk.team_role_id) = 0 THEN tk.team_role_id ELSE tk.assignee_id END AS id,
		       count(*) AS n
		FROM tasks tk
		JOIN journey_step_states ss ON ss.workspace_id = tk.workspace_id AND ss.task_id = tk.id
		JOIN journey_enrollments e ON e.workspace_id = ss.workspace_id AND e.id = ss.enrollment_id
		WHERE tk.workspace_id = ?
		  AND tk.status IN ('OPEN', 'SNOOZED') AND tk.due_at IS NOT NULL
		  AND (tk.status = 'OPEN' OR tk.snoozed_until <= ?)
		  AND tk.due_at < ?
		  AND tk.source_kind = 'JOURNEY'
		  AND `+rangeSQL("e")+`
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

// cohortFigures groups the covered enrolments by month of enrolment (UTC).
func cohortFigures(ctx context.Context, idb bun.IDB, t db.Tenant, q Query, rep *Report) error {
	var rows []struct {
		Month     time.Time `bun:"month"`
		Enrolled  int       `bun:"enrolled"`
		Completed int       `bun:"completed"`
		Active    int       `bun:"active"`
		Stalled   int       `bun:"stalled"`
		Cancelled int       `bun:"cancelled"`
		Median    *float64  `bun:"median_days"`
	}
	err := idb.NewRaw(`
		SELECT date_trunc('month', e.enrolled_at, 'UTC') AS month,
		       count(*) AS enrolled,
		       count(*) FILTER (WHERE e.status = 'COMPLETED') AS completed,
		       count(*) FILTER (WHERE e.status = 'ACTIVE') AS active,
		       count(*) FILTER (WHERE e.status = 'STALLED') AS stalled,
		       count(*) FILTER (WHERE e.status = 'CANCELLED') AS cancelled,
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', e.completed_at - e.enrolled_at) / 86400)
		           FILTER (WHERE e.status = 'COMPLETED') AS median_days
		FROM journey_enrollments e
		WHERE `+rangeSQL("e")+`
		GROUP BY 1
		ORDER BY 1`, rangeArgs(t, q)...).Scan(ctx, &rows)
	if err != nil {
		return mapErr("group enrolment cohorts", err)
	}
	for _, r := range rows {
		rep.Enrollments += r.Enrolled
		rep.Cohorts = append(rep.Cohorts, Cohort{
			Month: r.Month.UTC(), Enrolled: r.Enrolled, Completed: r.Completed, Active: r.Active,
			Stalled: r.Stalled, Cancelled: r.Cancelled, MedianDaysToComplete: r.Median,
		})
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
