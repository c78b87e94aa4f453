package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db/dbtest"
)

// rollupSnapshot reads the workspace's rollup rows that hold something, as text, in key order.
func rollupSnapshot(t *testing.T, idb bun.IDB, f *fixture) []string {
	t.Helper()
	var out []string
	err := idb.NewRaw(`
		SELECT x::text FROM (
		    SELECT 'm', journey_id, enrolled_on, version, milestone_key, shard, entered, completed, skipped, ever_behind
		    FROM journey_milestone_daily
		    WHERE workspace_id = ? AND (entered, completed, skipped, ever_behind) <> (0, 0, 0, 0)
		    UNION ALL
		    SELECT 'c', journey_id, enrolled_on, version, '', shard, enrolled, completed, active, stalled * 1000 + cancelled
		    FROM journey_cohort_daily
		    WHERE workspace_id = ? AND (enrolled, completed, active, stalled, cancelled) <> (0, 0, 0, 0, 0)
		    UNION ALL
		    SELECT 'hd', journey_id, enrolled_on, version, milestone_key || '/' || measure, bucket, n, 0, 0, 0
		    FROM journey_histogram_daily WHERE workspace_id = ? AND n <> 0
		    UNION ALL
		    SELECT 'hm', journey_id, enrolled_month, version, milestone_key || '/' || measure, bucket, n, 0, 0, 0
		    FROM journey_histogram_monthly WHERE workspace_id = ? AND n <> 0
		) x
		ORDER BY 1`, f.tenant.WorkspaceID, f.tenant.WorkspaceID, f.tenant.WorkspaceID, f.tenant.WorkspaceID).Scan(f.ctx, &out)
	require.NoError(t, err)
	return out
}

// recomputedSnapshot is rollupSnapshot recomputed from the base rows, as the migration's
// backfill does.
func recomputedSnapshot(t *testing.T, f *fixture) []string {
	t.Helper()
	var out []string
	err := f.db.NewRaw(`
		WITH hd AS (
		    SELECT ms.journey_id, (ms.enrolled_at AT TIME ZONE 'UTC')::date AS enrolled_on, ms.version,
		           ms.milestone_key || '/' || m.measure AS k, m.bucket, count(*)::int AS n
		    FROM journey_milestone_states ms
		    CROSS JOIN LATERAL (VALUES
		        ('duration', journey_rollup_bucket(date_part('epoch', ms.completed_at - ms.started_at))),
		        ('overrun', CASE WHEN ms.due_at IS NOT NULL THEN journey_rollup_bucket(date_part('epoch', ms.completed_at - ms.due_at)) END)
		    ) m (measure, bucket)
		    WHERE ms.workspace_id = ? AND ms.status = 'DONE' AND m.bucket IS NOT NULL
		    GROUP BY 1, 2, 3, 4, 5
		    UNION ALL
		    SELECT journey_id, (enrolled_at AT TIME ZONE 'UTC')::date, version, '/to_complete',
		           journey_rollup_bucket(date_part('epoch', completed_at - enrolled_at)), count(*)::int
		    FROM journey_enrollments
		    WHERE workspace_id = ? AND status = 'COMPLETED'
		    GROUP BY 1, 2, 3, 4, 5
		)
		SELECT x::text FROM (
		    SELECT * FROM (
		        SELECT 'm', journey_id, (enrolled_at AT TIME ZONE 'UTC')::date AS d, version, milestone_key,
		               (hashtext(enrollment_id::text) & 15)::smallint AS shard,
		               count(*) FILTER (WHERE started_at IS NOT NULL)::int AS a, count(*) FILTER (WHERE status = 'DONE')::int AS b,
		               count(*) FILTER (WHERE status = 'SKIPPED')::int AS c, count(*) FILTER (WHERE behind_at IS NOT NULL)::int AS e
		        FROM journey_milestone_states WHERE workspace_id = ?
		        GROUP BY 1, 2, 3, 4, 5, 6
		    ) m WHERE (a, b, c, e) <> (0, 0, 0, 0)
		    UNION ALL
		    SELECT 'c', journey_id, (enrolled_at AT TIME ZONE 'UTC')::date, version, '', (hashtext(id::text) & 15)::smallint,
		           count(*)::int, count(*) FILTER (WHERE status = 'COMPLETED')::int, count(*) FILTER (WHERE status = 'ACTIVE')::int,
		           (count(*) FILTER (WHERE status = 'STALLED') * 1000 + count(*) FILTER (WHERE status = 'CANCELLED'))::int
		    FROM journey_enrollments WHERE workspace_id = ?
		    GROUP BY 1, 2, 3, 4, 5, 6
		    UNION ALL
		    SELECT 'hd', journey_id, enrolled_on, version, k, bucket, n, 0, 0, 0 FROM hd
		    UNION ALL
		    SELECT 'hm', journey_id, date_trunc('month', enrolled_on::timestamp)::date, version, k, bucket, sum(n)::int, 0, 0, 0
		    FROM hd GROUP BY 1, 2, 3, 4, 5, 6
		) x
		ORDER BY 1`, f.tenant.WorkspaceID, f.tenant.WorkspaceID, f.tenant.WorkspaceID, f.tenant.WorkspaceID).Scan(f.ctx, &out)
	require.NoError(t, err)
	return out
}

