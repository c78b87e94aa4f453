package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
)

// Session defaults.
const (
	// DefaultRefreshTTL is how long a refresh token stays usable when Service.RefreshTTL is zero.
	// Each refresh issues a new token with a fresh TTL, so an active user stays signed in and an
	// idle one is signed out after this long.
	DefaultRefreshTTL = 30 * 24 * time.Hour
	// refreshTokenBytes is the entropy of a refresh token: 256 bits.
	refreshTokenBytes = 32
)

var (
	// ErrInvalidCredentials is the one answer to a failed login, whether the email is unknown,
	// the password wrong or the user has no active membership, so none of these can be told
	// apart.
	ErrInvalidCredentials = fmt.Errorf("%w: invalid email or password", ErrUnauthenticated)
	// errInvalidRefresh answers an unknown, expired or revoked refresh token, or one whose user
	// was disabled.
	errInvalidRefresh = fmt.Errorf("%w: invalid refresh token", ErrUnauthenticated)
	// errRefreshReuse answers a refresh token presented a second time; its family is revoked.
	errRefreshReuse = fmt.Errorf("%w: refresh token reused; session revoked", ErrUnauthenticated)
)

// Service signs users in and out, rotates their sessions, authenticates requests and manages API
// keys and members. It owns the transactions of these operations.
type Service struct {
	// DB is the database. Required.
	DB *bun.DB
	// Tokens issues and verifies access tokens. Required.
	Tokens *Issuer
	// RefreshTTL is the lifetime of each refresh token; DefaultRefreshTTL when zero.
	RefreshTTL time.Duration
	// PasswordCost is the bcrypt cost of new password hashes and of the dummy hash that unknown
	// emails are compared against; DefaultPasswordCost when zero. Seeds and tests lower it.
	PasswordCost int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// NewService returns a Service with the default refresh TTL, password cost and clock.
func NewService(b *bun.DB, tokens *Issuer) *Service {
	return &Service{DB: b, Tokens: tokens}
}

// Session is what a login or a refresh hands the client.
type Session struct {
	// AccessToken is the bearer for API calls, valid until ExpiresAt.
	AccessToken string
	// RefreshToken is the opaque, single-use token that buys the next Session.
	RefreshToken string
	// ExpiresAt is when AccessToken expires.
	ExpiresAt time.Time
	// UserID is the signed-in user.
	UserID uuid.UUID
	// WorkspaceID is the workspace the session is in.
	WorkspaceID uuid.UUID
	// Role is the user's role in the workspace, as written into AccessToken.
	Role string
}

// Login checks email (case-insensitively) and password and starts a session in the user's
// earliest membership that is not disabled. An unknown email, a wrong password and a user without
// an active membership all give the same ErrUnauthenticated in about the same time.
func (s *Service) Login(ctx context.Context, email, password string) (*Session, error) {
	email = strings.TrimSpace(email)
	if err := s.checkLoginThrottle(ctx, email); err != nil {
		return nil, err
	}
	u, err := db.GetUserByEmail(ctx, s.DB, email)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("login: %w", err)
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !checkPassword(hash, password, s.passwordCost()) {
		return nil, s.loginFailed(ctx, email)
	}
	m, err := db.EarliestActiveMembership(ctx, s.DB, u.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, s.loginFailed(ctx, email)
	}
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if err := db.ClearLoginFailures(ctx, s.DB, loginKey(email)); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	sess, err := s.newSession(ctx, s.DB, m, uuid.New(), s.now())
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return sess, nil
}

// Refresh exchanges a refresh token for a new session in the same family, in one transaction
// that locks the token. Unknown, expired or revoked tokens, and users whose membership was
// removed or disabled, get ErrUnauthenticated. A token that was already exchanged means it was
// copied: every token of its family is revoked (and that revocation is committed) before
// ErrUnauthenticated is returned, so both the thief and the user must sign in again. Two
// concurrent refreshes with one token count as reuse too.
func (s *Service) Refresh(ctx context.Context, token string) (*Session, error) {
	now := s.now()
	var (
		sess   *Session
		reused bool
	)
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		rt, err := db.RefreshTokenByHash(ctx, tx, hashSecret(token), true)
		if errors.Is(err, db.ErrNotFound) {
			return errInvalidRefresh
		}
		if err != nil {
			return err
		}
		t := db.Tenant{WorkspaceID: rt.WorkspaceID}
		switch {
		case rt.RevokedAt != nil:
			return errInvalidRefresh
		case rt.UsedAt != nil:
			if _, err := db.RevokeRefreshFamily(ctx, tx, t, rt.FamilyID, now); err != nil {
				return err
			}
			reused = true
			return nil // commit the revocation
		case !now.Before(rt.ExpiresAt):
			return errInvalidRefresh
		}
		m, err := db.GetMembership(ctx, tx, t, rt.UserID)
		if errors.Is(err, db.ErrNotFound) || (err == nil && m.DisabledAt != nil) {
			return errInvalidRefresh
		}
		if err != nil {
			return err
		}
		if err := db.MarkRefreshTokenUsed(ctx, tx, t, rt.ID, now); err != nil {
			return err
		}
		sess, err = s.newSession(ctx, tx, m, rt.FamilyID, now)
		return err
	})
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("refresh session: %w", err)
	case reused:
		return nil, errRefreshReuse
	}
	return sess, nil
}

