package delivery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Errors Deliver wraps, so callers (the River workers) can tell how to go on.
var (
	// ErrPermanent marks a failure that retrying cannot fix: the message is FAILED (or does not
	// exist) and its job should be cancelled.
	ErrPermanent = errors.New("permanent delivery failure")
	// ErrInFlight means another worker holds the message's lease; try again once it runs out
	// (Result.RetryAt).
	ErrInFlight = errors.New("message is being delivered by another worker")
	// ErrForbiddenTarget means a webhook URL points at a loopback, private, link-local or
	// otherwise non-public address while Config.AllowPrivateWebhookTargets is off.
	ErrForbiddenTarget = errors.New("webhook target is not a public address")
)

// webhookSecretSize is the size in bytes of a generated webhook signing secret.
const webhookSecretSize = 32

// Service enqueues and delivers emails and webhooks. Build it with New, or as a literal whose
// Config is checked on first use. It is safe for concurrent use and must not be copied after
// first use.
type Service struct {
	// DB is where Deliver reads and writes outbox rows and the dev mailbox stores messages.
	DB *bun.DB
	Config
	// Now is the clock (timestamps, the frequency cap's 24-hour window, webhook timestamps);
	// nil means time.Now.
	Now func() time.Time

	once    sync.Once
	initErr error
	cfg     Config // Config with defaults applied, fixed at first use
	mailer  Mailer
	client  *http.Client
}

// New returns a Service with cfg checked and its transports built, so a bad SMTP_URL fails at
// startup rather than at the first delivery.
func New(b *bun.DB, cfg Config) (*Service, error) {
	s := &Service{DB: b, Config: cfg}
	if err := s.ready(); err != nil {
		return nil, err
	}
	return s, nil
}

// ready applies defaults, validates the configuration and builds the mailer and HTTP client,
// once; later changes to s.Config have no effect.
func (s *Service) ready() error {
	s.once.Do(func() {
		cfg := s.Config.withDefaults()
		if err := cfg.validate(); err != nil {
			s.initErr = err
			return
		}
		s.cfg = cfg
		if cfg.SMTPURL != "" {
			m, err := NewSMTPMailer(cfg.SMTPURL, cfg.SMTPTLSConfig, cfg.SMTPTimeout)
			if err != nil {
				s.initErr = err
				return
			}
			s.mailer = m
		} else {
			s.mailer = &DevMailbox{DB: s.DB}
		}
		s.client = webhookClient(cfg)
	})
	return s.initErr
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Get returns the tenant's outbox message id, or db.ErrNotFound (also for another workspace's
// id).
func (s *Service) Get(ctx context.Context, idb bun.IDB, t db.Tenant, id uuid.UUID) (*db.OutboxMessage, error) {
	m, err := db.GetOutboxMessage(ctx, idb, t, id)
	if err != nil {
		return nil, fmt.Errorf("get outbox message: %w", err)
	}
	return m, nil
}

// Mailbox limits.
const (
	// DefaultMailboxLimit is how many messages Mailbox returns when the filter sets no limit.
	DefaultMailboxLimit = 50
	// MaxMailboxLimit is the most messages Mailbox returns at once.
	MaxMailboxLimit = 200
)

// MailboxFilter narrows Service.Mailbox.
type MailboxFilter struct {
	// To keeps only messages to this address (case-insensitive); empty keeps all.
	To string
	// Limit caps the result, 1..MaxMailboxLimit; 0 means DefaultMailboxLimit.
	Limit int
}

// Mailbox returns the tenant's dev mailbox, newest first. It is empty when email goes over
// SMTP. Bad filter values are invalid errors naming "to" or "limit".
func (s *Service) Mailbox(ctx context.Context, idb bun.IDB, t db.Tenant, f MailboxFilter) ([]db.MailboxMessage, error) {
	switch {
	case f.Limit == 0:
		f.Limit = DefaultMailboxLimit
	case f.Limit < 0 || f.Limit > MaxMailboxLimit:
		return nil, invalid.Field("limit", "must be between 1 and %d", MaxMailboxLimit)
	}
	if len(f.To) > maxAddressLength {
		return nil, invalid.Field("to", "is longer than %d characters", maxAddressLength)
	}
	ms, err := db.ListMailboxMessages(ctx, idb, t, f.To, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list mailbox: %w", err)
	}
	return ms, nil
}

// WebhookSecret returns the tenant's webhook signing secret, creating it on first use. Show it
// to the workspace's admins so their receivers can Verify; it is the same for every webhook of
// the workspace until RotateWebhookSecret.
func (s *Service) WebhookSecret(ctx context.Context, idb bun.IDB, t db.Tenant) ([]byte, error) {
	st, err := db.GetWorkspaceSettings(ctx, idb, t)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	if st.WebhookSecret != nil {
		return st.WebhookSecret, nil
	}
	candidate := make([]byte, webhookSecretSize)
	_, _ = rand.Read(candidate) // crypto/rand.Read never fails
	secret, err := db.EnsureWebhookSecret(ctx, idb, t, candidate, s.now())
	if err != nil {
		return nil, fmt.Errorf("webhook secret: %w", err)
	}
	return secret, nil
}

// RotateWebhookSecret replaces the tenant's webhook signing secret with a new random one and
// returns it. Webhooks sent from then on, retries of older ones included, are signed with the
// new secret; receivers should accept both for a while.
func (s *Service) RotateWebhookSecret(ctx context.Context, idb bun.IDB, t db.Tenant) ([]byte, error) {
	secret := make([]byte, webhookSecretSize)
	_, _ = rand.Read(secret)
	if err := db.SetWebhookSecret(ctx, idb, t, secret, s.now()); err != nil {
		return nil, fmt.Errorf("rotate webhook secret: %w", err)
	}
	return secret, nil
}

// ListMailbox is Mailbox on the service's own database, for the API.
func (s *Service) ListMailbox(ctx context.Context, t db.Tenant, f MailboxFilter) ([]db.MailboxMessage, error) {
	return s.Mailbox(ctx, s.DB, t, f)
}
