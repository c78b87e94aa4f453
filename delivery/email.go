package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Limits on what EnqueueEmail and EnqueueWebhook accept.
const (
	maxIdempotencyKeyLength = 200
	maxSourceLength         = 500
	maxAddressLength        = 254 // RFC 5321's limit on a forward path
	maxSubjectLength        = 998 // RFC 5322's limit on a line
	maxEmailBodyBytes       = 512 << 10
)

// capWindow is the window of the frequency cap.
const capWindow = 24 * time.Hour

// Skip reasons recorded on an outbox row.
const (
	// SkipOptedOut: the contact opted out of email.
	SkipOptedOut = "contact opted out"
	// SkipArchived: the contact is archived.
	SkipArchived = "contact archived"
)

// skipCapReason is the skip reason when the frequency cap is reached.
func skipCapReason(limit int) string {
	return fmt.Sprintf("frequency cap: %d emails in 24h", limit)
}

// EmailRequest is one email a step wants sent.
type EmailRequest struct {
	// IdempotencyKey identifies the effect within the workspace, e.g. derived from run id,
	// step id and iteration. Enqueueing the same key again returns the first message unchanged.
	IdempotencyKey string
	// AccountID links the message to an account; with ContactID it defaults to the contact's
	// account and must match it.
	AccountID *uuid.UUID
	// ContactID is the contact the email goes to. Email to a contact must name it: opt-out and
	// the frequency cap are per contact. Nil for email to a user (e.g. the account owner).
	ContactID *uuid.UUID
	// To is the recipient address. With ContactID it may be left empty (the contact's email)
	// and otherwise must be the contact's email.
	To string
	// Subject is one line, required.
	Subject string
	// Text and HTML are the bodies; at least one is required. With both, the email is
	// multipart/alternative.
	Text string
	HTML string
	// Source says what asked for the email, free text, e.g. "play_run:<id>/step:<id>/iter:<n>".
	Source string
}

// EmailPayload is the payload of an EMAIL outbox row, as stored.
type EmailPayload struct {
	From    string `json:"from"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text,omitempty"`
	HTML    string `json:"html,omitempty"`
}

// EnqueueEmail records in idb (the step's transaction) that e is to be sent, and returns the
// outbox row. created is false when the workspace already had a message with
// e.IdempotencyKey: that message is returned as it is (an EMAIL; a WEBHOOK with that key is
// db.ErrConflict). A new row is PENDING, or SKIPPED with the reason when the contact opted out,
// is archived or reached the frequency cap; enqueue a delivery job (EmailArgs) for a PENDING
// row only, in the same transaction. The cap counts the contact's pending and sent emails of
// the last 24 hours by the Service's clock; concurrent enqueues to one contact are serialized
// until their transactions end, so the cap holds under concurrency as long as idb is a READ
// COMMITTED transaction (the default) or no transaction. Bad input is an invalid error naming
// the field; a contact of another workspace is db.ErrNotFound.
func (s *Service) EnqueueEmail(ctx context.Context, idb bun.IDB, t db.Tenant, e EmailRequest) (*db.OutboxMessage, bool, error) {
	if err := s.ready(); err != nil {
		return nil, false, err
	}
	if err := e.normalize(); err != nil {
		return nil, false, err
	}
	if m, err := db.GetOutboxMessageByKey(ctx, idb, t, e.IdempotencyKey); err == nil {
		return existing(m, db.OutboxEmail)
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, false, fmt.Errorf("enqueue email: %w", err)
	}

	now := s.now()
	m := &db.OutboxMessage{
		Kind:           db.OutboxEmail,
		IdempotencyKey: e.IdempotencyKey,
		AccountID:      e.AccountID,
		ContactID:      e.ContactID,
		Source:         e.Source,
		Status:         db.OutboxPending,
		CreatedAt:      now,
	}
	var created bool
	err := idb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if e.ContactID != nil {
			reason, err := s.contactGate(ctx, tx, t, &e, now)
			if err != nil {
				return err
			}
			if reason != "" {
				m.Status, m.SkipReason = db.OutboxSkipped, &reason
			}
			m.AccountID = e.AccountID
		}
		payload, err := json.Marshal(EmailPayload{From: s.cfg.From, To: e.To, Subject: e.Subject, Text: e.Text, HTML: e.HTML})
		if err != nil {
			return fmt.Errorf("encode email payload: %w", err)
		}
		m.Payload = payload
		created, err = db.InsertOutboxMessage(ctx, tx, t, m)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("enqueue email: %w", err)
	}
	if !created {
		return existing(m, db.OutboxEmail)
	}
	return m, true, nil
}

