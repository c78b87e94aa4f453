DROP INDEX IF EXISTS plays_trigger_journey_idx;
ALTER TABLE plays DROP CONSTRAINT IF EXISTS plays_trigger_journey_check;
ALTER TABLE plays DROP COLUMN IF EXISTS trigger_journey;
ALTER TABLE plays DROP CONSTRAINT plays_trigger_kind_check;
ALTER TABLE plays ADD CONSTRAINT plays_trigger_kind_check
    CHECK (trigger_kind IN ('MANUAL', 'EVENT', 'FIELD_CHANGE', 'SCHEDULE'));