// churn is a random journey history written the way the engine and the API change rows: one
// row or many per statement, several statements per transaction.
type churn struct {
	f        *fixture
	r        *rand.Rand
	journey  uuid.UUID
	versions [][]fxMilestone
	enrs     []churnEnrollment
}

type churnEnrollment struct {
	id, account uuid.UUID
	version     int
	enrolled    time.Time
}

// when is a random instant of the first quarter of 2026, on a day boundary one time in five.
func (c *churn) when() time.Time {
	d := at(c.f.t, "2026-01-01 00:00").Add(time.Duration(c.r.IntN(90)) * day)
	if c.r.IntN(5) == 0 {
		return d
	}
	return d.Add(time.Duration(c.r.IntN(24*60)) * time.Minute)
}

// span is a random duration: zero, under a minute, or minutes to weeks.
func (c *churn) span() time.Duration {
	switch c.r.IntN(10) {
	case 0:
		return 0
	case 1:
		return time.Duration(1+c.r.IntN(59)) * time.Second
	}
	return time.Duration(1+c.r.IntN(20*24*60)) * time.Minute
}

// enroll inserts an enrolment and its milestones, the milestones in one statement.
func (c *churn) enroll() {
	v := 1 + c.r.IntN(len(c.versions))
	e := churnEnrollment{id: uuid.New(), account: c.f.account(), version: v, enrolled: c.when()}
	c.f.exec(`INSERT INTO journey_enrollments (workspace_id, id, journey_id, version, account_id, status, source, enrolled_at, last_progress_at)
		VALUES (?, ?, ?, ?, ?, 'ACTIVE', 'MANUAL', ?, ?)`, c.f.tenant.WorkspaceID, e.id, c.journey, v, e.account, e.enrolled, e.enrolled)
	c.f.exec(`INSERT INTO journey_milestone_states (workspace_id, enrollment_id, milestone_key, journey_id, version, account_id, enrolled_at, position)
		SELECT ?, ?, m.key, ?, ?, ?, ?, m.ord FROM unnest(?::text[]) WITH ORDINALITY AS m (key, ord)`,
		c.f.tenant.WorkspaceID, e.id, c.journey, v, e.account, e.enrolled, pgStrings(c.keys(v)))
	c.enrs = append(c.enrs, e)
}

func (c *churn) keys(v int) []string {
	var out []string
	for _, m := range c.versions[v-1] {
		out = append(out, m.Key)
	}
	return out
}

func pgStrings(s []string) string {
	out := "{"
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += `"` + v + `"`
	}
	return out + "}"
}

func (c *churn) pick() churnEnrollment { return c.enrs[c.r.IntN(len(c.enrs))] }

