-- Plays: situational automations per account or contact. A play row holds what is edited in
-- place (name, description, status, the pending draft); play_versions holds every published
-- definition, frozen: a run pins the version it started on, so a version is never updated.
-- The trigger_* columns copy the latest published version's trigger, so "which active plays
-- listen to event X" is an index lookup instead of a scan of JSON.
CREATE TABLE plays (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id),
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    description      text NOT NULL DEFAULT '',
    scope            text NOT NULL CHECK (scope IN ('ACCOUNT', 'CONTACT')),
    status           text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED')),
    draft            jsonb,
    draft_updated_at timestamptz,
    latest_version   int NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
    trigger_kind     text CHECK (trigger_kind IN ('MANUAL', 'EVENT', 'FIELD_CHANGE', 'SCHEDULE')),
    trigger_event    text,
    trigger_field    text,
    created_by       uuid REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    archived_at      timestamptz,
    PRIMARY KEY (workspace_id, id),
    -- A DRAFT play was never published; an ACTIVE or PAUSED one was.
    CHECK (status <> 'DRAFT' OR latest_version = 0),
    CHECK (status NOT IN ('ACTIVE', 'PAUSED') OR latest_version > 0),
    CHECK ((status = 'ARCHIVED') = (archived_at IS NOT NULL)),
    CHECK ((latest_version > 0) = (trigger_kind IS NOT NULL)),
    CHECK ((trigger_kind = 'EVENT') = (trigger_event IS NOT NULL)),
    CHECK ((trigger_kind = 'FIELD_CHANGE') = (trigger_field IS NOT NULL))
);
CREATE UNIQUE INDEX plays_name_key ON plays (workspace_id, lower(name)) WHERE archived_at IS NULL;
CREATE INDEX plays_trigger_event_idx ON plays (workspace_id, trigger_event) WHERE status = 'ACTIVE' AND trigger_event IS NOT NULL;
CREATE INDEX plays_trigger_field_idx ON plays (workspace_id, trigger_field) WHERE status = 'ACTIVE' AND trigger_field IS NOT NULL;
-- The sweeper reads every workspace's active SCHEDULE plays.
CREATE INDEX plays_schedule_idx ON plays (workspace_id, id) WHERE status = 'ACTIVE' AND trigger_kind = 'SCHEDULE';

CREATE TABLE play_versions (
    workspace_id uuid NOT NULL,
    play_id      uuid NOT NULL,
    version      int NOT NULL CHECK (version > 0),
    definition   jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by uuid REFERENCES users (id),
    PRIMARY KEY (workspace_id, play_id, version),
    FOREIGN KEY (workspace_id, play_id) REFERENCES plays (workspace_id, id)
);

-- Published versions are immutable: runs pin them. The database refuses an UPDATE outright, so
-- no code path can rewrite history.
CREATE FUNCTION play_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'play versions are immutable' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER play_versions_no_update BEFORE UPDATE ON play_versions
    FOR EACH ROW EXECUTE FUNCTION play_versions_immutable();
