package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/db"
)

var (
	// secretK1 is the secret of kid "k1" in testKeyset.
	secretK1 = []byte("0123456789abcdef0123456789abcdef")
	// secretOther is a valid secret no keyset of these tests knows.
	secretOther = []byte("ffffffffffffffffffffffffffffffff")
)

// jwtFixture is an issuer on a fixed clock and the viewer its valid tokens carry.
type jwtFixture struct {
	clock  *clocktest.Clock
	issuer *Issuer
	viewer Viewer
}

func newJWTFixture(t *testing.T) *jwtFixture {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	return &jwtFixture{
		clock:  clock,
		issuer: &Issuer{Keys: testKeyset(t), Now: clock.Now},
		viewer: Viewer{WorkspaceID: uuid.New(), UserID: uuid.New(), Role: db.RoleViewer},
	}
}

// claims returns the claims of a valid token, for cases to spoil.
func (f *jwtFixture) claims() jwt.MapClaims {
	now := f.clock.Now()
	return jwt.MapClaims{
		"iss":  DefaultIssuer,
		"aud":  []string{DefaultAudience},
		"sub":  f.viewer.UserID.String(),
		"wid":  f.viewer.WorkspaceID.String(),
		"role": f.viewer.Role,
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(5 * time.Minute).Unix(),
	}
}

// sign signs claims with method and key under kid ("" leaves the kid header out).
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// rawHMAC builds a token by hand: any header, signed with HMAC-SHA256 over secret. It forges the
// "RS256 verified with the HMAC secret" confusion that libraries once fell for.
func rawHMAC(t *testing.T, header map[string]any, claims jwt.MapClaims, secret []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestVerifyAttackMatrix(t *testing.T) {
	t.Parallel()

	beyondLeeway := TokenLeeway + time.Minute
	tests := []struct {
		name  string
		token func(t *testing.T, f *jwtFixture) string
		ok    bool
	}{
		{"valid token from Issue", func(t *testing.T, f *jwtFixture) string {
			tok, _, err := f.issuer.Issue(f.viewer)
			require.NoError(t, err)
			return tok
		}, true},
		{"valid hand-made token", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", f.claims())
		}, true},
		{"alg none", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", f.claims())
		}, false},
		{"alg none with empty signature and known kid by hand", func(t *testing.T, f *jwtFixture) string {
			tok := rawHMAC(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "k1"}, f.claims(), secretK1)
			return tok[:strings.LastIndex(tok, ".")+1]
		}, false},
		{"RS256 header, HMAC signature with the secret", func(t *testing.T, f *jwtFixture) string {
			return rawHMAC(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}, f.claims(), secretK1)
		}, false},
		{"HS512 with the same secret", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodHS512, secretK1, "k1", f.claims())
		}, false},
		{"HS384 with the same secret", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodHS384, secretK1, "k1", f.claims())
		}, false},
		{"tampered payload: role raised", func(t *testing.T, f *jwtFixture) string {
			tok, _, err := f.issuer.Issue(f.viewer)
			require.NoError(t, err)
			parts := strings.Split(tok, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err)
			var c map[string]any
			require.NoError(t, json.Unmarshal(payload, &c))
			c["role"] = db.RoleAdmin
			payload, err = json.Marshal(c)
			require.NoError(t, err)
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return strings.Join(parts, ".")
		}, false},
		{"tampered signature", func(t *testing.T, f *jwtFixture) string {
			tok, _, err := f.issuer.Issue(f.viewer)
			require.NoError(t, err)
			last := tok[len(tok)-2]
			repl := byte('A')
			if last == 'A' {
				repl = 'B'
			}
			return tok[:len(tok)-2] + string(repl) + tok[len(tok)-1:]
		}, false},
		{"expired", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			now := f.clock.Now()
			c["iat"], c["nbf"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix()
			c["exp"] = now.Add(-beyondLeeway).Unix()
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"expired within leeway still accepted", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			now := f.clock.Now()
			c["iat"], c["nbf"] = now.Add(-time.Hour).Unix(), now.Add(-time.Hour).Unix()
			c["exp"] = now.Add(-TokenLeeway / 2).Unix()
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, true},
		{"no exp", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			delete(c, "exp")
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"nbf in the future", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			c["nbf"] = f.clock.Now().Add(beyondLeeway).Unix()
			c["exp"] = f.clock.Now().Add(time.Hour).Unix()
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"iat in the future", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			c["iat"] = f.clock.Now().Add(beyondLeeway).Unix()
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"wrong aud", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			c["aud"] = []string{"other-api"}
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"no aud", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			delete(c, "aud")
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"wrong iss", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			c["iss"] = "evil"
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"unknown kid", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodHS256, secretK1, "k9", f.claims())
		}, false},
		{"missing kid", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodHS256, secretK1, "", f.claims())
		}, false},
		{"non-string kid", func(t *testing.T, f *jwtFixture) string {
			return rawHMAC(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": 1}, f.claims(), secretK1)
		}, false},
		{"another secret under a known kid", func(t *testing.T, f *jwtFixture) string {
			return sign(t, jwt.SigningMethodHS256, secretOther, "k1", f.claims())
		}, false},
		{"unknown role", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			c["role"] = "ROOT"
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"sub not a uuid", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			c["sub"] = "admin"
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"no wid", func(t *testing.T, f *jwtFixture) string {
			c := f.claims()
			delete(c, "wid")
			return sign(t, jwt.SigningMethodHS256, secretK1, "k1", c)
		}, false},
		{"garbage", func(*testing.T, *jwtFixture) string { return "not.a.jwt" }, false},
		{"empty", func(*testing.T, *jwtFixture) string { return "" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newJWTFixture(t)
			v, err := f.issuer.Verify(tt.token(t, f))
			if !tt.ok {
				require.ErrorIs(t, err, ErrUnauthenticated)
				require.Nil(t, v)
				return
			}
			require.NoError(t, err)
			require.False(t, v.ExpiresAt.IsZero(), "the token's exp is kept")
			v.ExpiresAt = time.Time{}
			require.Equal(t, &Viewer{WorkspaceID: f.viewer.WorkspaceID, UserID: f.viewer.UserID, Role: f.viewer.Role}, v)
		})
	}
}

