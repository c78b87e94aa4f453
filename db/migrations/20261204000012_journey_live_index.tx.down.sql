DROP INDEX IF EXISTS journey_enrollments_range_probe_idx;
DROP INDEX IF EXISTS journey_enrollments_live_report_idx;
