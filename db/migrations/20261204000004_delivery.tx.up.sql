-- Delivery of play side effects (emails, webhooks) through an outbox, Steward's dev mailbox and
-- the per-workspace settings delivery reads. As everywhere, workspace_id leads every primary,
-- unique and foreign key.

-- Per-workspace delivery settings. A workspace without a row has the column defaults; the row is
-- created on first need (first write of a setting, or the first webhook, which generates the
-- signing secret).
CREATE TABLE workspace_settings (
    workspace_id                uuid PRIMARY KEY REFERENCES workspaces (id),
    -- At most this many automated emails per contact in any 24 hours, across every play.
    -- 0 means automated emails to contacts are off.
    email_daily_cap_per_contact int NOT NULL DEFAULT 3 CHECK (email_daily_cap_per_contact BETWEEN 0 AND 1000),
    -- The HMAC-SHA256 key that signs outgoing webhooks; generated on first use.
    webhook_secret              bytea CHECK (octet_length(webhook_secret) >= 32),
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

-- One side effect to deliver. The executor inserts the row in the transaction of the step that
-- decided it (idempotent by idempotency_key) and enqueues a job carrying the row id; the job
-- claims the row, performs the effect and records the outcome.
CREATE TABLE outbox_messages (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id),
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    kind            text NOT NULL CHECK (kind IN ('EMAIL', 'WEBHOOK')),
    idempotency_key text NOT NULL CHECK (idempotency_key <> ''),
    account_id      uuid,
    contact_id      uuid,
    -- What asked for it, free text, e.g. "play_run:<id>/step:<id>/iter:<n>".
    source          text NOT NULL DEFAULT '',
    -- EMAIL: {"from","to","subject","text","html"}; WEBHOOK: {"url","body"}.
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'SENDING', 'SENT', 'SKIPPED', 'FAILED')),
    skip_reason     text,
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    -- When a retryable failure expects the next attempt (the job queue schedules it).
    next_attempt_at timestamptz,
    -- While SENDING: until when the claiming worker owns the row; a later claim may take over a
    -- row whose lease ran out (its worker died mid-send).
    locked_until    timestamptz,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, idempotency_key),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id),
    CHECK ((status = 'SKIPPED') = (skip_reason IS NOT NULL)),
    CHECK ((status = 'SENT') = (sent_at IS NOT NULL))
);
-- Delivery jobs carry only the row id (ids are generated here and never taken from a client),
-- so workers find a row by id alone. Not unique: unique keys lead with workspace_id.
CREATE INDEX outbox_messages_id_idx ON outbox_messages (id);
-- The frequency cap: emails to contact X that count (not skipped, not failed) since T.
CREATE INDEX outbox_messages_contact_email_idx ON outbox_messages (workspace_id, contact_id, created_at)
    WHERE kind = 'EMAIL' AND status IN ('PENDING', 'SENDING', 'SENT');
-- Rows still to deliver, oldest first, for a sweeper that re-enqueues rows whose job was lost.
CREATE INDEX outbox_messages_pending_idx ON outbox_messages (created_at)
    WHERE status IN ('PENDING', 'SENDING');

-- Steward's own dev mailbox: where email goes when no SMTP server is configured, readable
-- through the API. At most one message per outbox row, so a retried delivery stores it once.
CREATE TABLE mailbox_messages (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    outbox_id    uuid NOT NULL,
    from_addr    text NOT NULL,
    to_addr      text NOT NULL,
    subject      text NOT NULL,
    text_body    text NOT NULL DEFAULT '',
    html_body    text NOT NULL DEFAULT '',
    headers      jsonb NOT NULL DEFAULT '{}',
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, outbox_id),
    FOREIGN KEY (workspace_id, outbox_id) REFERENCES outbox_messages (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX mailbox_messages_received_idx ON mailbox_messages (workspace_id, received_at DESC, id DESC);
CREATE INDEX mailbox_messages_to_idx ON mailbox_messages (workspace_id, lower(to_addr), received_at DESC, id DESC);
