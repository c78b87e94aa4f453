-- Journeys: the documented process of a customer's life cycle. Like plays, a journey row holds
-- what is edited in place (name, status, the pending draft) and journey_versions holds every
-- published definition, frozen; an enrolment pins the version it runs on.
--
-- A definition is one JSON document (milestones with their steps, each with a key that is
-- stable across versions: keys are how in-flight enrolments map onto a new version). The
-- trigger_* columns copy the latest published version's trigger so "which active journeys
-- enrol on event X" is an index lookup.
CREATE TABLE journeys (
    workspace_id        uuid NOT NULL REFERENCES workspaces (id),
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    -- Short stable handle ("onboarding", "onboarding-addon") used by triggers and conditions.
    key                 text NOT NULL CHECK (key ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    -- The life-cycle stage the journey covers (free text like accounts.stage: ONBOARDING...).
    stage               text NOT NULL,
    status              text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'ACTIVE', 'PAUSED', 'ARCHIVED')),
    draft               jsonb,
    draft_updated_at    timestamptz,
    latest_version      int NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
    trigger_kind        text CHECK (trigger_kind IN ('MANUAL', 'EVENT', 'FIELD_CHANGE')),
    trigger_event       text,
    trigger_field       text,
    -- The journey (and its version, 0 for its draft) this one was copied from.
    copied_from_id      uuid,
    copied_from_version int,
    created_by          uuid REFERENCES users (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    archived_at         timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, copied_from_id) REFERENCES journeys (workspace_id, id),
    CHECK (status <> 'DRAFT' OR latest_version = 0),
    CHECK (status NOT IN ('ACTIVE', 'PAUSED') OR latest_version > 0),
    CHECK ((status = 'ARCHIVED') = (archived_at IS NOT NULL)),
    CHECK ((latest_version > 0) = (trigger_kind IS NOT NULL)),
    CHECK ((trigger_kind = 'EVENT') = (trigger_event IS NOT NULL)),
    CHECK ((trigger_kind = 'FIELD_CHANGE') = (trigger_field IS NOT NULL))
);
CREATE UNIQUE INDEX journeys_key ON journeys (workspace_id, key) WHERE archived_at IS NULL;
CREATE UNIQUE INDEX journeys_name_key ON journeys (workspace_id, lower(name)) WHERE archived_at IS NULL;
CREATE INDEX journeys_trigger_event_idx ON journeys (workspace_id, trigger_event) WHERE status = 'ACTIVE' AND trigger_event IS NOT NULL;
CREATE INDEX journeys_trigger_field_idx ON journeys (workspace_id, trigger_field) WHERE status = 'ACTIVE' AND trigger_field IS NOT NULL;

CREATE TABLE journey_versions (
    workspace_id uuid NOT NULL,
    journey_id   uuid NOT NULL,
    version      int NOT NULL CHECK (version > 0),
    definition   jsonb NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    published_by uuid REFERENCES users (id),
    PRIMARY KEY (workspace_id, journey_id, version),
    FOREIGN KEY (workspace_id, journey_id) REFERENCES journeys (workspace_id, id)
);

CREATE FUNCTION journey_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journey versions are immutable' USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER journey_versions_no_update BEFORE UPDATE ON journey_versions
    FOR EACH ROW EXECUTE FUNCTION journey_versions_immutable();

-- One account's pass through one journey version. A restart (relaunch) ends the attempt and
-- starts a new row pointing at it, so earlier attempts keep their history.
CREATE TABLE journey_enrollments (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id),
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    journey_id       uuid NOT NULL,
    version          int NOT NULL,
    account_id       uuid NOT NULL,
    status           text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'COMPLETED', 'CANCELLED', 'STALLED')),
    -- 1 for the first attempt; a restart increments it and names the attempt it replaces.
    attempt          int NOT NULL DEFAULT 1 CHECK (attempt > 0),
    restart_of       uuid,
    -- How the enrolment began: MANUAL (API), TRIGGER (the journey's trigger), PLAY (a play step).
    source           text NOT NULL CHECK (source IN ('MANUAL', 'TRIGGER', 'PLAY')),
    source_ref       text,
    enrolled_by      uuid REFERENCES users (id),
    enrolled_at      timestamptz NOT NULL DEFAULT now(),
    -- Last milestone or step change; STALLED is computed from it.
    last_progress_at timestamptz NOT NULL DEFAULT now(),
    -- While ACTIVE: last_progress_at + the definition's stallAfter, when the status job marks
    -- the enrolment STALLED; NULL otherwise.
    stall_at         timestamptz,
    completed_at     timestamptz,
    cancelled_at     timestamptz,
    cancelled_by     uuid REFERENCES users (id),
    cancel_reason    text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, journey_id, version) REFERENCES journey_versions (workspace_id, journey_id, version),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, restart_of) REFERENCES journey_enrollments (workspace_id, id),
    CHECK ((status = 'COMPLETED') = (completed_at IS NOT NULL)),
    CHECK ((status = 'CANCELLED') = (cancelled_at IS NOT NULL))
);
-- One live enrolment per journey and account: a second one is a CONFLICT, even under races.
CREATE UNIQUE INDEX journey_enrollments_live_key ON journey_enrollments (workspace_id, journey_id, account_id)
    WHERE status IN ('ACTIVE', 'STALLED');