// moveMilestone sets one milestone of a random enrolment to a random status, keeping the
// table's checks (a started milestone keeps its start and due time).
func (c *churn) moveMilestone() {
	e := c.pick()
	keys := c.keys(e.version)
	key := keys[c.r.IntN(len(keys))]
	start := e.enrolled.Add(c.span())
	due := start.Add(c.span())
	var dueArg *time.Time
	if c.r.IntN(4) > 0 {
		dueArg = &due
	}
	end := c.span()
	switch status := []string{"NOT_STARTED", "ON_TRACK", "AT_RISK", "BEHIND", "DONE", "DONE", "SKIPPED"}[c.r.IntN(7)]; status {
	case "NOT_STARTED":
		c.f.exec(`UPDATE journey_milestone_states SET status = 'NOT_STARTED', started_at = NULL, due_at = NULL, behind_at = NULL,
			completed_at = NULL, skipped_at = NULL WHERE workspace_id = ? AND enrollment_id = ? AND milestone_key = ?`,
			c.f.tenant.WorkspaceID, e.id, key)
	case "SKIPPED":
		c.f.exec(`UPDATE journey_milestone_states SET status = 'SKIPPED', completed_at = NULL, skipped_at = ?
			WHERE workspace_id = ? AND enrollment_id = ? AND milestone_key = ?`, start, c.f.tenant.WorkspaceID, e.id, key)
	default:
		behind := status == "BEHIND" || (status == "DONE" && c.r.IntN(3) == 0)
		c.f.exec(`UPDATE journey_milestone_states SET status = ?, started_at = coalesce(started_at, ?), due_at = coalesce(due_at, ?),
			behind_at = CASE WHEN ? THEN coalesce(behind_at, due_at, ?) ELSE behind_at END,
			completed_at = CASE WHEN ? = 'DONE' THEN coalesce(started_at, ?) + ?::interval END, skipped_at = NULL
			WHERE workspace_id = ? AND enrollment_id = ? AND milestone_key = ?`,
			status, start, dueArg, behind, due, status, start, fmt.Sprintf("%d microseconds", end.Microseconds()),
			c.f.tenant.WorkspaceID, e.id, key)
	}
}

// moveEnrollment sets a random enrolment's status (its end time with it).
func (c *churn) moveEnrollment() {
	e := c.pick()
	end := e.enrolled.Add(c.span() * 3)
	switch status := []string{"ACTIVE", "STALLED", "COMPLETED", "COMPLETED", "CANCELLED"}[c.r.IntN(5)]; status {
	case "COMPLETED":
		c.f.exec(`UPDATE journey_enrollments SET status = 'COMPLETED', completed_at = ?, cancelled_at = NULL WHERE workspace_id = ? AND id = ?`,
			end, c.f.tenant.WorkspaceID, e.id)
	case "CANCELLED":
		c.f.exec(`UPDATE journey_enrollments SET status = 'CANCELLED', cancelled_at = ?, completed_at = NULL WHERE workspace_id = ? AND id = ?`,
			end, c.f.tenant.WorkspaceID, e.id)
	default:
		c.f.exec(`UPDATE journey_enrollments SET status = ?, completed_at = NULL, cancelled_at = NULL WHERE workspace_id = ? AND id = ?`,
			status, c.f.tenant.WorkspaceID, e.id)
	}
}

// migrate moves a random enrolment to another version in one transaction: the enrolment, its
// kept milestones, the milestones the new version drops (deleted) and adds (inserted).
func (c *churn) migrate() {
	i := c.r.IntN(len(c.enrs))
	e := c.enrs[i]
	to := 1 + c.r.IntN(len(c.versions))
	err := c.f.db.RunInTx(c.f.ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		ws := c.f.tenant.WorkspaceID
		if _, err := tx.NewRaw(`UPDATE journey_enrollments SET version = ? WHERE workspace_id = ? AND id = ?`, to, ws, e.id).Exec(ctx); err != nil {
			return err
		}
		keys := pgStrings(c.keys(to))
		if _, err := tx.NewRaw(`DELETE FROM journey_milestone_states WHERE workspace_id = ? AND enrollment_id = ? AND NOT milestone_key = ANY(?::text[])`,
			ws, e.id, keys).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewRaw(`UPDATE journey_milestone_states SET version = ? WHERE workspace_id = ? AND enrollment_id = ?`, to, ws, e.id).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewRaw(`INSERT INTO journey_milestone_states (workspace_id, enrollment_id, milestone_key, journey_id, version, account_id, enrolled_at, position)
			SELECT ?, ?, m.key, ?, ?, ?, ?, m.ord FROM unnest(?::text[]) WITH ORDINALITY AS m (key, ord)
			ON CONFLICT DO NOTHING`, ws, e.id, c.journey, to, e.account, e.enrolled, keys).Exec(ctx)
		return err
	})
	require.NoError(c.f.t, err)
	c.enrs[i].version = to
}

// bulk moves many rows in one statement: a share of the started milestones to BEHIND, and a
// no-op for the rollup (the status job's re-check time).
func (c *churn) bulk() {
	c.f.exec(`UPDATE journey_milestone_states SET status = 'BEHIND', behind_at = coalesce(behind_at, due_at, started_at)
		WHERE workspace_id = ? AND status IN ('ON_TRACK', 'AT_RISK') AND random() < 0.4`, c.f.tenant.WorkspaceID)
	c.f.exec(`UPDATE journey_milestone_states SET next_check_at = now() WHERE workspace_id = ? AND random() < 0.5`, c.f.tenant.WorkspaceID)
}

