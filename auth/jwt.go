package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Access token defaults and limits.
const (
	// DefaultIssuer is the iss claim when Issuer.Issuer is empty.
	DefaultIssuer = "steward"
	// DefaultAudience is the aud claim when Issuer.Audience is empty.
	DefaultAudience = "steward-api"
	// DefaultAccessTTL is how long an access token lives when Issuer.TTL is zero. It bounds how
	// long a disabled or demoted user keeps their old rights: access tokens are not looked up.
	DefaultAccessTTL = 15 * time.Minute
	// TokenLeeway is the clock skew tolerated on exp, nbf and iat. It is small because the
	// issuer and the verifier are the same service; it only absorbs drift between replicas.
	TokenLeeway = 30 * time.Second
	// MinKeyBytes is the shortest HMAC secret accepted: 256 bits, the size of HS256's output.
	MinKeyBytes = 32
	// KeysEnv names the environment variable LoadKeyset is given in production:
	// "kid1:base64secret,kid2:base64secret", the first key signing, all verifying.
	KeysEnv = "STEWARD_JWT_KEYS"
	// DevKeysFile is the file under the dev directory that keeps generated keys across restarts.
	DevKeysFile = "jwt-keys.json"
)

// signingMethod is the only algorithm Steward issues or accepts.
var signingMethod = jwt.SigningMethodHS256

// kidPattern keeps key ids short and free of the separators of STEWARD_JWT_KEYS.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// Key is one HMAC signing key, named by the kid header of the tokens it signs.
type Key struct {
	// ID is the kid: 1-64 letters, digits, '.', '_' or '-'.
	ID string
	// Secret is the HMAC secret, at least MinKeyBytes long.
	Secret []byte
}

// Keyset holds the keys access tokens are verified with, one of which signs new tokens. To
// rotate, put a new key first and keep the old one listed until the tokens it signed have
// expired (DefaultAccessTTL).
type Keyset struct {
	active Key
	byID   map[string][]byte
}

// NewKeyset returns a keyset that signs with active and verifies with active and others. It
// rejects an invalid kid, a duplicate kid or a secret shorter than MinKeyBytes.
func NewKeyset(active Key, others ...Key) (*Keyset, error) {
	ks := &Keyset{active: active, byID: make(map[string][]byte, 1+len(others))}
	for _, k := range append([]Key{active}, others...) {
		if !kidPattern.MatchString(k.ID) {
			return nil, fmt.Errorf("jwt key %q: kid must be 1-64 letters, digits, '.', '_' or '-'", k.ID)
		}
		if len(k.Secret) < MinKeyBytes {
			return nil, fmt.Errorf("jwt key %q: secret is %d bytes, want at least %d", k.ID, len(k.Secret), MinKeyBytes)
		}
		if _, dup := ks.byID[k.ID]; dup {
			return nil, fmt.Errorf("jwt key %q: kid listed twice", k.ID)
		}
		ks.byID[k.ID] = bytes.Clone(k.Secret)
	}
	ks.active.Secret = ks.byID[active.ID]
	return ks, nil
}

// ActiveID returns the kid new tokens are signed with.
func (ks *Keyset) ActiveID() string { return ks.active.ID }

// LoadKeyset builds the keyset from env, the value of STEWARD_JWT_KEYS
// ("kid1:base64secret,kid2:base64secret", first = active; standard or URL base64, padded or
// not). When env is empty it reads devDir/jwt-keys.json, creating it (mode 0600) with one random
// key on first use so that a developer's restarts keep tokens valid. Errors never contain
// secrets.
func LoadKeyset(env string, devDir string) (*Keyset, error) {
	if strings.TrimSpace(env) != "" {
		keys, err := parseKeysEnv(env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeysEnv, err)
		}
		ks, err := NewKeyset(keys[0], keys[1:]...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeysEnv, err)
		}
		return ks, nil
	}
	if devDir == "" {
		return nil, fmt.Errorf("load jwt keys: %s is empty and no dev key directory is configured", KeysEnv)
	}
	return loadDevKeyset(filepath.Join(devDir, DevKeysFile))
}

func parseKeysEnv(env string) ([]Key, error) {
	var keys []Key
	for i, entry := range strings.Split(env, ",") {
		entry = strings.TrimSpace(entry)
		kid, secret, ok := strings.Cut(entry, ":")
		if !ok || kid == "" || secret == "" {
			return nil, fmt.Errorf("entry %d: want kid:base64secret", i+1)
		}
		raw, err := decodeBase64(secret)
		if err != nil {
			return nil, fmt.Errorf("entry %d (kid %q): secret is not base64", i+1, kid)
		}
		keys = append(keys, Key{ID: kid, Secret: raw})
	}
	return keys, nil
}

// decodeBase64 accepts the four common base64 alphabets and paddings, since operators generate
// secrets with whatever tool is at hand.
func decodeBase64(s string) ([]byte, error) {
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// devKeysDoc is the JSON layout of the dev key file.
type devKeysDoc struct {
	Keys []devKey `json:"keys"`
}

type devKey struct {
	ID     string `json:"kid"`
	Secret string `json:"secret"`
}

func loadDevKeyset(path string) (*Keyset, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		data, err = createDevKeys(path)
	}
	if err != nil {
		return nil, fmt.Errorf("load dev jwt keys: %w", err)
	}
	var doc devKeysDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("load dev jwt keys: %s is not valid JSON (delete it to start over): %w", path, err)
	}
	if len(doc.Keys) == 0 {
		return nil, fmt.Errorf("load dev jwt keys: %s lists no keys (delete it to start over)", path)
	}
	keys := make([]Key, len(doc.Keys))
	for i, k := range doc.Keys {
		raw, err := decodeBase64(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("load dev jwt keys: %s: key %q: secret is not base64", path, k.ID)
		}
		keys[i] = Key{ID: k.ID, Secret: raw}
	}
	ks, err := NewKeyset(keys[0], keys[1:]...)
	if err != nil {
		return nil, fmt.Errorf("load dev jwt keys: %s: %w", path, err)
	}
	return ks, nil
}

