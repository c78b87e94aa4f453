DROP TABLE IF EXISTS mailbox_messages, outbox_messages, workspace_settings;
