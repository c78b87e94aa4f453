// Package delivery sends the side effects of plays, emails and webhooks, through an outbox.
//
// A step that decides to email or call a webhook calls EnqueueEmail or EnqueueWebhook inside its
// own transaction. That inserts an outbox row keyed by an idempotency key (derived by the caller
// from run id, step id and iteration), so re-running the step finds the row instead of adding
// one, and in the same transaction the caller enqueues a River job (EmailArgs / WebhookArgs)
// that carries only the row id. If the step's transaction rolls back, neither the row nor the
// job exist. The job calls Deliver, which claims the row, performs the effect and records the
// outcome on the row.
//
// Decisions that make an email skip are taken at enqueue time and recorded on the row (status
// SKIPPED, skip_reason), so the step can show why: the contact opted out, or the workspace's
// frequency cap (at most N automated emails per contact in any 24 hours, across all plays,
// workspace_settings.email_daily_cap_per_contact, default 3) is reached. Opt-out is checked
// again just before sending, because it may change while a message waits for a retry.
//
// # What "once" means here
//
// Steward's side is exactly-once: a row reaches SENT, SKIPPED or FAILED once, and a row in one
// of those states is never sent again, however often its job runs. The effect on the outside
// world is at-least-once with a deduplication id. If a worker dies after the SMTP server or the
// webhook receiver accepted the message but before the row was marked SENT, the row is still
// SENDING; once its lease (Config.SendingLease) runs out, a retry sends it again. No protocol can
// close that window without the receiver's help, so every attempt carries the same id: emails
// have a Message-ID derived from the row id and an X-Steward-Delivery-Id header, webhooks a
// Steward-Delivery-Id header. Receivers deduplicate on it. The dev mailbox is exactly-once,
// because it stores at most one message per row.
//
// Email goes over SMTP (github.com/wneessen/go-mail) when Config.SMTPURL is set, and into
// Steward's own dev mailbox (mailbox_messages, readable with Service.Mailbox) otherwise.
//
// Webhooks are signed with the workspace's secret (workspace_settings.webhook_secret, 32 random
// bytes created the first time a webhook is sent or the secret is read with
// Service.WebhookSecret): Steward-Signature is "v1=" and the hex HMAC-SHA256 of the
// Steward-Timestamp value, a dot and the body; see Sign and Verify.
package delivery
