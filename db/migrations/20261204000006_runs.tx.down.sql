DROP TABLE IF EXISTS in_app_messages;
DROP TABLE IF EXISTS play_step_runs;
DROP TABLE IF EXISTS play_runs;