// contactGate loads the contact of e, fills in and checks e.To and e.AccountID, and returns why
// the email must be skipped ("" to send it). It holds the contact's email lock until tx ends.
func (s *Service) contactGate(ctx context.Context, tx bun.Tx, t db.Tenant, e *EmailRequest, now time.Time) (string, error) {
	c, err := db.GetContact(ctx, tx, t, *e.ContactID)
	if err != nil {
		return "", fmt.Errorf("contact: %w", err)
	}
	switch {
	case e.To == "":
		e.To = c.Email
		if _, err := parseAddress(c.Email); err != nil {
			return "", invalid.Field("contactId", "the contact's email is not a valid address")
		}
	case !strings.EqualFold(e.To, c.Email):
		return "", invalid.Field("to", "must be the contact's email when contactId is set")
	}
	switch {
	case e.AccountID == nil:
		e.AccountID = &c.AccountID
	case *e.AccountID != c.AccountID:
		return "", invalid.Field("accountId", "must be the contact's account")
	}
	if c.EmailOptOut {
		return SkipOptedOut, nil
	}
	if c.ArchivedAt != nil {
		return SkipArchived, nil
	}
	if err := db.LockContactEmails(ctx, tx, t, c.ID); err != nil {
		return "", err
	}
	st, err := db.GetWorkspaceSettings(ctx, tx, t)
	if err != nil {
		return "", err
	}
	n, err := db.CountContactEmailsSince(ctx, tx, t, c.ID, now.Add(-capWindow))
	if err != nil {
		return "", err
	}
	if n >= st.EmailDailyCapPerContact {
		return skipCapReason(st.EmailDailyCapPerContact), nil
	}
	return "", nil
}

// existing returns a message found by idempotency key, which must be of kind.
func existing(m *db.OutboxMessage, kind string) (*db.OutboxMessage, bool, error) {
	if m.Kind != kind {
		return nil, false, fmt.Errorf("idempotency key %q is taken by a %s message: %w", m.IdempotencyKey, m.Kind, db.ErrConflict)
	}
	return m, false, nil
}

// normalize trims e and checks what can be checked without the database.
func (e *EmailRequest) normalize() error {
	if err := checkKeyAndSource(e.IdempotencyKey, e.Source); err != nil {
		return err
	}
	e.To = strings.TrimSpace(e.To)
	if e.To != "" {
		addr, err := parseAddress(e.To)
		if err != nil {
			return invalid.Field("to", "%s", err)
		}
		e.To = addr
	} else if e.ContactID == nil {
		return invalid.Field("to", "is required without contactId")
	}
	e.Subject = strings.TrimSpace(e.Subject)
	switch {
	case e.Subject == "":
		return invalid.Field("subject", "is required")
	case len(e.Subject) > maxSubjectLength:
		return invalid.Field("subject", "is longer than %d bytes", maxSubjectLength)
	case strings.ContainsAny(e.Subject, "\r\n"):
		return invalid.Field("subject", "must be one line")
	case !utf8.ValidString(e.Subject):
		return invalid.Field("subject", "is not valid UTF-8")
	}
	switch {
	case strings.TrimSpace(e.Text) == "" && strings.TrimSpace(e.HTML) == "":
		return invalid.Field("text", "text or html is required")
	case len(e.Text) > maxEmailBodyBytes:
		return invalid.Field("text", "is larger than %d KiB", maxEmailBodyBytes>>10)
	case len(e.HTML) > maxEmailBodyBytes:
		return invalid.Field("html", "is larger than %d KiB", maxEmailBodyBytes>>10)
	case !utf8.ValidString(e.Text):
		return invalid.Field("text", "is not valid UTF-8")
	case !utf8.ValidString(e.HTML):
		return invalid.Field("html", "is not valid UTF-8")
	}
	return nil
}

