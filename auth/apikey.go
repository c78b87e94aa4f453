package auth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// API key format and limits.
const (
	// APIKeyPrefix starts every API key secret, so Authenticate (and secret scanners) can tell a
	// key from an access token.
	APIKeyPrefix = "stw_"
	// APIKeyShownLen is how much of the secret is stored in clear as the key's prefix, for people
	// to recognise a key: APIKeyPrefix and 8 random characters (40 of its 200 bits).
	APIKeyShownLen = 12
	// MaxAPIKeyNameLen is the longest key name, in characters.
	MaxAPIKeyNameLen = 100
	// APIKeyTouchInterval is how stale last_used_at may get: a key in constant use costs one
	// write per interval, not one per request.
	APIKeyTouchInterval = time.Minute
	// apiKeyRandomBytes is the entropy after the prefix: 200 bits, 40 base32 characters.
	apiKeyRandomBytes = 25
	// apiKeySecretLen is the length of a whole secret.
	apiKeySecretLen = len(APIKeyPrefix) + apiKeyRandomBytes*8/5
)

// apiKeyEncoding is lowercase base32 without padding: no characters that need escaping anywhere
// and no case to get wrong.
var apiKeyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// errInvalidAPIKey answers an unknown, malformed or revoked API key.
var errInvalidAPIKey = fmt.Errorf("%w: invalid api key", ErrUnauthenticated)

// CreateAPIKey creates an API key of the viewer's workspace named name (trimmed, 1 to
// MaxAPIKeyNameLen characters) with scopes (non-empty, each a Scope constant; duplicates are
// dropped). It returns the stored key and its secret, which is shown once: only its hash is
// kept. The viewer must be an admin.
func (s *Service) CreateAPIKey(ctx context.Context, v *Viewer, name string, scopes []string) (*db.APIKey, string, error) {
	if err := Authorize(v, db.RoleAdmin, ""); err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return nil, "", invalid.Field("input.name", "is required")
	case n > MaxAPIKeyNameLen:
		return nil, "", invalid.Field("input.name", "must be at most %d characters", MaxAPIKeyNameLen)
	}
	if len(scopes) == 0 {
		return nil, "", invalid.Field("input.scopes", "must name at least one scope")
	}
	var unique []string
	for _, sc := range scopes {
		if !ValidScope(sc) {
			return nil, "", invalid.Field("input.scopes", "unknown scope %q", sc)
		}
		if !slices.Contains(unique, sc) {
			unique = append(unique, sc)
		}
	}
	random := make([]byte, apiKeyRandomBytes)
	if _, err := rand.Read(random); err != nil {
		return nil, "", fmt.Errorf("create api key: generate secret: %w", err)
	}
	secret := APIKeyPrefix + apiKeyEncoding.EncodeToString(random)
	k := &db.APIKey{
		Name:      name,
		Prefix:    secret[:APIKeyShownLen],
		KeyHash:   hashSecret(secret),
		Scopes:    unique,
		CreatedAt: s.now(),
	}
	if v.UserID != uuid.Nil {
		creator := v.UserID
		k.CreatedBy = &creator
	}
	if err := db.InsertAPIKey(ctx, s.DB, v.Tenant(), k); err != nil {
		return nil, "", fmt.Errorf("create api key: %w", err)
	}
	return k, secret, nil
}

// RevokeAPIKey revokes the viewer's workspace's key id at once and returns it; revoking twice
// keeps the first time. A key of another workspace is db.ErrNotFound. The viewer must be an
// admin.
func (s *Service) RevokeAPIKey(ctx context.Context, v *Viewer, id uuid.UUID) (*db.APIKey, error) {
	if err := Authorize(v, db.RoleAdmin, ""); err != nil {
		return nil, err
	}
	k, err := db.RevokeAPIKey(ctx, s.DB, v.Tenant(), id, s.now())
	if err != nil {
		return nil, fmt.Errorf("revoke api key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns the viewer's workspace's keys, revoked ones included, newest first. The
// viewer must be an admin.
func (s *Service) ListAPIKeys(ctx context.Context, v *Viewer) ([]db.APIKey, error) {
	if err := Authorize(v, db.RoleAdmin, ""); err != nil {
		return nil, err
	}
	ks, err := db.ListAPIKeys(ctx, s.DB, v.Tenant())
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return ks, nil
}

// authenticateAPIKey finds the key whose hash matches secret and returns its Viewer. Lookup is
// by hash, so no comparison of the secret itself can leak timing. It records last_used_at at most
// once per APIKeyTouchInterval.
func (s *Service) authenticateAPIKey(ctx context.Context, secret string) (*Viewer, error) {
	if len(secret) != apiKeySecretLen {
		return nil, errInvalidAPIKey
	}
	k, err := db.APIKeyByHash(ctx, s.DB, hashSecret(secret))
	if errors.Is(err, db.ErrNotFound) {
		return nil, errInvalidAPIKey
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate api key: %w", err)
	}
	if k.RevokedAt != nil {
		return nil, errInvalidAPIKey
	}
	now := s.now()
	notBefore := now.Add(-APIKeyTouchInterval)
	if k.LastUsedAt == nil || k.LastUsedAt.Before(notBefore) {
		if _, err := db.TouchAPIKey(ctx, s.DB, db.Tenant{WorkspaceID: k.WorkspaceID}, k.ID, now, notBefore); err != nil {
			return nil, fmt.Errorf("authenticate api key: %w", err)
		}
	}
	return &Viewer{WorkspaceID: k.WorkspaceID, APIKeyID: k.ID, Scopes: k.Scopes}, nil
}
