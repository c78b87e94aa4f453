-- The live (ACTIVE or STALLED) enrolments of a journey, with what the roadblock report's
-- current positions join on: a few percent of the enrolments once most have finished, so the
-- join reads this small index instead of every enrolment of the journey.
CREATE INDEX journey_enrollments_live_report_idx ON journey_enrollments (workspace_id, journey_id)
    INCLUDE (id, status)
    WHERE status IN ('ACTIVE', 'STALLED');

-- Overdue tasks: from a task's step to its enrolment's journey, date and version without a
-- heap visit, so the report probes the enrolments of the overdue tasks (tens of thousands)
-- instead of hashing every enrolment of the range.
CREATE INDEX journey_enrollments_range_probe_idx ON journey_enrollments (workspace_id, id)
    INCLUDE (journey_id, enrolled_at, version);
