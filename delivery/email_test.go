package delivery

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// requireInvalid asserts err is bad input naming field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	in, ok := invalid.As(err)
	require.True(t, ok, "want an invalid error on %s, got %v", field, err)
	require.Equal(t, field, in.Field)
}

func TestSMTPDelivery(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, smtpOpts{})
	b := setup(t, Config{SMTPURL: srv.url()})
	c := b.createContact(t, contactOpts{Email: "Casey@Example.com"})

	t.Run("sends once, with deterministic ids", func(t *testing.T) {
		m, created, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, emailTo(c, "welcome"))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, db.OutboxPending, m.Status)
		require.Equal(t, b.account.ID, *m.AccountID, "the account defaults to the contact's")
		require.Equal(t, "play_run:test/step:welcome/iter:0", m.Source)

		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, Result{Status: db.OutboxSent, Attempts: 1}, res)

		got := srv.messages()
		require.Len(t, got, 1)
		require.Equal(t, "no-reply@steward.local", got[0].From)
		require.Equal(t, []string{"Casey@Example.com"}, got[0].To)
		p := parseMail(t, got[0].Data)
		require.Equal(t, "Welcome aboard", p.Subject)
		require.Equal(t, "Hello Casey,\nthanks for joining.", p.Text)
		require.Equal(t, "<"+m.ID.String()+"@steward.local>", p.Header.Get("Message-ID"))
		require.Equal(t, m.ID.String(), p.Header.Get(HeaderEmailDeliveryID))
		require.Contains(t, p.Header.Get("From"), "no-reply@steward.local")
		require.Contains(t, p.Header.Get("To"), "Casey@Example.com")

		row := b.reload(t, m.ID)
		require.Equal(t, db.OutboxSent, row.Status)
		require.Equal(t, 1, row.Attempts)
		require.True(t, row.SentAt.Equal(b.clock.Now()))
		require.Nil(t, row.LockedUntil)

		res, err = b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, Result{Status: db.OutboxSent, Attempts: 1, AlreadyFinal: true}, res)
		require.Len(t, srv.messages(), 1, "a SENT message is never sent again")
	})

	t.Run("text and html make a multipart/alternative", func(t *testing.T) {
		e := emailTo(c, "html")
		e.HTML = "<p>Hello <b>Casey</b> — welcome</p>"
		m := b.enqueueEmail(t, e)
		before := len(srv.messages())
		_, err := b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		got := srv.messages()
		require.Len(t, got, before+1)
		p := parseMail(t, got[before].Data)
		require.Equal(t, e.Text, p.Text)
		require.Equal(t, e.HTML, p.HTML)
	})
}

func TestSMTPCrashedAttempt(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, smtpOpts{})
	b := setup(t, Config{SMTPURL: srv.url()})
	c := b.createContact(t, contactOpts{})

	t.Run("a SENDING row whose lease ran out is retried once", func(t *testing.T) {
		m := b.enqueueEmail(t, emailTo(c, "crashed"))
		// A worker claimed it long ago and died before recording anything.
		long := b.clock.Now().Add(-DefaultSendingLease - time.Minute)
		_, err := db.ClaimOutboxMessage(b.ctx, b.db.Bun, b.tenant, m.ID, long, long.Add(DefaultSendingLease))
		require.NoError(t, err)

		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, Result{Status: db.OutboxSent, Attempts: 2}, res)
		_, err = b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Len(t, srv.messages(), 1)
	})

	t.Run("a row another worker holds is left alone", func(t *testing.T) {
		m := b.enqueueEmail(t, emailTo(c, "in-flight"))
		until := b.clock.Now().Add(DefaultSendingLease)
		_, err := db.ClaimOutboxMessage(b.ctx, b.db.Bun, b.tenant, m.ID, b.clock.Now(), until)
		require.NoError(t, err)
		before := len(srv.messages())

		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.ErrorIs(t, err, ErrInFlight)
		require.NotErrorIs(t, err, ErrPermanent)
		require.Equal(t, db.OutboxSending, res.Status)
		require.True(t, res.RetryAt.Equal(until))
		require.Len(t, srv.messages(), before)
		require.Equal(t, 1, b.reload(t, m.ID).Attempts, "a refused claim is not an attempt")
	})
}

