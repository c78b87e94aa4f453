-- Play runs: one execution of a published play version for one account (or one contact). The
-- partial unique index on active runs makes a repeated trigger or sweep insert nothing, so the
-- NOT_WHILE_ACTIVE policy holds even under concurrency.
CREATE TABLE play_runs (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    play_id      uuid NOT NULL,
    version      int NOT NULL,
    subject_kind text NOT NULL CHECK (subject_kind IN ('ACCOUNT', 'CONTACT')),
    account_id   uuid NOT NULL,
    contact_id   uuid,
    status       text NOT NULL DEFAULT 'RUNNING'
                 CHECK (status IN ('RUNNING', 'WAITING', 'COMPLETED', 'GOAL_MET', 'EXITED', 'FAILED', 'CANCELLED')),
    -- The step the run is at (the next to execute, or the one it waits in); NULL once finished.
    current_step text,
    -- Round of each REPEAT_UNTIL step id the run is in: {"nudge": 2}.
    iterations   jsonb NOT NULL DEFAULT '{}',
    next_wake_at timestamptz,
    -- Why the run started: {"kind": "EVENT", "event": ..., "values": [...]}.
    trigger      jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    outcome      text,
    error        text,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, play_id, version) REFERENCES play_versions (workspace_id, play_id, version),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE,
    CHECK ((subject_kind = 'CONTACT') = (contact_id IS NOT NULL)),
    CHECK ((status IN ('RUNNING', 'WAITING')) = (finished_at IS NULL))
);
CREATE UNIQUE INDEX play_runs_active_key ON play_runs
    (workspace_id, play_id, account_id, coalesce(contact_id, '00000000-0000-0000-0000-000000000000'))
    WHERE status IN ('RUNNING', 'WAITING');
CREATE INDEX play_runs_play_idx ON play_runs (workspace_id, play_id, started_at DESC, id);
CREATE INDEX play_runs_account_idx ON play_runs (workspace_id, account_id, started_at DESC, id);
CREATE INDEX play_runs_status_idx ON play_runs (workspace_id, status, started_at DESC, id);

-- The step log: one row per (run, step, round). A step's effect commits with its row, so a
-- retried job that finds the row DONE does not repeat the effect.
CREATE TABLE play_step_runs (
    workspace_id      uuid NOT NULL,
    run_id            uuid NOT NULL,
    step_id           text NOT NULL,
    iteration         int NOT NULL CHECK (iteration >= 0),
    kind              text NOT NULL,
    attempt           int NOT NULL DEFAULT 1,
    status            text NOT NULL CHECK (status IN ('RUNNING', 'DONE', 'FAILED', 'SKIPPED')),
    started_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    outcome           text,
    error             text,
    task_id           uuid,
    outbox_id         uuid,
    in_app_message_id uuid,
    PRIMARY KEY (workspace_id, run_id, step_id, iteration),
    FOREIGN KEY (workspace_id, run_id) REFERENCES play_runs (workspace_id, id) ON DELETE CASCADE
);

-- In-app messages shown to contacts inside the product.
CREATE TABLE in_app_messages (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id),
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    account_id      uuid NOT NULL,
    contact_id      uuid NOT NULL,
    run_id          uuid,
    step_id         text,
    title           text NOT NULL,
    body            text NOT NULL,
    style           text NOT NULL CHECK (style IN ('BANNER', 'MODAL', 'TOAST')),
    status          text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DISPLAYED', 'DISMISSED', 'CLICKED')),
    idempotency_key text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    displayed_at    timestamptz,
    dismissed_at    timestamptz,
    clicked_at      timestamptz,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, idempotency_key),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, run_id) REFERENCES play_runs (workspace_id, id)
);
CREATE INDEX in_app_messages_contact_idx ON in_app_messages (workspace_id, contact_id, created_at DESC);