// deleteAccount deletes a random enrolment's account: the enrolment and its milestones go by
// cascade.
func (c *churn) deleteAccount() {
	i := c.r.IntN(len(c.enrs))
	c.f.exec(`DELETE FROM accounts WHERE workspace_id = ? AND id = ?`, c.f.tenant.WorkspaceID, c.enrs[i].account)
	c.enrs = append(c.enrs[:i], c.enrs[i+1:]...)
}

func newChurn(t *testing.T, seed uint64) *churn {
	f := newFixture(t, dbtest.DB(t).Bun, "Rollup")
	c := &churn{f: f, r: rand.New(rand.NewPCG(seed, seed))}
	c.versions = [][]fxMilestone{
		{{Key: "kickoff", Name: "Kickoff"}, {Key: "setup", Name: "Setup"}, {Key: "golive", Name: "Go-live"}},
		{{Key: "kickoff", Name: "Kickoff"}, {Key: "setup", Name: "Setup"}, {Key: "training", Name: "Training"}, {Key: "golive", Name: "Go-live"}},
	}
	c.journey = f.journey(uuid.Nil, c.versions...)
	return c
}

// step applies one random change.
func (c *churn) step() {
	switch n := c.r.IntN(100); {
	case n < 20 || len(c.enrs) < 5:
		c.enroll()
	case n < 60:
		c.moveMilestone()
	case n < 78:
		c.moveEnrollment()
	case n < 88:
		c.migrate()
	case n < 94:
		c.bulk()
	default:
		c.deleteAccount()
	}
}

func TestRollupMatchesRecomputation(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	c := newChurn(t, seed)
	for i := range 400 {
		c.step()
		if i%100 == 99 {
			require.Equal(t, recomputedSnapshot(t, c.f), rollupSnapshot(t, c.f.db, c.f), "after %d changes", i+1)
		}
	}
	require.NotEmpty(t, rollupSnapshot(t, c.f.db, c.f))

	// Reports over random ranges, on day boundaries or not, agree with the exact figures.
	for range 8 {
		from := c.when()
		to := from.Add(time.Duration(1+c.r.IntN(60*24*60)) * time.Minute)
		var version *int
		if c.r.IntN(3) == 0 {
			version = new(1 + c.r.IntN(2))
		}
		q := Query{JourneyID: c.journey, Version: version, From: from, To: to, Now: to}
		rep, err := Roadblocks(c.f.ctx, c.f.db, c.f.tenant, q)
		require.NoError(t, err)
		want := exactReport(t, c.f, q)
		requireCohorts(t, want.Cohorts, rep.Cohorts)
		require.Equal(t, want.Enrollments, rep.Enrollments)
		var got []Milestone
		for _, m := range rep.Milestones {
			if m.Entered+m.Completed+m.Skipped+m.EverBehind > 0 {
				got = append(got, m)
			}
		}
		requireMilestones(t, want.Milestones, got)
	}
}