func TestSMTPServerDown(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	b := setup(t, Config{SMTPURL: "smtp://" + addr + "?tls=none", SMTPTimeout: 5 * time.Second})
	c := b.createContact(t, contactOpts{})
	m := b.enqueueEmail(t, emailTo(c, "down"))

	res, err := b.svc.Deliver(b.ctx, m.ID)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrPermanent, "a server that is down is worth retrying")
	require.Equal(t, db.OutboxPending, res.Status)
	require.Equal(t, 1, res.Attempts)
	require.True(t, res.RetryAt.Equal(b.clock.Now().Add(BackoffBase)))
	row := b.reload(t, m.ID)
	require.Equal(t, db.OutboxPending, row.Status)
	require.Equal(t, 1, row.Attempts)
	require.NotNil(t, row.LastError)
	require.Contains(t, *row.LastError, "dial")
	require.True(t, row.NextAttemptAt.Equal(res.RetryAt))
	require.Nil(t, row.LockedUntil)

	srv := startSMTP(t, smtpOpts{Addr: addr})
	b.clock.Advance(BackoffBase)
	res, err = b.svc.Deliver(b.ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, Result{Status: db.OutboxSent, Attempts: 2}, res)
	require.Len(t, srv.messages(), 1)
	require.Nil(t, b.reload(t, m.ID).LastError, "success clears the last error")
}

func TestSMTPMaxAttempts(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{SMTPURL: "smtp://" + freeAddr(t) + "?tls=none", MaxAttempts: 2})
	c := b.createContact(t, contactOpts{})
	m := b.enqueueEmail(t, emailTo(c, "doomed"))

	_, err := b.svc.Deliver(b.ctx, m.ID)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrPermanent)

	res, err := b.svc.Deliver(b.ctx, m.ID)
	require.ErrorIs(t, err, ErrPermanent)
	require.Equal(t, Result{Status: db.OutboxFailed, Attempts: 2}, res)
	row := b.reload(t, m.ID)
	require.Equal(t, db.OutboxFailed, row.Status)
	require.Contains(t, *row.LastError, "attempt 2 of 2")

	res, err = b.svc.Deliver(b.ctx, m.ID)
	require.NoError(t, err)
	require.True(t, res.AlreadyFinal)
}

func TestSMTPReplies(t *testing.T) {
	t.Parallel()
	srv := startSMTP(t, smtpOpts{Reject: map[string]*smtp.SMTPError{
		"bounce@example.com": {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"busy@example.com":   {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"},
	}})
	b := setup(t, Config{SMTPURL: srv.url()})

	t.Run("a 5xx to RCPT TO fails for good", func(t *testing.T) {
		m := b.enqueueEmail(t, EmailRequest{IdempotencyKey: "bounce", To: "bounce@example.com", Subject: "Hi", Text: "x"})
		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.ErrorIs(t, err, ErrPermanent)
		require.Equal(t, db.OutboxFailed, res.Status)
		require.Contains(t, *b.reload(t, m.ID).LastError, "no such user")
	})

	t.Run("a 4xx is retried", func(t *testing.T) {
		m := b.enqueueEmail(t, EmailRequest{IdempotencyKey: "busy", To: "busy@example.com", Subject: "Hi", Text: "x"})
		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrPermanent)
		require.Equal(t, db.OutboxPending, res.Status)
	})
	require.Empty(t, srv.messages())
}

func TestSMTPStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	pair := newTLSPair(t)
	srv := startSMTP(t, smtpOpts{TLS: pair, Auth: &[2]string{"steward", "s3cret/p@ss"}})
	smtpURL := func(password string) string {
		u := url.URL{Scheme: "smtp", User: url.UserPassword("steward", password), Host: srv.addr, RawQuery: "tls=starttls"}
		return u.String()
	}
	b := setup(t, Config{SMTPURL: smtpURL("s3cret/p@ss"), SMTPTLSConfig: pair.client, From: "CS Team <cs@acme.example>"})
	c := b.createContact(t, contactOpts{})
	m := b.enqueueEmail(t, emailTo(c, "tls"))

	_, err := b.svc.Deliver(b.ctx, m.ID)
	require.NoError(t, err)
	got := srv.messages()
	require.Len(t, got, 1)
	require.Equal(t, "cs@acme.example", got[0].From)
	require.Equal(t, "<"+m.ID.String()+"@acme.example>", parseMail(t, got[0].Data).Header.Get("Message-ID"))

	t.Run("a wrong password is retried, not sent", func(t *testing.T) {
		bad := b.service(t, Config{SMTPURL: smtpURL("wrong"), SMTPTLSConfig: pair.client})
		m := b.enqueueEmail(t, emailTo(c, "tls-bad-auth"))
		_, err := bad.Deliver(b.ctx, m.ID)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrPermanent)
		require.Len(t, srv.messages(), 1)
	})
}

