-- Indexes for the roadblock analytics (journey/analytics): each report statement reads one
-- journey's rows in an enrolment date range, and these indexes hold exactly the columns it
-- needs, so the statements are index-only range scans (heap pages are read only where the
-- visibility map is not yet set after recent changes).

-- Funnel, behind share and time in milestone: every milestone row of the range.
CREATE INDEX journey_milestone_states_analytics_idx ON journey_milestone_states
    (workspace_id, journey_id, enrolled_at)
    INCLUDE (version, milestone_key, position, status, started_at, due_at, behind_at, completed_at);

-- Where live enrolments are now: only started, unfinished milestones, a small fraction of the
-- table once most enrolments have finished.
CREATE INDEX journey_milestone_states_current_idx ON journey_milestone_states
    (workspace_id, journey_id, enrolled_at)
    INCLUDE (version, milestone_key, status, enrollment_id)
    WHERE status IN ('ON_TRACK', 'AT_RISK', 'BEHIND');

-- Cohorts, and the enrolments the other statements join to.
CREATE INDEX journey_enrollments_analytics_idx ON journey_enrollments
    (workspace_id, journey_id, enrolled_at)
    INCLUDE (version, status, completed_at, id);

-- Overdue tasks: from a task to the enrolment whose step created it without a heap visit.
CREATE INDEX journey_step_states_task_enrollment_idx ON journey_step_states
    (workspace_id, task_id) INCLUDE (enrollment_id)
    WHERE task_id IS NOT NULL;