// checkKeyAndSource validates the fields every request has.
func checkKeyAndSource(key, source string) error {
	switch {
	case strings.TrimSpace(key) == "":
		return invalid.Field("idempotencyKey", "is required")
	case len(key) > maxIdempotencyKeyLength:
		return invalid.Field("idempotencyKey", "is longer than %d bytes", maxIdempotencyKeyLength)
	case !utf8.ValidString(key):
		return invalid.Field("idempotencyKey", "is not valid UTF-8")
	case len(source) > maxSourceLength:
		return invalid.Field("source", "is longer than %d bytes", maxSourceLength)
	case !utf8.ValidString(source):
		return invalid.Field("source", "is not valid UTF-8")
	}
	return nil
}

// parseAddress accepts one bare address (a display name is dropped) and returns it.
func parseAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", errors.New("is not an email address")
	}
	if len(a.Address) > maxAddressLength {
		return "", fmt.Errorf("is longer than %d characters", maxAddressLength)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || !strings.Contains(a.Address[at+1:], ".") {
		return "", errors.New("needs a domain")
	}
	return a.Address, nil
}

// Email is one message as a Mailer sends it.
type Email struct {
	// WorkspaceID and OutboxID name the outbox row the email comes from.
	WorkspaceID uuid.UUID
	OutboxID    uuid.UUID
	From        string
	To          string
	Subject     string
	Text        string
	HTML        string
	// Date is the Date header.
	Date time.Time
}

// MessageID is the email's Message-ID without angle brackets: the outbox id at the sender's
// domain, the same on every attempt, so a receiver can drop a duplicate.
func (e *Email) MessageID() string {
	return e.OutboxID.String() + "@" + fromDomain(e.From)
}

// Header names set on every email besides the standard ones.
const (
	// HeaderEmailDeliveryID carries the outbox id, the same on every attempt.
	HeaderEmailDeliveryID = "X-Steward-Delivery-Id"
)

// Mailer hands an email to its transport. Send must be safe for concurrent use. An error wrapping
// ErrPermanent will not be retried.
type Mailer interface {
	Send(ctx context.Context, e *Email) error
}

// DevMailbox is the Mailer used without SMTP: it stores messages in Steward's dev mailbox
// (mailbox_messages), where Service.Mailbox reads them. Storing the same outbox row twice keeps
// one message.
type DevMailbox struct {
	DB *bun.DB
}

// Send stores e in the dev mailbox of e's workspace.
func (d *DevMailbox) Send(ctx context.Context, e *Email) error {
	mm := &db.MailboxMessage{
		OutboxID: e.OutboxID,
		From:     e.From,
		To:       e.To,
		Subject:  e.Subject,
		TextBody: e.Text,
		HTMLBody: e.HTML,
		Headers: map[string]string{
			"Message-ID":          "<" + e.MessageID() + ">",
			HeaderEmailDeliveryID: e.OutboxID.String(),
			"Date":                e.Date.Format(time.RFC1123Z),
			"From":                e.From,
			"To":                  e.To,
			"Subject":             e.Subject,
		},
		ReceivedAt: e.Date,
	}
	if _, err := db.InsertMailboxMessage(ctx, d.DB, db.Tenant{WorkspaceID: e.WorkspaceID}, mm); err != nil {
		return fmt.Errorf("store in dev mailbox: %w", err)
	}
	return nil
}