func TestDevMailbox(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	c := b.createContact(t, contactOpts{Email: "dev@example.com"})
	e := emailTo(c, "dev")
	e.HTML = "<p>Hello</p>"
	m := b.enqueueEmail(t, e)

	res, err := b.svc.Deliver(b.ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, db.OutboxSent, res.Status)

	box, err := b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{})
	require.NoError(t, err)
	require.Len(t, box, 1)
	got := box[0]
	require.Equal(t, m.ID, got.OutboxID)
	require.Equal(t, DefaultFrom, got.From)
	require.Equal(t, "dev@example.com", got.To)
	require.Equal(t, "Welcome aboard", got.Subject)
	require.Equal(t, e.Text, got.TextBody)
	require.Equal(t, e.HTML, got.HTMLBody)
	require.Equal(t, "<"+m.ID.String()+"@steward.local>", got.Headers["Message-ID"])
	require.Equal(t, m.ID.String(), got.Headers[HeaderEmailDeliveryID])
	require.True(t, got.ReceivedAt.Equal(b.clock.Now()))

	t.Run("delivering again stores nothing", func(t *testing.T) {
		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.True(t, res.AlreadyFinal)
		// Even a crash between storing and marking SENT stores the message once.
		mb := &DevMailbox{DB: b.db.Bun}
		require.NoError(t, mb.Send(b.ctx, &Email{WorkspaceID: b.tenant.WorkspaceID, OutboxID: m.ID, From: DefaultFrom, To: "dev@example.com", Subject: "again", Date: b.clock.Now()}))
		box, err := b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{})
		require.NoError(t, err)
		require.Len(t, box, 1)
		require.Equal(t, "Welcome aboard", box[0].Subject)
	})

	t.Run("filters and limits", func(t *testing.T) {
		other := b.createContact(t, contactOpts{Email: "other@example.com"})
		for i := range 3 {
			b.clock.Advance(time.Second)
			m := b.enqueueEmail(t, EmailRequest{IdempotencyKey: fmt.Sprint("other-", i), ContactID: &other.ID, Subject: fmt.Sprint("n", i), Text: "x"})
			_, err := b.svc.Deliver(b.ctx, m.ID)
			require.NoError(t, err)
		}
		box, err := b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{To: "OTHER@example.com", Limit: 2})
		require.NoError(t, err)
		require.Len(t, box, 2)
		require.Equal(t, "n2", box[0].Subject, "newest first")
		require.Equal(t, "n1", box[1].Subject)

		box, err = b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{To: "dev@example.com"})
		require.NoError(t, err)
		require.Len(t, box, 1)

		_, err = b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{Limit: MaxMailboxLimit + 1})
		requireInvalid(t, err, "limit")
	})
}

func TestOptOut(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})

	t.Run("an opted-out contact is skipped at enqueue", func(t *testing.T) {
		c := b.createContact(t, contactOpts{OptOut: true})
		m, created, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, emailTo(c, "opted-out"))
		require.NoError(t, err)
		require.True(t, created, "the skip is recorded, so the step can show it")
		require.Equal(t, db.OutboxSkipped, m.Status)
		require.Equal(t, SkipOptedOut, *m.SkipReason)

		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, Result{Status: db.OutboxSkipped, AlreadyFinal: true}, res)
	})

	t.Run("opting out after enqueue skips at delivery", func(t *testing.T) {
		c := b.createContact(t, contactOpts{})
		m := b.enqueueEmail(t, emailTo(c, "late-opt-out"))
		require.Equal(t, db.OutboxPending, m.Status)
		b.setOptOut(t, c, true)

		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, db.OutboxSkipped, res.Status)
		require.Equal(t, SkipOptedOut, *b.reload(t, m.ID).SkipReason)
	})

	box, err := b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{})
	require.NoError(t, err)
	require.Empty(t, box, "nothing was sent")
}

