package delivery

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// jobRow is the River job row of attempt number attempt out of maxAttempts.
func jobRow(attempt, maxAttempts int) *rivertype.JobRow {
	return &rivertype.JobRow{Attempt: attempt, MaxAttempts: maxAttempts}
}

func TestJobArgs(t *testing.T) {
	t.Parallel()
	var _ river.JobArgs = EmailArgs{}
	var _ river.Worker[EmailArgs] = &EmailWorker{}
	var _ river.Worker[WebhookArgs] = &WebhookWorker{}
	require.Equal(t, "delivery_email", EmailArgs{}.Kind())
	require.Equal(t, "delivery_webhook", WebhookArgs{}.Kind())
	raw, err := json.Marshal(WebhookArgs{OutboxID: [16]byte{1}})
	require.NoError(t, err)
	require.JSONEq(t, `{"outbox_id":"01000000-0000-0000-0000-000000000000"}`, string(raw), "only the row id travels")
}

func TestWorkers(t *testing.T) {
	t.Parallel()

	t.Run("sent, then a no-op", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		c := b.createContact(t, contactOpts{})
		m := b.enqueueEmail(t, emailTo(c, "worker"))
		w := &EmailWorker{Service: b.svc}
		job := &river.Job[EmailArgs]{JobRow: jobRow(1, 25), Args: EmailArgs{OutboxID: m.ID}}
		require.NoError(t, w.Work(b.ctx, job))
		require.NoError(t, w.Work(b.ctx, job))
		require.Equal(t, db.OutboxSent, b.reload(t, m.ID).Status)
		require.Equal(t, DefaultSendingLease/2, w.Timeout(job))
	})

	t.Run("a permanent failure cancels the job", func(t *testing.T) {
		t.Parallel()
		hook := startHook(t, http.StatusGone)
		b := setup(t, devConfig)
		m := b.enqueueWebhook(t, b.svc, "worker-gone", hook.URL)
		w := &WebhookWorker{Service: b.svc}
		err := w.Work(b.ctx, &river.Job[WebhookArgs]{JobRow: jobRow(1, 25), Args: WebhookArgs{OutboxID: m.ID}})
		var cancel *river.JobCancelError
		require.ErrorAs(t, err, &cancel)
		require.ErrorIs(t, err, ErrPermanent)
	})

	t.Run("a retryable failure is retried, and marked FAILED when River gives up", func(t *testing.T) {
		t.Parallel()
		hook := startHook(t, http.StatusBadGateway)
		b := setup(t, devConfig)
		m := b.enqueueWebhook(t, b.svc, "worker-502", hook.URL)
		w := &WebhookWorker{Service: b.svc}

		err := w.Work(b.ctx, &river.Job[WebhookArgs]{JobRow: jobRow(1, 2), Args: WebhookArgs{OutboxID: m.ID}})
		require.Error(t, err)
		var cancel *river.JobCancelError
		require.NotErrorAs(t, err, &cancel)
		require.Equal(t, db.OutboxPending, b.reload(t, m.ID).Status)

		err = w.Work(b.ctx, &river.Job[WebhookArgs]{JobRow: jobRow(2, 2), Args: WebhookArgs{OutboxID: m.ID}})
		require.Error(t, err)
		row := b.reload(t, m.ID)
		require.Equal(t, db.OutboxFailed, row.Status)
		require.Contains(t, *row.LastError, "job gave up")
		require.Contains(t, *row.LastError, "HTTP 502")
	})

	t.Run("a message held by another worker snoozes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		c := b.createContact(t, contactOpts{})
		m := b.enqueueEmail(t, emailTo(c, "worker-held"))
		_, err := db.ClaimOutboxMessage(b.ctx, b.db.Bun, b.tenant, m.ID, b.clock.Now(), b.clock.Now().Add(time.Minute))
		require.NoError(t, err)
		err = (&EmailWorker{Service: b.svc}).Work(b.ctx, &river.Job[EmailArgs]{JobRow: jobRow(1, 25), Args: EmailArgs{OutboxID: m.ID}})
		var snooze *river.JobSnoozeError
		require.ErrorAs(t, err, &snooze)
		require.Equal(t, time.Minute+time.Second, snooze.Duration)
	})

	t.Run("retries back off with jitter", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		w := &EmailWorker{Service: b.svc}
		for attempt, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 4: 80 * time.Second, 30: time.Hour} {
			next := w.NextRetry(&river.Job[EmailArgs]{JobRow: jobRow(attempt, 25)})
			wait := next.Sub(b.clock.Now())
			require.GreaterOrEqual(t, wait, want)
			require.Less(t, wait, want+want/5+time.Nanosecond)
		}
	})
}