// exactReport computes the milestone and cohort figures of q from the base rows with
// percentile_cont, as the report did before the rollup; milestones in key order with
// Name and Position as the report gives them.
func exactReport(t *testing.T, f *fixture, q Query) *Report {
	t.Helper()
	rep := &Report{}
	var ms []struct {
		Key        string    `bun:"milestone_key"`
		Entered    int       `bun:"entered"`
		Completed  int       `bun:"completed"`
		Skipped    int       `bun:"skipped"`
		EverBehind int       `bun:"ever_behind"`
		Dur        []float64 `bun:"dur,array"`
		Over       []float64 `bun:"over,array"`
	}
	err := f.db.NewRaw(`
		SELECT ms.milestone_key,
		       count(*) FILTER (WHERE ms.started_at IS NOT NULL) AS entered,
		       count(*) FILTER (WHERE ms.status = 'DONE') AS completed,
		       count(*) FILTER (WHERE ms.status = 'SKIPPED') AS skipped,
		       count(*) FILTER (WHERE ms.behind_at IS NOT NULL) AS ever_behind,
		       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY date_part('epoch', ms.completed_at - ms.started_at))
		           FILTER (WHERE ms.status = 'DONE') AS dur,
		       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY greatest(date_part('epoch', ms.completed_at - ms.due_at), 0))
		           FILTER (WHERE ms.status = 'DONE' AND ms.due_at IS NOT NULL) AS over
		FROM journey_milestone_states ms
		WHERE `+rangeSQL("ms")+`
		GROUP BY 1
		HAVING count(*) FILTER (WHERE ms.started_at IS NOT NULL OR ms.status = 'SKIPPED' OR ms.behind_at IS NOT NULL) > 0`,
		rangeArgs(f.tenant, q)...).Scan(f.ctx, &ms)
	require.NoError(t, err)
	names, err := milestoneNames(f.ctx, f.db, f.tenant, q.JourneyID, q.Version)
	require.NoError(t, err)
	for _, n := range names {
		for _, m := range ms {
			if m.Key != n.Key {
				continue
			}
			r := milestoneRow{Key: m.Key, Position: n.Position, Entered: m.Entered, Completed: m.Completed, Skipped: m.Skipped, EverBehind: m.EverBehind}
			if len(m.Dur) == 2 {
				r.DurP50, r.DurP90 = &m.Dur[0], &m.Dur[1]
			}
			if len(m.Over) == 2 {
				r.OverP50, r.OverP90 = &m.Over[0], &m.Over[1]
			}
			rep.Milestones = append(rep.Milestones, toMilestone(r, n.Name))
		}
	}
	var cs []struct {
		Month     time.Time `bun:"month"`
		Enrolled  int       `bun:"enrolled"`
		Completed int       `bun:"completed"`
		Active    int       `bun:"active"`
		Stalled   int       `bun:"stalled"`
		Cancelled int       `bun:"cancelled"`
		Median    *float64  `bun:"median_days"`
	}
	err = f.db.NewRaw(`
		SELECT date_trunc('month', e.enrolled_at, 'UTC') AS month, count(*) AS enrolled,
		       count(*) FILTER (WHERE e.status = 'COMPLETED') AS completed, count(*) FILTER (WHERE e.status = 'ACTIVE') AS active,
		       count(*) FILTER (WHERE e.status = 'STALLED') AS stalled, count(*) FILTER (WHERE e.status = 'CANCELLED') AS cancelled,
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY date_part('epoch', e.completed_at - e.enrolled_at) / 86400)
		           FILTER (WHERE e.status = 'COMPLETED') AS median_days
		FROM journey_enrollments e WHERE `+rangeSQL("e")+` GROUP BY 1 ORDER BY 1`, rangeArgs(f.tenant, q)...).Scan(f.ctx, &cs)
	require.NoError(t, err)
	for _, c := range cs {
		rep.Enrollments += c.Enrolled
		rep.Cohorts = append(rep.Cohorts, Cohort{Month: c.Month.UTC(), Enrolled: c.Enrolled, Completed: c.Completed,
			Active: c.Active, Stalled: c.Stalled, Cancelled: c.Cancelled, MedianDaysToComplete: c.Median})
	}
	return rep
}

func TestRollupUnchangedByRolledBackTransaction(t *testing.T) {
	t.Parallel()
	c := newChurn(t, 42)
	for range 60 {
		c.step()
	}
	before := rollupSnapshot(t, c.f.db, c.f)
	require.NotEmpty(t, before)

	tx, err := c.f.db.BeginTx(c.f.ctx, nil)
	require.NoError(t, err)
	ws := c.f.tenant.WorkspaceID
	_, err = tx.NewRaw(`UPDATE journey_milestone_states SET status = 'DONE', started_at = coalesce(started_at, enrolled_at),
		completed_at = coalesce(started_at, enrolled_at) + interval '3 days', skipped_at = NULL WHERE workspace_id = ?`, ws).Exec(c.f.ctx)
	require.NoError(t, err)
	_, err = tx.NewRaw(`UPDATE journey_enrollments SET status = 'COMPLETED', completed_at = enrolled_at + interval '9 days', cancelled_at = NULL
		WHERE workspace_id = ?`, ws).Exec(c.f.ctx)
	require.NoError(t, err)
	_, err = tx.NewRaw(`DELETE FROM accounts WHERE workspace_id = ? AND id = ?`, ws, c.enrs[0].account).Exec(c.f.ctx)
	require.NoError(t, err)
	require.NotEqual(t, before, rollupSnapshot(t, tx, c.f), "the triggers write the rollup inside the transaction")
	require.NoError(t, tx.Rollback())

	require.Equal(t, before, rollupSnapshot(t, c.f.db, c.f))
	require.Equal(t, recomputedSnapshot(t, c.f), before)
}
