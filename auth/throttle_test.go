package auth

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	victim := b.createMember(t, memberOpts{})
	other := b.createMember(t, memberOpts{})

	for i := 0; i < MaxLoginFailures; i++ {
		_, err := b.svc.Login(b.ctx, victim.Email, "wrong password")
		require.ErrorIs(t, err, ErrInvalidCredentials, "attempt %d", i+1)
	}
	// The right password no longer helps while the window is full, whatever the case of the email.
	_, err := b.svc.Login(b.ctx, "  "+upper(victim.Email), testPassword)
	require.ErrorIs(t, err, ErrRateLimited)
	require.False(t, errors.Is(err, ErrUnauthenticated))

	// Other emails are unaffected.
	_, err = b.svc.Login(b.ctx, other.Email, testPassword)
	require.NoError(t, err)

	// Once the failures age out of the window, the user can sign in, and success resets the count.
	b.clock.Advance(LoginFailureWindow + time.Second)
	_, err = b.svc.Login(b.ctx, victim.Email, testPassword)
	require.NoError(t, err)
	n, err := countFailures(b, victim.Email)
	require.NoError(t, err)
	require.Zero(t, n)
}

func upper(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c >= 'a' && c <= 'z' {
			out[i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

func countFailures(b *testBundle, email string) (int64, error) {
	return b.db.Bun.NewSelect().Table("login_failures").Where("email_key = ?", loginKey(email)).Count(b.ctx)
}
