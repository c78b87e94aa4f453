package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
)

// Retry timing.
const (
	// BackoffBase is the wait after the first failed attempt; each further failure doubles it.
	BackoffBase = 10 * time.Second
	// BackoffMax caps the wait between attempts.
	BackoffMax = time.Hour
	// bookkeepingTimeout bounds the writes that record an attempt's outcome. They run even
	// when the caller's context is cancelled: an effect that happened must be recorded.
	bookkeepingTimeout = 10 * time.Second
	// maxLastError caps the length of last_error.
	maxLastError = 1000
)

// Backoff returns how long to wait after failed attempt number attempt (1-based) before the
// next: BackoffBase doubled per earlier failure, at most BackoffMax (10s, 20s, 40s, ..., 1h).
func Backoff(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := BackoffBase
	for i := 1; i < attempt && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

// Result is the state of a message after Deliver.
type Result struct {
	// Status is the message's status now: SENT, SKIPPED or FAILED when it is final, PENDING
	// after a retryable failure, SENDING when another worker holds it.
	Status string
	// Attempts counts the attempts made so far, this one included.
	Attempts int
	// AlreadyFinal is true when the message was final before the call and nothing was done.
	AlreadyFinal bool
	// RetryAt is when to try again, with a retryable error (the expected next attempt) or
	// ErrInFlight (the end of the other worker's lease).
	RetryAt time.Time
}

// Deliver performs one attempt at the outbox message id, in whichever workspace it is: the id
// comes from the job arguments, which only Steward's own insert writes (the executor enqueues
// the job with the id EnqueueEmail or EnqueueWebhook returned), so Deliver is for workers and
// never takes an id from a client. Tenant-facing reads (Get, Mailbox) are scoped by db.Tenant.
//
// It claims the message (PENDING, or SENDING with an expired lease: a worker died mid-send),
// counts the attempt, sends it and records the outcome:
//   - sent: SENT, nil error;
//   - skipped (the contact opted out meanwhile): SKIPPED, nil error;
//   - permanent failure, or a retryable one on the last of Config.MaxAttempts: FAILED, and an
//     error wrapping ErrPermanent;
//   - retryable failure: back to PENDING with last_error, and the error; retry later.
//
// A message that is already SENT, SKIPPED or FAILED is left alone: Result.AlreadyFinal, nil
// error. A message another worker holds is ErrInFlight. An unknown id wraps ErrPermanent and
// db.ErrNotFound.
func (s *Service) Deliver(ctx context.Context, id uuid.UUID) (Result, error) {
	if err := s.ready(); err != nil {
		return Result{}, err
	}
	t, err := db.OutboxMessageTenant(ctx, s.DB, id)
	if errors.Is(err, db.ErrNotFound) {
		return Result{}, fmt.Errorf("%w: deliver %s: %w", ErrPermanent, id, err)
	} else if err != nil {
		return Result{}, fmt.Errorf("deliver %s: %w", id, err)
	}
	now := s.now()
	m, err := db.ClaimOutboxMessage(ctx, s.DB, t, id, now, now.Add(s.cfg.SendingLease))
	if errors.Is(err, db.ErrNotFound) {
		return s.unclaimable(ctx, t, id)
	} else if err != nil {
		return Result{}, fmt.Errorf("deliver %s: %w", id, err)
	}

	res := Result{Status: db.OutboxSending, Attempts: m.Attempts}
	var skip string
	var sendErr error
	if m.Attempts > s.cfg.MaxAttempts {
		// Only a worker that died on the last attempt leaves a row here.
		sendErr = fmt.Errorf("%w: gave up after %d attempts", ErrPermanent, s.cfg.MaxAttempts)
	} else {
		switch m.Kind {
		case db.OutboxEmail:
			skip, sendErr = s.sendEmail(ctx, t, m)
		case db.OutboxWebhook:
			sendErr = s.sendWebhook(ctx, t, m)
		default:
			sendErr = fmt.Errorf("%w: unknown kind %q", ErrPermanent, m.Kind)
		}
	}
	return s.record(ctx, t, m, res, skip, sendErr)
}

// unclaimable explains why the message id could not be claimed.
func (s *Service) unclaimable(ctx context.Context, t db.Tenant, id uuid.UUID) (Result, error) {
	cur, err := db.GetOutboxMessage(ctx, s.DB, t, id)
	if err != nil {
		return Result{}, fmt.Errorf("deliver %s: %w", id, err)
	}
	res := Result{Status: cur.Status, Attempts: cur.Attempts, AlreadyFinal: cur.Final()}
	if cur.Final() {
		return res, nil
	}
	if cur.LockedUntil != nil {
		res.RetryAt = *cur.LockedUntil
	}
	return res, fmt.Errorf("deliver %s: %w", id, ErrInFlight)
}

// record writes the outcome of the attempt m made and returns Deliver's answer.
func (s *Service) record(ctx context.Context, t db.Tenant, m *db.OutboxMessage, res Result, skip string, sendErr error) (Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bookkeepingTimeout)
	defer cancel()
	now := s.now()
	var err error
	switch {
	case sendErr == nil && skip != "":
		res.Status = db.OutboxSkipped
		err = db.MarkOutboxSkipped(ctx, s.DB, t, m.ID, m.Attempts, skip)
	case sendErr == nil:
		res.Status = db.OutboxSent
		err = db.MarkOutboxSent(ctx, s.DB, t, m.ID, m.Attempts, now)
	case errors.Is(sendErr, ErrPermanent) || m.Attempts >= s.cfg.MaxAttempts:
		if !errors.Is(sendErr, ErrPermanent) {
			sendErr = fmt.Errorf("%w: attempt %d of %d: %w", ErrPermanent, m.Attempts, s.cfg.MaxAttempts, sendErr)
		}
		res.Status = db.OutboxFailed
		err = db.MarkOutboxFailed(ctx, s.DB, t, m.ID, m.Attempts, lastError(sendErr))
	default:
		res.Status = db.OutboxPending
		res.RetryAt = now.Add(Backoff(m.Attempts))
		err = db.ReleaseOutboxMessage(ctx, s.DB, t, m.ID, m.Attempts, lastError(sendErr), res.RetryAt)
	}
	if err != nil {
		// The effect may have happened; the row stays SENDING and is retried once its lease
		// runs out, and the receiver deduplicates on the delivery id. So the error must stay
		// retryable even when the send failed for good: the job has to come back to finish.
		slog.ErrorContext(ctx, "record delivery outcome", "outbox_id", m.ID, "workspace_id", t.WorkspaceID,
			"status", res.Status, "send_error", sendErr, "error", err)
		res.Status = db.OutboxSending
		if m.LockedUntil != nil {
			res.RetryAt = *m.LockedUntil
		}
		if sendErr != nil {
			return res, fmt.Errorf("deliver %s: record outcome: %w (send error: %v)", m.ID, err, sendErr)
		}
		return res, fmt.Errorf("deliver %s: record outcome: %w", m.ID, err)
	}
	if sendErr != nil {
		return res, fmt.Errorf("deliver %s: %w", m.ID, sendErr)
	}
	return res, nil
}

