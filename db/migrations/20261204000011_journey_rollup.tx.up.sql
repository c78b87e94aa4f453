-- The journey rollup: per-day counts and duration histograms of journey_milestone_states and
-- journey_enrollments, kept by statement-level triggers in the transaction of every change, so
-- that the roadblock report (journey/analytics) reads a few thousand rollup rows instead of
-- every milestone of its range. Derived data only: nothing references it, and it can be
-- rebuilt from the base rows (this migration's backfill does exactly that).
--
-- Days are UTC days of enrolled_at. Counts rows are split into 16 shards
-- (hashtext(enrollment_id) & 15) so that concurrent transactions on the same day's enrolments
-- rarely wait on one row; histogram rows are already spread by bucket.

-- journey_rollup_bucket maps a number of seconds to its histogram bucket: 0 holds values <= 0,
-- 1 holds (0 s, 60 s), and b >= 2 holds [60 * 1.02^(b-2), 60 * 1.02^(b-1)): log-spaced buckets
-- 2% wide (about 700 between a minute and two years). Reading a value as its bucket's
-- geometric middle is within 1% of it (30 s below a minute).
CREATE FUNCTION journey_rollup_bucket(seconds double precision) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN seconds <= 0 THEN 0
    WHEN seconds < 60 THEN 1
    ELSE 2 + floor(ln(seconds / 60) / ln(1.02))::int
END;

-- Funnel counts of journey_milestone_states per enrolment day, version, milestone and shard.
CREATE TABLE journey_milestone_daily (
    workspace_id  uuid NOT NULL,
    journey_id    uuid NOT NULL,
    enrolled_on   date NOT NULL,
    version       int NOT NULL,
    milestone_key text NOT NULL,
    shard         smallint NOT NULL,
    -- started_at set; status DONE; status SKIPPED; behind_at set.
    entered       int NOT NULL,
    completed     int NOT NULL,
    skipped       int NOT NULL,
    ever_behind   int NOT NULL,
    PRIMARY KEY (workspace_id, journey_id, enrolled_on, version, milestone_key, shard)
);

-- Status counts of journey_enrollments per enrolment day, version and shard.
CREATE TABLE journey_cohort_daily (
    workspace_id uuid NOT NULL,
    journey_id   uuid NOT NULL,
    enrolled_on  date NOT NULL,
    version      int NOT NULL,
    shard        smallint NOT NULL,
    enrolled     int NOT NULL,
    completed    int NOT NULL,
    active       int NOT NULL,
    stalled      int NOT NULL,
    cancelled    int NOT NULL,
    PRIMARY KEY (workspace_id, journey_id, enrolled_on, version, shard)
);

-- Histograms (count per journey_rollup_bucket) of the completed rows' durations, sparse: a
-- row per bucket that holds values. Measures: 'duration' (a DONE milestone's completed_at -
-- started_at), 'overrun' (its completed_at - due_at, 0 when on time; only with a due_at) and
-- 'to_complete' (a COMPLETED enrolment's completed_at - enrolled_at; milestone_key '').
-- The daily table serves ranges' partial months, the monthly one (enrolled_month: the first
-- day of the UTC month) their whole months, which keeps a two-year report to a few tens of
-- thousands of rows.
CREATE TABLE journey_histogram_daily (
    workspace_id  uuid NOT NULL,
    journey_id    uuid NOT NULL,
    enrolled_on   date NOT NULL,
    version       int NOT NULL,
    milestone_key text NOT NULL,
    measure       text NOT NULL CHECK (measure IN ('duration', 'overrun', 'to_complete')),
    bucket        int NOT NULL,
    n             int NOT NULL,
    PRIMARY KEY (workspace_id, journey_id, enrolled_on, version, milestone_key, measure, bucket)
);
CREATE TABLE journey_histogram_monthly (
    workspace_id   uuid NOT NULL,
    journey_id     uuid NOT NULL,
    enrolled_month date NOT NULL,
    version        int NOT NULL,
    milestone_key  text NOT NULL,
    measure        text NOT NULL CHECK (measure IN ('duration', 'overrun', 'to_complete')),
    bucket         int NOT NULL,
    n              int NOT NULL,
    PRIMARY KEY (workspace_id, journey_id, enrolled_month, version, milestone_key, measure, bucket)
);

-- journey_milestone_rollup applies a statement's changes of journey_milestone_states: the old
-- images' contributions are subtracted and the new ones' added, set-based, in key order (so
-- that concurrent transactions lock rollup rows in the same order). Changes that move no
-- figure (the status job's next_status_at, next_check_at) write nothing.
CREATE FUNCTION journey_milestone_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    olds journey_milestone_states[] := '{}';
    news journey_milestone_states[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT coalesce(array_agg(o), '{}') INTO olds FROM old_rows o;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT coalesce(array_agg(n), '{}') INTO news FROM new_rows n;
    END IF;
    WITH src AS (
        SELECT o.*, -1 AS sign FROM unnest(olds) o
        UNION ALL
        SELECT n.*, 1 FROM unnest(news) n
    ), counts AS (
        SELECT workspace_id, journey_id, (enrolled_at AT TIME ZONE 'UTC')::date AS enrolled_on, version,
               milestone_key, (hashtext(enrollment_id::text) & 15)::smallint AS shard,
               sum(sign) FILTER (WHERE started_at IS NOT NULL) AS entered,
               sum(sign) FILTER (WHERE status = 'DONE') AS completed,
               sum(sign) FILTER (WHERE status = 'SKIPPED') AS skipped,
               sum(sign) FILTER (WHERE behind_at IS NOT NULL) AS ever_behind
        FROM src
        GROUP BY 1, 2, 3, 4, 5, 6
    ), counts_up AS (
        INSERT INTO journey_milestone_daily AS d
        SELECT workspace_id, journey_id, enrolled_on, version, milestone_key, shard,
               coalesce(entered, 0), coalesce(completed, 0), coalesce(skipped, 0), coalesce(ever_behind, 0)
        FROM counts
        WHERE coalesce(entered, 0) <> 0 OR coalesce(completed, 0) <> 0 OR coalesce(skipped, 0) <> 0 OR coalesce(ever_behind, 0) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (workspace_id, journey_id, enrolled_on, version, milestone_key, shard) DO UPDATE
        SET entered = d.entered + excluded.entered, completed = d.completed + excluded.completed,
            skipped = d.skipped + excluded.skipped, ever_behind = d.ever_behind + excluded.ever_behind
    ), hist AS (
        SELECT src.workspace_id, src.journey_id, (src.enrolled_at AT TIME ZONE 'UTC')::date AS enrolled_on, src.version,
               src.milestone_key, m.measure, m.bucket, sum(src.sign)::int AS n
        FROM src
        CROSS JOIN LATERAL (VALUES
            ('duration', journey_rollup_bucket(date_part('epoch', src.completed_at - src.started_at))),
            ('overrun', CASE WHEN src.due_at IS NOT NULL THEN journey_rollup_bucket(date_part('epoch', src.completed_at - src.due_at)) END)
        ) m (measure, bucket)
        WHERE src.status = 'DONE' AND m.bucket IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(src.sign) <> 0
    ), daily_up AS (
        INSERT INTO journey_histogram_daily AS h
        SELECT * FROM hist ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (workspace_id, journey_id, enrolled_on, version, milestone_key, measure, bucket) DO UPDATE
        SET n = h.n + excluded.n
    )
    INSERT INTO journey_histogram_monthly AS h
    SELECT workspace_id, journey_id, date_trunc('month', enrolled_on)::date, version, milestone_key, measure, bucket, sum(n)
    FROM hist
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(n) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (workspace_id, journey_id, enrolled_month, version, milestone_key, measure, bucket) DO UPDATE
    SET n = h.n + excluded.n;
    RETURN NULL;
END
$$;

-- journey_enrollment_rollup does the same for journey_enrollments: cohort counts and the
-- days-to-complete histogram.
CREATE FUNCTION journey_enrollment_rollup() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    olds journey_enrollments[] := '{}';
    news journey_enrollments[] := '{}';
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT coalesce(array_agg(o), '{}') INTO olds FROM old_rows o;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT coalesce(array_agg(n), '{}') INTO news FROM new_rows n;
    END IF;
    WITH src AS (
        SELECT o.*, -1 AS sign FROM unnest(olds) o
        UNION ALL
        SELECT n.*, 1 FROM unnest(news) n
    ), counts AS (
        SELECT workspace_id, journey_id, (enrolled_at AT TIME ZONE 'UTC')::date AS enrolled_on, version,
               (hashtext(id::text) & 15)::smallint AS shard,
               coalesce(sum(sign), 0) AS enrolled,
               coalesce(sum(sign) FILTER (WHERE status = 'COMPLETED'), 0) AS completed,
               coalesce(sum(sign) FILTER (WHERE status = 'ACTIVE'), 0) AS active,
               coalesce(sum(sign) FILTER (WHERE status = 'STALLED'), 0) AS stalled,
               coalesce(sum(sign) FILTER (WHERE status = 'CANCELLED'), 0) AS cancelled
        FROM src
        GROUP BY 1, 2, 3, 4, 5
    ), counts_up AS (
        INSERT INTO journey_cohort_daily AS d
        SELECT * FROM counts
        WHERE enrolled <> 0 OR completed <> 0 OR active <> 0 OR stalled <> 0 OR cancelled <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (workspace_id, journey_id, enrolled_on, version, shard) DO UPDATE
        SET enrolled = d.enrolled + excluded.enrolled, completed = d.completed + excluded.completed,
            active = d.active + excluded.active, stalled = d.stalled + excluded.stalled,
            cancelled = d.cancelled + excluded.cancelled
    ), hist AS (
        SELECT workspace_id, journey_id, (enrolled_at AT TIME ZONE 'UTC')::date AS enrolled_on, version,
               ''::text AS milestone_key, 'to_complete'::text AS measure,
               journey_rollup_bucket(date_part('epoch', completed_at - enrolled_at)) AS bucket, sum(sign)::int AS n
        FROM src
        WHERE status = 'COMPLETED'
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(sign) <> 0
    ), daily_up AS (
        INSERT INTO journey_histogram_daily AS h
        SELECT * FROM hist ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (workspace_id, journey_id, enrolled_on, version, milestone_key, measure, bucket) DO UPDATE
        SET n = h.n + excluded.n
    )
    INSERT INTO journey_histogram_monthly AS h
    SELECT workspace_id, journey_id, date_trunc('month', enrolled_on)::date, version, milestone_key, measure, bucket, sum(n)
    FROM hist
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    HAVING sum(n) <> 0
    ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (workspace_id, journey_id, enrolled_month, version, milestone_key, measure, bucket) DO UPDATE
    SET n = h.n + excluded.n;
    RETURN NULL;
END
$$;

-- Backfill from the existing rows, with writers held off until the triggers are in place.
LOCK TABLE journey_enrollments, journey_milestone_states IN SHARE MODE;

INSERT INTO journey_milestone_daily
SELECT workspace_id, journey_id, (enrolled_at AT TIME ZONE 'UTC')::date, version, milestone_key,
       (hashtext(enrollment_id::text) & 15)::smallint,
       count(*) FILTER (WHERE started_at IS NOT NULL), count(*) FILTER (WHERE status = 'DONE'),
       count(*) FILTER (WHERE status = 'SKIPPED'), count(*) FILTER (WHERE behind_at IS NOT NULL)
FROM journey_milestone_states
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO journey_cohort_daily
SELECT workspace_id, journey_id, (enrolled_at AT TIME ZONE 'UTC')::date, version,
       (hashtext(id::text) & 15)::smallint,
       count(*), count(*) FILTER (WHERE status = 'COMPLETED'), count(*) FILTER (WHERE status = 'ACTIVE'),
       count(*) FILTER (WHERE status = 'STALLED'), count(*) FILTER (WHERE status = 'CANCELLED')
FROM journey_enrollments
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO journey_histogram_daily
SELECT ms.workspace_id, ms.journey_id, (ms.enrolled_at AT TIME ZONE 'UTC')::date, ms.version, ms.milestone_key,
       m.measure, m.bucket, count(*)
FROM journey_milestone_states ms
CROSS JOIN LATERAL (VALUES
    ('duration', journey_rollup_bucket(date_part('epoch', ms.completed_at - ms.started_at))),
    ('overrun', CASE WHEN ms.due_at IS NOT NULL THEN journey_rollup_bucket(date_part('epoch', ms.completed_at - ms.due_at)) END)
) m (measure, bucket)
WHERE ms.status = 'DONE' AND m.bucket IS NOT NULL
GROUP BY 1, 2, 3, 4, 5, 6, 7
UNION ALL
SELECT workspace_id, journey_id, (enrolled_at AT TIME ZONE 'UTC')::date, version, '', 'to_complete',
       journey_rollup_bucket(date_part('epoch', completed_at - enrolled_at)), count(*)
FROM journey_enrollments
WHERE status = 'COMPLETED'
GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO journey_histogram_monthly
SELECT workspace_id, journey_id, date_trunc('month', enrolled_on)::date, version, milestone_key, measure, bucket, sum(n)
FROM journey_histogram_daily
GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE TRIGGER journey_milestone_states_rollup_insert AFTER INSERT ON journey_milestone_states
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_milestone_rollup();
CREATE TRIGGER journey_milestone_states_rollup_update AFTER UPDATE ON journey_milestone_states
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_milestone_rollup();
CREATE TRIGGER journey_milestone_states_rollup_delete AFTER DELETE ON journey_milestone_states
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_milestone_rollup();
CREATE TRIGGER journey_enrollments_rollup_insert AFTER INSERT ON journey_enrollments
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_enrollment_rollup();
CREATE TRIGGER journey_enrollments_rollup_update AFTER UPDATE ON journey_enrollments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_enrollment_rollup();
CREATE TRIGGER journey_enrollments_rollup_delete AFTER DELETE ON journey_enrollments
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION journey_enrollment_rollup();
