DROP TABLE IF EXISTS timeline_entries, events, contacts, account_team_members, accounts, team_roles,
    api_keys, refresh_tokens, memberships, users, workspaces;
