package db

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// Outbox message kinds.
const (
	OutboxEmail   = "EMAIL"
	OutboxWebhook = "WEBHOOK"
)

// Outbox message statuses. PENDING and SENDING are live; SENT, SKIPPED and FAILED are final and
// never change again.
const (
	// OutboxPending waits for its delivery job (first attempt or a retry).
	OutboxPending = "PENDING"
	// OutboxSending is claimed by a worker; if the worker dies mid-send the row stays SENDING
	// until its lease (LockedUntil) runs out and a retry takes it over.
	OutboxSending = "SENDING"
	// OutboxSent was handed to the SMTP server, stored in the dev mailbox, or acknowledged with
	// a 2xx by the webhook receiver.
	OutboxSent = "SENT"
	// OutboxSkipped was deliberately not delivered; SkipReason says why (opt-out, cap).
	OutboxSkipped = "SKIPPED"
	// OutboxFailed failed permanently or ran out of attempts; LastError says why.
	OutboxFailed = "FAILED"
)

// DefaultEmailDailyCapPerContact is the frequency cap of a workspace that never set one; it is
// the column default of workspace_settings.email_daily_cap_per_contact.
const DefaultEmailDailyCapPerContact = 3

// MaxEmailDailyCapPerContact is the largest frequency cap a workspace may set.
const MaxEmailDailyCapPerContact = 1000

// WorkspaceSettings holds a workspace's delivery settings. A workspace without a row behaves
// as if it had one with the column defaults.
type WorkspaceSettings struct {
	bun.BaseModel `bun:"table:workspace_settings,alias:ws"`
	// Owned's workspace id is the whole primary key: one row per workspace.
	Owned
	// EmailDailyCapPerContact caps automated emails per contact in any 24 hours across all
	// plays; 0 turns them off.
	EmailDailyCapPerContact int `bun:"email_daily_cap_per_contact,notnull,default:3"`
	// WebhookSecret signs outgoing webhooks (HMAC-SHA256); nil until first needed.
	WebhookSecret []byte    `bun:"webhook_secret"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:now()"`
	UpdatedAt     time.Time `bun:"updated_at,notnull,default:now()"`
}

// OutboxMessage is one email or webhook to deliver exactly once per idempotency key.
type OutboxMessage struct {
	bun.BaseModel `bun:"table:outbox_messages,alias:om"`
	Owned
	ID             uuid.UUID       `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	Kind           string          `bun:"kind,notnull"`
	IdempotencyKey string          `bun:"idempotency_key,notnull"`
	AccountID      *uuid.UUID      `bun:"account_id,type:uuid"`
	ContactID      *uuid.UUID      `bun:"contact_id,type:uuid"`
	Source         string          `bun:"source,notnull"`
	Payload        json.RawMessage `bun:"payload,type:jsonb,notnull"`
	Status         string          `bun:"status,notnull,default:'PENDING'"`
	SkipReason     *string         `bun:"skip_reason"`
	Attempts       int             `bun:"attempts,notnull"`
	LastError      *string         `bun:"last_error"`
	CreatedAt      time.Time       `bun:"created_at,notnull,default:now()"`
	SentAt         *time.Time      `bun:"sent_at"`
	NextAttemptAt  *time.Time      `bun:"next_attempt_at"`
	LockedUntil    *time.Time      `bun:"locked_until"`
}

// Final reports whether the message reached a status that never changes again.
func (m *OutboxMessage) Final() bool {
	return m.Status == OutboxSent || m.Status == OutboxSkipped || m.Status == OutboxFailed
}

// MailboxMessage is an email stored in Steward's dev mailbox instead of being sent.
type MailboxMessage struct {
	bun.BaseModel `bun:"table:mailbox_messages,alias:mm"`
	Owned
	ID         uuid.UUID         `bun:"id,pk,type:uuid,default:gen_random_uuid()"`
	OutboxID   uuid.UUID         `bun:"outbox_id,type:uuid,notnull"`
	From       string            `bun:"from_addr,notnull"`
	To         string            `bun:"to_addr,notnull"`
	Subject    string            `bun:"subject,notnull"`
	TextBody   string            `bun:"text_body,notnull"`
	HTMLBody   string            `bun:"html_body,notnull"`
	Headers    map[string]string `bun:"headers,type:jsonb,notnull"`
	ReceivedAt time.Time         `bun:"received_at,notnull,default:now()"`
}
