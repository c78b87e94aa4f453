package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// River job kinds of the delivery jobs.
const (
	KindEmail   = "delivery_email"
	KindWebhook = "delivery_webhook"
)

// EmailArgs is the River job that delivers one EMAIL outbox row. It holds only the row id;
// insert it with InsertTx in the transaction that called EnqueueEmail.
type EmailArgs struct {
	OutboxID uuid.UUID `json:"outbox_id"`
}

// Kind implements river.JobArgs.
func (EmailArgs) Kind() string { return KindEmail }

// WebhookArgs is the River job that delivers one WEBHOOK outbox row; see EmailArgs.
type WebhookArgs struct {
	OutboxID uuid.UUID `json:"outbox_id"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return KindWebhook }

// EmailWorker works EmailArgs jobs by calling Service.Deliver. Emails and webhooks are separate
// kinds so they can get their own queues and concurrency, and a slow SMTP server does not hold
// up webhooks. Register it with river.AddWorker; nothing here registers itself.
type EmailWorker struct {
	river.WorkerDefaults[EmailArgs]
	Service *Service
}

// Work delivers the job's message; see workDelivery for how outcomes map to River.
func (w *EmailWorker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	return w.Service.workDelivery(ctx, job.Args.OutboxID, job.JobRow)
}

// NextRetry spaces retries by Backoff, with jitter.
func (w *EmailWorker) NextRetry(job *river.Job[EmailArgs]) time.Time {
	return w.Service.nextRetry(job.Attempt)
}

// Timeout ends an attempt well before its lease runs out, so no other worker takes over a
// message that is still being sent.
func (w *EmailWorker) Timeout(*river.Job[EmailArgs]) time.Duration { return w.Service.jobTimeout() }

// WebhookWorker works WebhookArgs jobs by calling Service.Deliver; see EmailWorker.
type WebhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	Service *Service
}

// Work delivers the job's message; see workDelivery.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) error {
	return w.Service.workDelivery(ctx, job.Args.OutboxID, job.JobRow)
}

// NextRetry spaces retries by Backoff, with jitter.
func (w *WebhookWorker) NextRetry(job *river.Job[WebhookArgs]) time.Time {
	return w.Service.nextRetry(job.Attempt)
}

// Timeout: see EmailWorker.Timeout.
func (w *WebhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return w.Service.jobTimeout()
}

// workDelivery maps Deliver's outcome to River: done (sent, skipped, already final) completes
// the job; a permanent failure cancels it (river.JobCancel); a message held by another worker
// snoozes until that lease ends, without spending an attempt; a retryable failure is returned,
// so River retries after NextRetry, and on River's last attempt the message is marked FAILED
// first, so no row stays PENDING without a job.
func (s *Service) workDelivery(ctx context.Context, id uuid.UUID, job *rivertype.JobRow) error {
	res, err := s.Deliver(ctx, id)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrPermanent):
		return river.JobCancel(err)
	case errors.Is(err, ErrInFlight):
		wait := time.Second
		if !res.RetryAt.IsZero() {
			wait = max(res.RetryAt.Sub(s.now())+time.Second, time.Second)
		}
		return river.JobSnooze(wait)
	}
	if job != nil && job.Attempt >= job.MaxAttempts {
		if gerr := s.GiveUp(ctx, id, err); gerr != nil {
			return errors.Join(err, gerr)
		}
	}
	return err
}

// nextRetry is the time of the attempt after failed attempt number attempt: Backoff with up to
// 20% jitter, so messages that failed together (an SMTP outage) do not retry in lockstep.
func (s *Service) nextRetry(attempt int) time.Time {
	d := Backoff(attempt)
	jitter := time.Duration(rand.Int64N(int64(d) / 5)) //nolint:gosec // timing jitter, not security
	return s.now().Add(d + jitter)
}

// jobTimeout is half the sending lease.
func (s *Service) jobTimeout() time.Duration {
	if err := s.ready(); err != nil {
		return 0
	}
	return s.cfg.SendingLease / 2
}
