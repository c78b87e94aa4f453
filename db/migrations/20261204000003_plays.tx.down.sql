DROP TABLE IF EXISTS play_versions, plays;
DROP FUNCTION IF EXISTS play_versions_immutable();
