-- Tasks: work for a person (or a team role) on an account, created by hand, by a play step or by
-- a journey milestone. workspace_id leads every key, like every tenant-owned table.
--
-- Status is stored as written; a SNOOZED task whose snoozed_until has passed is OPEN again for
-- every listing and count (the queries compute that), so no timer job has to wake it up.
CREATE TABLE tasks (
    workspace_id    uuid NOT NULL REFERENCES workspaces (id),
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    account_id      uuid NOT NULL,
    contact_id      uuid,
    title           text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description     text NOT NULL DEFAULT '' CHECK (char_length(description) <= 10000),
    -- The assignee must be a member of the workspace: the key goes to memberships, not users.
    assignee_id     uuid,
    team_role_id    uuid,
    -- Why nobody is assigned (NO_TEAM_MEMBER, NO_OWNER); NULL once someone is.
    assignment_flag text CHECK (assignment_flag IN ('NO_TEAM_MEMBER', 'NO_OWNER')),
    due_at          timestamptz,
    priority        text NOT NULL DEFAULT 'NORMAL' CHECK (priority IN ('LOW', 'NORMAL', 'HIGH', 'URGENT')),
    status          text NOT NULL DEFAULT 'OPEN' CHECK (status IN ('OPEN', 'DONE', 'CANCELLED', 'SNOOZED')),
    snoozed_until   timestamptz,
    source_kind     text NOT NULL DEFAULT 'MANUAL' CHECK (source_kind IN ('MANUAL', 'PLAY', 'JOURNEY')),
    -- What created the task, e.g. "play_run:<id>/step:<id>"; free text for people to follow.
    source_ref      text,
    -- Set by automated creators (a play's run/step/iteration) so a retried step finds the task
    -- it already created instead of creating another.
    idempotency_key text,
    created_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    completed_by    uuid REFERENCES users (id),
    cancelled_at    timestamptz,
    cancelled_by    uuid REFERENCES users (id),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, idempotency_key),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id),
    FOREIGN KEY (workspace_id, assignee_id) REFERENCES memberships (workspace_id, user_id),
    FOREIGN KEY (workspace_id, team_role_id) REFERENCES team_roles (workspace_id, id),
    CHECK ((status = 'SNOOZED') = (snoozed_until IS NOT NULL)),
    CHECK ((status = 'DONE') = (completed_at IS NOT NULL)),
    CHECK ((status = 'CANCELLED') = (cancelled_at IS NOT NULL)),
    CHECK (assignment_flag IS NULL OR assignee_id IS NULL)
);

-- Listings sort by due date with undated tasks last, then id: the expression below is the sort
-- key (and keyset cursor) the queries use, so these indexes hand rows over already in order.
-- Status is deliberately not between the filter column and the sort key: the status filter is
-- an OR (an expired snooze counts as OPEN), which could not use it, and would lose the order.
CREATE INDEX tasks_assignee_idx ON tasks
    (workspace_id, assignee_id, coalesce(due_at, 'infinity'::timestamptz), id);
CREATE INDEX tasks_team_role_idx ON tasks
    (workspace_id, team_role_id, coalesce(due_at, 'infinity'::timestamptz), id);
CREATE INDEX tasks_account_idx ON tasks
    (workspace_id, account_id, coalesce(due_at, 'infinity'::timestamptz), id);
CREATE INDEX tasks_due_idx ON tasks
    (workspace_id, coalesce(due_at, 'infinity'::timestamptz), id);
-- Overdue means open (or snoozed past its time) and due before now; now() cannot be part of a
-- partial index, so the index holds the candidates and the query compares due_at.
CREATE INDEX tasks_overdue_idx ON tasks (workspace_id, due_at)
    WHERE status IN ('OPEN', 'SNOOZED') AND due_at IS NOT NULL;
