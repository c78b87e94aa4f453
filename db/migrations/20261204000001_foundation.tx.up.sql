-- Foundation schema. Every tenant-owned table carries workspace_id, and it leads every primary
-- key, unique key and foreign key, so the schema can be distributed by workspace later.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE workspaces (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Users are global (one person may belong to several workspaces): a reference table.
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    role         text NOT NULL CHECK (role IN ('ADMIN', 'MANAGER', 'CSM', 'VIEWER')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Refresh tokens rotate on each use; all tokens of one login share a family, and reusing a
-- rotated token revokes the family.
CREATE TABLE refresh_tokens (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    family_id    uuid NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id),
    token_hash   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX refresh_tokens_hash_idx ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (workspace_id, family_id);

CREATE TABLE api_keys (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL,
    scopes       text[] NOT NULL,
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX api_keys_hash_idx ON api_keys (key_hash);

CREATE TABLE team_roles (
    workspace_id uuid NOT NULL REFERENCES workspaces (id),
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    key          text NOT NULL,
    name         text NOT NULL,
    position     int NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, key)
);

CREATE TABLE accounts (
    workspace_id     uuid NOT NULL REFERENCES workspaces (id),
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    domain           text,
    external_id      text,
    owner_id         uuid REFERENCES users (id),
    stage            text NOT NULL DEFAULT 'ONBOARDING',
    arr_minor        bigint NOT NULL DEFAULT 0 CHECK (arr_minor >= 0),
    arr_currency     char(3) NOT NULL DEFAULT 'USD',
    renewal_date     date,
    health_score     smallint CHECK (health_score BETWEEN 0 AND 100),
    tags             text[] NOT NULL DEFAULT '{}',
    custom           jsonb NOT NULL DEFAULT '{}',
    last_login_at    timestamptz,
    last_activity_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    archived_at      timestamptz,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, external_id)
);
CREATE INDEX accounts_created_idx ON accounts (workspace_id, created_at, id);
CREATE INDEX accounts_name_idx ON accounts (workspace_id, lower(name), id);
CREATE INDEX accounts_owner_idx ON accounts (workspace_id, owner_id);
CREATE INDEX accounts_tags_idx ON accounts USING gin (tags);
CREATE INDEX accounts_search_idx ON accounts USING gin ((name || ' ' || coalesce(domain, '')) gin_trgm_ops);

CREATE TABLE account_team_members (
    workspace_id uuid NOT NULL,
    account_id   uuid NOT NULL,
    team_role_id uuid NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, account_id, team_role_id, user_id),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, team_role_id) REFERENCES team_roles (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE contacts (
    workspace_id  uuid NOT NULL,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    account_id    uuid NOT NULL,
    name          text NOT NULL,
    email         text NOT NULL,
    title         text,
    persona       text,
    last_seen_at  timestamptz,
    email_opt_out boolean NOT NULL DEFAULT false,
    custom        jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    archived_at   timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id)
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (workspace_id, account_id, lower(email));
CREATE INDEX contacts_account_idx ON contacts (workspace_id, account_id, created_at, id);

-- Usage events grow large: time-ordered ids, idempotent by the client's event id, indexed for
-- "last event X per account" and "count of X in the last N days".
CREATE TABLE events (
    workspace_id    uuid NOT NULL,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    client_event_id text NOT NULL,
    account_id      uuid NOT NULL,
    contact_id      uuid,
    name            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    properties      jsonb NOT NULL DEFAULT '{}',
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, client_event_id),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id),
    FOREIGN KEY (workspace_id, contact_id) REFERENCES contacts (workspace_id, id)
);
CREATE INDEX events_account_name_time_idx ON events (workspace_id, account_id, name, occurred_at DESC);
CREATE INDEX events_account_time_idx ON events (workspace_id, account_id, occurred_at DESC);
CREATE INDEX events_received_brin ON events USING brin (received_at);

CREATE TABLE timeline_entries (
    workspace_id uuid NOT NULL,
    id           uuid NOT NULL DEFAULT gen_random_uuid(),
    account_id   uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('NOTE', 'CALL', 'MEETING', 'EMAIL', 'BUSINESS_REVIEW', 'SYSTEM')),
    author_id    uuid REFERENCES users (id),
    occurred_at  timestamptz NOT NULL,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, account_id) REFERENCES accounts (workspace_id, id)
);
CREATE INDEX timeline_account_time_idx ON timeline_entries (workspace_id, account_id, occurred_at DESC, id);
CREATE INDEX timeline_account_kind_idx ON timeline_entries (workspace_id, account_id, kind, occurred_at DESC);