// createDevKeys writes a fresh key file atomically: a complete temporary file is hard-linked
// into place, so a concurrent start either wins or reads the winner's file, never a torn one.
func createDevKeys(path string) ([]byte, error) {
	secret := make([]byte, MinKeyBytes)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generate kid: %w", err)
	}
	data, err := json.MarshalIndent(devKeysDoc{Keys: []devKey{{
		ID:     "dev-" + hex.EncodeToString(id),
		Secret: base64.StdEncoding.EncodeToString(secret),
	}}}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode key file: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".jwt-keys-*.tmp") // created with mode 0600
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // best effort: the link below is what counts
	_, werr := tmp.Write(append(data, '\n'))
	if serr := tmp.Sync(); werr == nil {
		werr = serr
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("write key file: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path) // another process created it first
		}
		return nil, fmt.Errorf("publish key file: %w", err)
	}
	return data, nil
}

// Issuer signs and verifies access tokens: short-lived HS256 JWTs whose claims are the user
// (sub), the workspace (wid) and the role.
type Issuer struct {
	// Keys signs with its active key and verifies with all of them. Required.
	Keys *Keyset
	// Issuer is the iss claim written and required; DefaultIssuer when empty.
	Issuer string
	// Audience is the aud claim written and required; DefaultAudience when empty.
	Audience string
	// TTL is the lifetime of an access token; DefaultAccessTTL when zero.
	TTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// accessClaims is the payload of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	WorkspaceID string `json:"wid"`
	Role        string `json:"role"`
}

// Issue signs an access token for the user viewer v and returns it with its expiry. API-key
// viewers and viewers without a user, workspace or known role are refused.
func (i *Issuer) Issue(v Viewer) (token string, expiresAt time.Time, err error) {
	if i.Keys == nil {
		return "", time.Time{}, errors.New("issue access token: no keys")
	}
	if v.IsAPIKey() || v.UserID == uuid.Nil || v.WorkspaceID == uuid.Nil || !ValidRole(v.Role) {
		return "", time.Time{}, errors.New("issue access token: viewer is not a user with a workspace and a role")
	}
	// JWT times have whole-second precision; truncating keeps expiresAt equal to the exp claim.
	now := i.now().Truncate(time.Second)
	expiresAt = now.Add(i.ttl())
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer(),
			Subject:   v.UserID.String(),
			Audience:  jwt.ClaimStrings{i.audience()},
			ExpiresAt: jwt.NewNumericDate(expiresAt),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		WorkspaceID: v.WorkspaceID.String(),
		Role:        v.Role,
	}
	t := jwt.NewWithClaims(signingMethod, claims)
	t.Header["kid"] = i.Keys.active.ID
	token, err = t.SignedString(i.Keys.active.Secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return token, expiresAt, nil
}

// Verify checks token (signature under the key its kid names, HS256 only, iss, aud, exp
// required, nbf and iat with TokenLeeway) and returns the viewer it carries. Every failure is
// ErrUnauthenticated wrapping the cause.
func (i *Issuer) Verify(token string) (*Viewer, error) {
	if i.Keys == nil {
		return nil, fmt.Errorf("%w: verify access token: no keys", ErrUnauthenticated)
	}
	var claims accessClaims
	_, err := jwt.ParseWithClaims(token, &claims, i.key,
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithIssuer(i.issuer()),
		jwt.WithAudience(i.audience()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(TokenLeeway),
		jwt.WithTimeFunc(i.now),
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: access token: %w", ErrUnauthenticated, err)
	}
	userID, err := uuid.Parse(claims.Subject)
	if err != nil || userID == uuid.Nil {
		return nil, fmt.Errorf("%w: access token: bad sub", ErrUnauthenticated)
	}
	workspaceID, err := uuid.Parse(claims.WorkspaceID)
	if err != nil || workspaceID == uuid.Nil {
		return nil, fmt.Errorf("%w: access token: bad wid", ErrUnauthenticated)
	}
	if !ValidRole(claims.Role) {
		return nil, fmt.Errorf("%w: access token: bad role", ErrUnauthenticated)
	}
	return &Viewer{WorkspaceID: workspaceID, UserID: userID, Role: claims.Role, ExpiresAt: claims.ExpiresAt.Time}, nil
}

// key picks the verification secret named by the token's kid. The algorithm was already checked
// against WithValidMethods; checking it again here keeps a key from ever meeting another one.
func (i *Issuer) key(t *jwt.Token) (any, error) {
	if t.Method != signingMethod {
		return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errors.New("missing kid")
	}
	secret, ok := i.Keys.byID[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	return secret, nil
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

func (i *Issuer) ttl() time.Duration {
	if i.TTL > 0 {
		return i.TTL
	}
	return DefaultAccessTTL
}

func (i *Issuer) issuer() string {
	if i.Issuer != "" {
		return i.Issuer
	}
	return DefaultIssuer
}

func (i *Issuer) audience() string {
	if i.Audience != "" {
		return i.Audience
	}
	return DefaultAudience
}