func TestIssue(t *testing.T) {
	t.Parallel()

	f := newJWTFixture(t)
	tok, exp, err := f.issuer.Issue(f.viewer)
	require.NoError(t, err)
	require.Equal(t, f.clock.Now().Add(DefaultAccessTTL), exp)

	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	require.NoError(t, err)
	require.Equal(t, "HS256", parsed.Header["alg"])
	require.Equal(t, "k1", parsed.Header["kid"])
	c := parsed.Claims.(jwt.MapClaims)
	require.Equal(t, DefaultIssuer, c["iss"])
	require.Equal(t, []any{DefaultAudience}, c["aud"])
	require.Equal(t, f.viewer.UserID.String(), c["sub"])
	require.Equal(t, f.viewer.WorkspaceID.String(), c["wid"])
	require.Equal(t, db.RoleViewer, c["role"])
	require.EqualValues(t, f.clock.Now().Unix(), c["iat"])
	require.EqualValues(t, exp.Unix(), c["exp"])

	// The token dies with its TTL (plus leeway), not before.
	f.clock.Advance(DefaultAccessTTL)
	_, err = f.issuer.Verify(tok)
	require.NoError(t, err)
	f.clock.Advance(TokenLeeway + time.Second)
	_, err = f.issuer.Verify(tok)
	require.ErrorIs(t, err, ErrUnauthenticated)

	// Only users get access tokens.
	for _, v := range []Viewer{
		{WorkspaceID: uuid.New(), APIKeyID: uuid.New(), Scopes: []string{ScopeRead}},
		{WorkspaceID: uuid.New(), UserID: uuid.New(), Role: "ROOT"},
		{UserID: uuid.New(), Role: db.RoleAdmin},
	} {
		_, _, err := f.issuer.Issue(v)
		require.Error(t, err)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()

	f := newJWTFixture(t)
	oldKey := Key{ID: "k1", Secret: secretK1}
	oldTok, _, err := f.issuer.Issue(f.viewer)
	require.NoError(t, err)

	// Rotate: k2 signs, k1 still verifies.
	rotated, err := NewKeyset(Key{ID: "k2", Secret: secretOther}, oldKey)
	require.NoError(t, err)
	require.Equal(t, "k2", rotated.ActiveID())
	iss := &Issuer{Keys: rotated, Now: f.clock.Now}
	newTok, _, err := iss.Issue(f.viewer)
	require.NoError(t, err)
	parsed, _, err := jwt.NewParser().ParseUnverified(newTok, jwt.MapClaims{})
	require.NoError(t, err)
	require.Equal(t, "k2", parsed.Header["kid"])

	for _, tok := range []string{oldTok, newTok} {
		v, err := iss.Verify(tok)
		require.NoError(t, err)
		require.Equal(t, f.viewer.UserID, v.UserID)
	}

	// Once k1 is retired, its tokens stop working.
	retired, err := NewKeyset(Key{ID: "k2", Secret: secretOther})
	require.NoError(t, err)
	_, err = (&Issuer{Keys: retired, Now: f.clock.Now}).Verify(oldTok)
	require.ErrorIs(t, err, ErrUnauthenticated)
}

func TestIssuerAudienceAndIssuerSettings(t *testing.T) {
	t.Parallel()

	f := newJWTFixture(t)
	custom := &Issuer{Keys: f.issuer.Keys, Issuer: "steward-eu", Audience: "steward-eu-api", Now: f.clock.Now}
	tok, _, err := custom.Issue(f.viewer)
	require.NoError(t, err)
	_, err = custom.Verify(tok)
	require.NoError(t, err)
	_, err = f.issuer.Verify(tok) // default iss/aud: not ours
	require.ErrorIs(t, err, ErrUnauthenticated)
}

func TestNewKeyset(t *testing.T) {
	t.Parallel()

	_, err := NewKeyset(Key{ID: "k1", Secret: []byte("short")})
	require.ErrorContains(t, err, "at least 32")
	_, err = NewKeyset(Key{ID: "", Secret: secretK1})
	require.ErrorContains(t, err, "kid")
	_, err = NewKeyset(Key{ID: "a:b", Secret: secretK1})
	require.ErrorContains(t, err, "kid")
	_, err = NewKeyset(Key{ID: "k1", Secret: secretK1}, Key{ID: "k1", Secret: secretOther})
	require.ErrorContains(t, err, "twice")
}

func TestLoadKeysetFromEnv(t *testing.T) {
	t.Parallel()

	std := base64.StdEncoding.EncodeToString(secretK1)
	url := base64.RawURLEncoding.EncodeToString(secretOther)
	ks, err := LoadKeyset("k2:"+url+", k1:"+std, "")
	require.NoError(t, err)
	require.Equal(t, "k2", ks.ActiveID())
	require.Len(t, ks.byID, 2)

	// A token signed with k1 verifies with the loaded set.
	f := newJWTFixture(t)
	_, err = (&Issuer{Keys: ks, Now: f.clock.Now}).Verify(sign(t, jwt.SigningMethodHS256, secretK1, "k1", f.claims()))
	require.NoError(t, err)

	for name, env := range map[string]string{
		"short secret":  "k1:" + base64.StdEncoding.EncodeToString([]byte("sixteen-bytes-xx")),
		"no colon":      "k1" + std,
		"empty kid":     ":" + std,
		"not base64":    "k1:@@@@",
		"trailing ','":  "k1:" + std + ",",
		"duplicate kid": "k1:" + std + ",k1:" + url,
	} {
		_, err := LoadKeyset(env, t.TempDir())
		require.Error(t, err, name)
		require.Contains(t, err.Error(), KeysEnv, name)
		require.NotContains(t, err.Error(), std, name)
	}
}

func TestLoadKeysetDevFile(t *testing.T) {
	t.Parallel()

	dir := filepath.Join(t.TempDir(), "nested", "dev")
	first, err := LoadKeyset("", dir)
	require.NoError(t, err)

	path := filepath.Join(dir, DevKeysFile)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	require.Len(t, first.active.Secret, MinKeyBytes)

	// A restart reads the same key, so earlier tokens stay valid.
	second, err := LoadKeyset("", dir)
	require.NoError(t, err)
	require.Equal(t, first.ActiveID(), second.ActiveID())
	require.Equal(t, first.active.Secret, second.active.Secret)

	// The environment wins over the dev file.
	fromEnv, err := LoadKeyset("prod:"+base64.StdEncoding.EncodeToString(secretK1), dir)
	require.NoError(t, err)
	require.Equal(t, "prod", fromEnv.ActiveID())

	// A corrupt file is an error that says what to do, not a silent new key.
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o600))
	_, err = LoadKeyset("", dir)
	require.ErrorContains(t, err, "delete it")

	_, err = LoadKeyset("", "")
	require.ErrorContains(t, err, KeysEnv)
}
