-- The live (ACTIVE or STALLED) enrolments with their journey, date, version and status: the
-- roadblock report's current positions and overdue tasks hash-join these (a few percent of
-- the enrolments once most have finished) instead of probing or reading every enrolment.
-- It replaces migration 12's narrower live index.
CREATE INDEX journey_enrollments_live_range_idx ON journey_enrollments (workspace_id, journey_id, enrolled_at)
    INCLUDE (id, status, version)
    WHERE status IN ('ACTIVE', 'STALLED');
DROP INDEX IF EXISTS journey_enrollments_live_report_idx;