CREATE INDEX journey_enrollments_journey_idx ON journey_enrollments (workspace_id, journey_id, enrolled_at, id);
CREATE INDEX journey_enrollments_account_idx ON journey_enrollments (workspace_id, account_id, enrolled_at DESC);
-- The status job reads ACTIVE enrolments whose stall time has come.
CREATE INDEX journey_enrollments_stall_idx ON journey_enrollments (stall_at) WHERE status = 'ACTIVE';

-- Each milestone of an enrolment: a row per milestone of the pinned version, created at
-- enrolment as NOT_STARTED. journey_id, account_id and enrolled_at are copied from the
-- enrolment so analytics group and filter one table.
CREATE TABLE journey_milestone_states (
    workspace_id  uuid NOT NULL,
    enrollment_id uuid NOT NULL,
    milestone_key text NOT NULL,
    journey_id    uuid NOT NULL,
    version       int NOT NULL,
    account_id    uuid NOT NULL,
    enrolled_at   timestamptz NOT NULL,
    -- Order in the definition (parallel milestones share a group but keep their position).
    position      int NOT NULL,
    status        text NOT NULL DEFAULT 'NOT_STARTED'
                  CHECK (status IN ('NOT_STARTED', 'ON_TRACK', 'AT_RISK', 'BEHIND', 'DONE', 'SKIPPED')),
    started_at    timestamptz,
    -- started_at + the milestone's target duration.
    due_at        timestamptz,
    -- When the milestone became AT_RISK (started_at + atRiskShare of the target) and BEHIND
    -- (due_at); set when the status changes, kept afterwards.
    at_risk_at    timestamptz,
    behind_at     timestamptz,
    -- While in progress: when the status job next moves it (to AT_RISK, then BEHIND); NULL
    -- once BEHIND, DONE or SKIPPED, or without a target.
    next_status_at timestamptz,
    -- While in progress with a completeWhen condition or pending CHECKPOINT steps: when the
    -- status job next re-checks them (events and account changes check at once).
    next_check_at timestamptz,
    completed_at  timestamptz,
    skipped_at    timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, enrollment_id, milestone_key),
    FOREIGN KEY (workspace_id, enrollment_id) REFERENCES journey_enrollments (workspace_id, id) ON DELETE CASCADE,
    CHECK ((status = 'NOT_STARTED') = (started_at IS NULL) OR status = 'SKIPPED'),
    CHECK ((status = 'DONE') = (completed_at IS NOT NULL)),
    CHECK ((status = 'SKIPPED') = (skipped_at IS NOT NULL))
);
-- The status job wakes milestones in progress whose next threshold or re-check has come.
CREATE INDEX journey_milestone_states_next_status_idx ON journey_milestone_states (next_status_at)
    WHERE next_status_at IS NOT NULL;
CREATE INDEX journey_milestone_states_next_check_idx ON journey_milestone_states (next_check_at)
    WHERE next_check_at IS NOT NULL;
CREATE INDEX journey_milestone_states_journey_idx ON journey_milestone_states
    (workspace_id, journey_id, milestone_key, status);

-- Each step of a started milestone: the task it created, the automated step's outcome, or a
-- checkpoint's completion. A retried job finds the row and does not repeat the effect.
CREATE TABLE journey_step_states (
    workspace_id  uuid NOT NULL,
    enrollment_id uuid NOT NULL,
    milestone_key text NOT NULL,
    step_key      text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('TASK', 'SEND_EMAIL', 'IN_APP_MESSAGE', 'LAUNCH_PLAY', 'CHECKPOINT')),
    required      bool NOT NULL,
    status        text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DONE', 'SKIPPED', 'FAILED')),
    task_id       uuid,
    play_run_id   uuid,
    outbox_id     uuid,
    in_app_message_id uuid,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    done_at       timestamptz,
    PRIMARY KEY (workspace_id, enrollment_id, step_key),
    FOREIGN KEY (workspace_id, enrollment_id, milestone_key)
        REFERENCES journey_milestone_states (workspace_id, enrollment_id, milestone_key) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, task_id) REFERENCES tasks (workspace_id, id)
);
CREATE INDEX journey_step_states_task_idx ON journey_step_states (workspace_id, task_id) WHERE task_id IS NOT NULL;
