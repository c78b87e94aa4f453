package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stewardhq/steward/db"
)

// Login throttling: after MaxLoginFailures failed logins for one email within
// LoginFailureWindow, further attempts are refused with ErrRateLimited until old failures age
// out. Failures are kept in PostgreSQL, so the limit holds across every server process.
const (
	MaxLoginFailures   = 10
	LoginFailureWindow = 15 * time.Minute
)

// ErrRateLimited means the caller made too many attempts; the presenter answers RATE_LIMITED.
var ErrRateLimited = errors.New("rate limited")

func loginKey(email string) string { return strings.ToLower(email) }

func (s *Service) checkLoginThrottle(ctx context.Context, email string) error {
	n, err := db.CountLoginFailures(ctx, s.DB, loginKey(email), s.now().Add(-LoginFailureWindow))
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	if n >= MaxLoginFailures {
		return fmt.Errorf("%w: too many failed logins for this email", ErrRateLimited)
	}
	return nil
}

// loginFailed records the failure and returns the one answer every failed login gets.
func (s *Service) loginFailed(ctx context.Context, email string) error {
	now := s.now()
	if err := db.RecordLoginFailure(ctx, s.DB, loginKey(email), now, now.Add(-LoginFailureWindow)); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return ErrInvalidCredentials
}
