-- Failed logins per email, so brute-force guessing is throttled across every server process.
-- Global like users (an email is not yet tied to a workspace when it is guessed).
CREATE TABLE login_failures (
    email_key    text NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email_key, failed_at);