// Logout revokes the family of token, ending the session on every token it has had. An unknown
// or already revoked token is not an error: logging out twice is fine.
func (s *Service) Logout(ctx context.Context, token string) error {
	rt, err := db.RefreshTokenByHash(ctx, s.DB, hashSecret(token), false)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if _, err := db.RevokeRefreshFamily(ctx, s.DB, db.Tenant{WorkspaceID: rt.WorkspaceID}, rt.FamilyID, s.now()); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// Authenticate turns the bearer credential of a request into its Viewer: an API key when it
// starts with APIKeyPrefix, an access token otherwise. Any bad credential is ErrUnauthenticated.
// Access tokens are not looked up, so a disabled or demoted user keeps their token's rights
// until it expires (at most the access TTL).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Viewer, error) {
	if strings.HasPrefix(bearer, APIKeyPrefix) {
		return s.authenticateAPIKey(ctx, bearer)
	}
	return s.Tokens.Verify(bearer)
}

// newSession issues an access token for m and stores a new refresh token in familyID.
func (s *Service) newSession(ctx context.Context, idb bun.IDB, m *db.Membership, familyID uuid.UUID, now time.Time) (*Session, error) {
	access, expiresAt, err := s.Tokens.Issue(Viewer{WorkspaceID: m.WorkspaceID, UserID: m.UserID, Role: m.Role})
	if err != nil {
		return nil, err
	}
	refresh, err := randomToken(refreshTokenBytes)
	if err != nil {
		return nil, fmt.Errorf("generate refresh token: %w", err)
	}
	rt := &db.RefreshToken{
		FamilyID:  familyID,
		UserID:    m.UserID,
		TokenHash: hashSecret(refresh),
		CreatedAt: now,
		ExpiresAt: now.Add(s.refreshTTL()),
	}
	if err := db.InsertRefreshToken(ctx, idb, db.Tenant{WorkspaceID: m.WorkspaceID}, rt); err != nil {
		return nil, err
	}
	return &Session{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresAt:    expiresAt,
		UserID:       m.UserID,
		WorkspaceID:  m.WorkspaceID,
		Role:         m.Role,
	}, nil
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is how refresh tokens and API keys are stored and looked up: their SHA-256. The
// secrets are long and random, so a fast unsalted hash is enough; a database leak reveals no
// usable credential.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) refreshTTL() time.Duration {
	if s.RefreshTTL > 0 {
		return s.RefreshTTL
	}
	return DefaultRefreshTTL
}

func (s *Service) passwordCost() int {
	if s.PasswordCost > 0 {
		return s.PasswordCost
	}
	return DefaultPasswordCost
}