// lastError renders err for the last_error column.
func lastError(err error) string {
	msg := strings.ToValidUTF8(strings.TrimPrefix(err.Error(), ErrPermanent.Error()+": "), "")
	if len(msg) > maxLastError {
		msg = strings.ToValidUTF8(msg[:maxLastError], "") + "…"
	}
	return msg
}

// sendEmail performs one attempt of the email m. It returns a skip reason instead when the
// contact opted out (or was archived) since the email was enqueued.
func (s *Service) sendEmail(ctx context.Context, t db.Tenant, m *db.OutboxMessage) (skip string, err error) {
	var p EmailPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", fmt.Errorf("%w: decode email payload: %w", ErrPermanent, err)
	}
	if m.ContactID != nil {
		c, err := db.GetContact(ctx, s.DB, t, *m.ContactID)
		if err != nil {
			return "", fmt.Errorf("load contact: %w", err)
		}
		if c.EmailOptOut {
			return SkipOptedOut, nil
		}
		if c.ArchivedAt != nil {
			return SkipArchived, nil
		}
	}
	e := &Email{
		WorkspaceID: t.WorkspaceID,
		OutboxID:    m.ID,
		From:        p.From,
		To:          p.To,
		Subject:     p.Subject,
		Text:        p.Text,
		HTML:        p.HTML,
		Date:        s.now(),
	}
	if err := s.mailer.Send(ctx, e); err != nil {
		return "", err
	}
	return "", nil
}

// GiveUp marks the PENDING message id FAILED with reason: its job queue will not try again
// (River ran out of attempts before Config.MaxAttempts). A message in any other state is left
// alone and GiveUp returns nil.
func (s *Service) GiveUp(ctx context.Context, id uuid.UUID, reason error) error {
	t, err := db.OutboxMessageTenant(ctx, s.DB, id)
	if err != nil {
		return fmt.Errorf("give up on %s: %w", id, err)
	}
	msg := "job gave up"
	if reason != nil {
		msg += ": " + lastError(reason)
	}
	err = db.AbandonOutboxMessage(ctx, s.DB, t, id, msg)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("give up on %s: %w", id, err)
	}
	return nil
}
