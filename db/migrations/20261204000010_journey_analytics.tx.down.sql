DROP INDEX IF EXISTS journey_step_states_task_enrollment_idx;
DROP INDEX IF EXISTS journey_enrollments_analytics_idx;
DROP INDEX IF EXISTS journey_milestone_states_current_idx;
DROP INDEX IF EXISTS journey_milestone_states_analytics_idx;
