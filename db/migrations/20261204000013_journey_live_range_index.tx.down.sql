CREATE INDEX IF NOT EXISTS journey_enrollments_live_report_idx ON journey_enrollments (workspace_id, journey_id)
    INCLUDE (id, status)
    WHERE status IN ('ACTIVE', 'STALLED');
DROP INDEX IF EXISTS journey_enrollments_live_range_idx;