func TestFrequencyCap(t *testing.T) {
	t.Parallel()

	t.Run("default cap is 3 per contact per 24h", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		c := b.createContact(t, contactOpts{})
		for i := range db.DefaultEmailDailyCapPerContact {
			require.Equal(t, db.OutboxPending, b.enqueueEmail(t, emailTo(c, fmt.Sprint("d", i))).Status)
		}
		m := b.enqueueEmail(t, emailTo(c, "d-over"))
		require.Equal(t, db.OutboxSkipped, m.Status)
		require.Equal(t, "frequency cap: 3 emails in 24h", *m.SkipReason)
	})

	t.Run("a workspace cap of 2, across plays, for 24 hours", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		require.NoError(t, db.SetEmailDailyCap(b.ctx, b.db.Bun, b.tenant, 2, b.clock.Now()))
		c := b.createContact(t, contactOpts{})
		other := b.createContact(t, contactOpts{})

		first := b.enqueueEmail(t, emailTo(c, "play-a/1"))
		b.clock.Advance(time.Hour)
		_, err := b.svc.Deliver(b.ctx, first.ID)
		require.NoError(t, err) // sent emails count
		second := b.enqueueEmail(t, emailTo(c, "play-b/1"))
		require.Equal(t, db.OutboxPending, second.Status) // pending ones too
		third := b.enqueueEmail(t, emailTo(c, "play-c/1"))
		require.Equal(t, db.OutboxSkipped, third.Status)
		require.Equal(t, "frequency cap: 2 emails in 24h", *third.SkipReason)
		require.Equal(t, db.OutboxPending, b.enqueueEmail(t, emailTo(other, "play-c/2")).Status, "the cap is per contact")

		// Emails to a user (no contact) are not capped.
		for i := range 3 {
			m := b.enqueueEmail(t, EmailRequest{IdempotencyKey: fmt.Sprint("owner-", i), To: "owner@example.com", Subject: "Heads up", Text: "x"})
			require.Equal(t, db.OutboxPending, m.Status)
		}

		// 24 hours after the first, one slot is free again; the skipped one never counted.
		b.clock.Advance(23*time.Hour + time.Second)
		require.Equal(t, db.OutboxPending, b.enqueueEmail(t, emailTo(c, "play-d/1")).Status)
		require.Equal(t, db.OutboxSkipped, b.enqueueEmail(t, emailTo(c, "play-d/2")).Status)
	})

	t.Run("a cap of 0 turns emails to contacts off", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		require.NoError(t, db.SetEmailDailyCap(b.ctx, b.db.Bun, b.tenant, 0, b.clock.Now()))
		st, err := db.GetWorkspaceSettings(b.ctx, b.db.Bun, b.tenant)
		require.NoError(t, err)
		require.Equal(t, 0, st.EmailDailyCapPerContact)
		c := b.createContact(t, contactOpts{})
		require.Equal(t, db.OutboxSkipped, b.enqueueEmail(t, emailTo(c, "zero")).Status)
		require.ErrorIs(t, db.SetEmailDailyCap(b.ctx, b.db.Bun, b.tenant, -1, b.clock.Now()), db.ErrInvalidValue)
	})

	t.Run("concurrent enqueues respect the cap", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{})
		require.NoError(t, db.SetEmailDailyCap(b.ctx, b.db.Bun, b.tenant, 2, b.clock.Now()))
		c := b.createContact(t, contactOpts{})
		const n = 8
		statuses := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
					m, _, err := b.svc.EnqueueEmail(ctx, tx, b.tenant, emailTo(c, fmt.Sprint("race-", i)))
					if err != nil {
						return err
					}
					statuses[i] = m.Status
					return nil
				})
				require.NoError(t, err)
			})
		}
		wg.Wait()
		pending := 0
		for _, s := range statuses {
			if s == db.OutboxPending {
				pending++
			}
		}
		require.Equal(t, 2, pending, "statuses: %v", statuses)
	})
}

func TestEmailIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	c := b.createContact(t, contactOpts{})

	t.Run("the same key twice is one row", func(t *testing.T) {
		first, created, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, emailTo(c, "run-1/step-1/0"))
		require.NoError(t, err)
		require.True(t, created)
		e := emailTo(c, "run-1/step-1/0")
		e.Subject = "changed"
		again, created, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, e)
		require.NoError(t, err)
		require.False(t, created)
		require.Equal(t, first.ID, again.ID)
		require.JSONEq(t, string(first.Payload), string(again.Payload), "the first request wins")
		require.Equal(t, 1, b.countOutbox(t))
	})

	t.Run("a rolled-back step leaves no row", func(t *testing.T) {
		errRollback := errors.New("step failed")
		err := db.InTx(b.ctx, b.db.Bun, func(ctx context.Context, tx bun.Tx) error {
			m, created, err := b.svc.EnqueueEmail(ctx, tx, b.tenant, emailTo(c, "run-2/step-1/0"))
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, db.OutboxPending, m.Status)
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		_, err = db.GetOutboxMessageByKey(b.ctx, b.db.Bun, b.tenant, "run-2/step-1/0")
		require.ErrorIs(t, err, db.ErrNotFound)

		_, created, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, emailTo(c, "run-2/step-1/0"))
		require.NoError(t, err)
		require.True(t, created, "the retried step creates it")
	})

	t.Run("a key taken by a webhook is a conflict", func(t *testing.T) {
		_, _, err := b.svc.EnqueueWebhook(b.ctx, b.db.Bun, b.tenant, WebhookRequest{IdempotencyKey: "shared", URL: "https://hooks.example.com/x", Body: []byte(`{}`)})
		require.NoError(t, err)
		_, _, err = b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, emailTo(c, "shared"))
		require.ErrorIs(t, err, db.ErrConflict)
	})

	t.Run("keys are per workspace", func(t *testing.T) {
		b2 := setup(t, Config{})
		c2 := b2.createContact(t, contactOpts{})
		m, created, err := b2.svc.EnqueueEmail(b2.ctx, b2.db.Bun, b2.tenant, emailTo(c2, "run-1/step-1/0"))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, b2.tenant.WorkspaceID, m.WorkspaceID)
	})
}

func TestEnqueueEmailValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	c := b.createContact(t, contactOpts{Email: "val@example.com"})
	otherAccount := uuid.New()
	for _, tc := range []struct {
		name  string
		edit  func(*EmailRequest)
		field string
	}{
		{"no key", func(e *EmailRequest) { e.IdempotencyKey = " " }, "idempotencyKey"},
		{"long key", func(e *EmailRequest) { e.IdempotencyKey = strings.Repeat("k", 201) }, "idempotencyKey"},
		{"bad address", func(e *EmailRequest) { e.ContactID = nil; e.To = "not-an-address" }, "to"},
		{"no domain", func(e *EmailRequest) { e.ContactID = nil; e.To = "casey@localhost" }, "to"},
		{"no recipient", func(e *EmailRequest) { e.ContactID = nil }, "to"},
		{"not the contact's address", func(e *EmailRequest) { e.To = "someone@example.com" }, "to"},
		{"not the contact's account", func(e *EmailRequest) { e.AccountID = &otherAccount }, "accountId"},
		{"no subject", func(e *EmailRequest) { e.Subject = "  " }, "subject"},
		{"two-line subject", func(e *EmailRequest) { e.Subject = "Hi\r\nBcc: everyone@example.com" }, "subject"},
		{"no body", func(e *EmailRequest) { e.Text = ""; e.HTML = " " }, "text"},
		{"huge body", func(e *EmailRequest) { e.Text = strings.Repeat("x", maxEmailBodyBytes+1) }, "text"},
		{"long source", func(e *EmailRequest) { e.Source = strings.Repeat("s", 501) }, "source"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := emailTo(c, "validation")
			tc.edit(&e)
			_, _, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, e)
			requireInvalid(t, err, tc.field)
		})
	}
	t.Run("the contact's address in any case is fine", func(t *testing.T) {
		e := emailTo(c, "validation-ok")
		e.To = "Casey <VAL@example.com>"
		m := b.enqueueEmail(t, e)
		require.JSONEq(t, `{"from":"Steward <no-reply@steward.local>","to":"VAL@example.com","subject":"Welcome aboard","text":"Hello Casey,\nthanks for joining."}`, string(m.Payload))
	})
	require.Equal(t, 1, b.countOutbox(t))
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	a := setup(t, Config{})
	b := setup(t, Config{})
	ca := a.createContact(t, contactOpts{})
	m := a.enqueueEmail(t, emailTo(ca, "secret"))
	_, err := a.svc.Deliver(a.ctx, m.ID)
	require.NoError(t, err)

	_, err = b.svc.Get(b.ctx, b.db.Bun, b.tenant, m.ID)
	require.ErrorIs(t, err, db.ErrNotFound, "another workspace's message is not found")
	box, err := b.svc.Mailbox(b.ctx, b.db.Bun, b.tenant, MailboxFilter{})
	require.NoError(t, err)
	require.Empty(t, box)
	_, _, err = b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, emailTo(ca, "steal"))
	require.ErrorIs(t, err, db.ErrNotFound, "another workspace's contact is not found")
	_, _, err = b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, EmailRequest{IdempotencyKey: "steal-account", AccountID: &a.account.ID, To: "x@example.com", Subject: "s", Text: "t"})
	require.ErrorIs(t, err, db.ErrInvalidReference, "another workspace's account is refused by the foreign key")
	require.Zero(t, b.countOutbox(t))

	res, err := b.svc.Deliver(b.ctx, uuid.New())
	require.ErrorIs(t, err, ErrPermanent)
	require.ErrorIs(t, err, db.ErrNotFound)
	require.Equal(t, Result{}, res)
}

// tlsPair is a self-signed certificate for 127.0.0.1: the server side and a client config that
// trusts it.
type tlsPair struct {
	server *tls.Config
	client *tls.Config
}

func newTLSPair(t *testing.T) *tlsPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtp.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tlsPair{
		server: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
		client: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
}
