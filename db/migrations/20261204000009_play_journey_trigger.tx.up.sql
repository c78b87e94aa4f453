-- JOURNEY triggers: a play starts when an account's journey changes (entered, completed, a
-- milestone at risk or behind...). trigger_journey copies the latest published version's
-- journey key, as trigger_event and trigger_field do, so "which active plays listen to journey
-- X" is an index lookup.
ALTER TABLE plays DROP CONSTRAINT plays_trigger_kind_check;
ALTER TABLE plays ADD CONSTRAINT plays_trigger_kind_check
    CHECK (trigger_kind IN ('MANUAL', 'EVENT', 'FIELD_CHANGE', 'SCHEDULE', 'JOURNEY'));
ALTER TABLE plays ADD COLUMN trigger_journey text;
ALTER TABLE plays ADD CONSTRAINT plays_trigger_journey_check
    CHECK ((trigger_kind = 'JOURNEY') = (trigger_journey IS NOT NULL));
CREATE INDEX plays_trigger_journey_idx ON plays (workspace_id, trigger_journey)
    WHERE status = 'ACTIVE' AND trigger_journey IS NOT NULL;
