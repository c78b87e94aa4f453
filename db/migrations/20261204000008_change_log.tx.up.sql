-- The change log: an append-only record of what live subscribers care about (tasks, timeline
-- entries, events, play runs, journey progress, in-app messages), written in the same
-- transaction as the change itself, so a rolled-back change publishes nothing and a committed
-- one always does. Every server process reads it by cursor and fans rows out to its
-- subscribers.
--
-- Order: ids come from a sequence, which transactions draw from in a different order than they
-- commit, so "id > cursor" alone could skip a row that commits late. Each row keeps the id of
-- the transaction that wrote it (xid8); readers only take rows whose transaction is older than
-- the oldest one still running (pg_snapshot_xmin), and order by (txid, id). Rows that become
-- visible later always sort after everything already read.
CREATE TABLE change_log (
    txid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    workspace_id uuid NOT NULL,
    -- What the row is about: task, timeline, event, play_run, journey, in_app.
    topic        text NOT NULL,
    -- What happened, per topic (created, updated, completed, started, finished...).
    kind         text NOT NULL,
    -- Filter keys: which subscribers may see the row without decoding the payload.
    account_id   uuid,
    contact_id   uuid,
    subject_id   uuid,
    assignee_id  uuid,
    team_role_id uuid,
    play_id      uuid,
    journey_id   uuid,
    payload      jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (txid, id)
);
CREATE INDEX change_log_created_idx ON change_log (created_at);
-- Replay after a cursor reads one workspace's rows in log order.
CREATE INDEX change_log_workspace_idx ON change_log (workspace_id, txid, id);
