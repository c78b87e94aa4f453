DROP TABLE IF EXISTS journey_step_states;
DROP TABLE IF EXISTS journey_milestone_states;
DROP TABLE IF EXISTS journey_enrollments;
DROP TABLE IF EXISTS journey_versions;
DROP FUNCTION IF EXISTS journey_versions_immutable();
DROP TABLE IF EXISTS journeys;
