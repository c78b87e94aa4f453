package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/server/servertest"
)

// Operations shared by the auth and tenancy API tests.
const (
	loginOp = `mutation($e: String!, $p: String!) {
		login(email: $e, password: $p) { accessToken refreshToken expiresAt user { id email role } }
	}`
	refreshOp = `mutation($r: String!) {
		refreshSession(refreshToken: $r) { accessToken refreshToken expiresAt user { id email role } }
	}`
	logoutOp        = `mutation($r: String!) { logout(refreshToken: $r) }`
	meRoleOp        = `{ me { role user { id email } } }`
	accountCountOp  = `{ accounts(filter: {includeArchived: true}) { totalCount } }`
	createAccountOp = `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id name } }`
	createAPIKeyOp  = `mutation($in: CreateApiKeyInput!) {
		createApiKey(input: $in) { secret apiKey { id name prefix scopes createdAt lastUsedAt revokedAt } }
	}`
	inviteUserOp = `mutation($in: InviteUserInput!) { inviteUser(input: $in) { id email name role disabled } }`
	setRoleOp    = `mutation($id: ID!, $role: Role!) { setUserRole(userId: $id, role: $role) { id role disabled } }`
	disableOp    = `mutation($id: ID!) { disableUser(userId: $id) { id role disabled } }`
	usersOp      = `{ users { id email name role disabled } }`
	apiKeysOp    = `{ apiKeys { id name prefix scopes lastUsedAt revokedAt } }`
)

// authPayload is the decoded AuthPayload of login and refreshSession.
type authPayload struct {
	AccessToken  string    `json:"accessToken"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	User         struct {
		ID    string `json:"id"`
		Email string `json:"email"`
		Role  string `json:"role"`
	} `json:"user"`
}

// apiUser is a User as the users query and the admin mutations return it.
type apiUser struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
}

// apiKey is an ApiKey as apiKeys and createApiKey return it.
type apiKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

// nodeID builds the global API id of a row, as graph/id.go documents it: base64url("Kind:uuid").
func nodeID(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}

// requireError asserts that resp failed with code as its only error, with no data for the
// failed root field, and returns the error.
func requireOnlyError(t *testing.T, resp *servertest.Response, code string) servertest.Error {
	t.Helper()
	require.Len(t, resp.Errors, 1, "want one error, got data %s", resp.Data)
	require.Equal(t, code, resp.Code(), "error: %+v", resp.Errors[0])
	requireNoData(t, resp)
	return resp.Errors[0]
}

// requireNoData asserts that no root field of resp has a value.
func requireNoData(t *testing.T, resp *servertest.Response) {
	t.Helper()
	if len(resp.Data) == 0 || string(resp.Data) == "null" {
		return
	}
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(resp.Data, &fields))
	for name, v := range fields {
		require.Equal(t, "null", string(v), "field %s has data", name)
	}
}

func loginAPI(t *testing.T, env *servertest.Env, email, password string) authPayload {
	t.Helper()
	var out struct {
		Login authPayload `json:"login"`
	}
	env.Do(t, "", loginOp, map[string]any{"e": email, "p": password}).Decode(t, &out)
	return out.Login
}

func refreshAPI(t *testing.T, env *servertest.Env, token string) *servertest.Response {
	t.Helper()
	return env.Do(t, "", refreshOp, map[string]any{"r": token})
}

func accountCount(t *testing.T, env *servertest.Env, token string) int {
	t.Helper()
	var out struct {
		Accounts struct {
			TotalCount int `json:"totalCount"`
		} `json:"accounts"`
	}
	env.Do(t, token, accountCountOp, nil).Decode(t, &out)
	return out.Accounts.TotalCount
}

func listUsers(t *testing.T, env *servertest.Env, token string) []apiUser {
	t.Helper()
	var out struct {
		Users []apiUser `json:"users"`
	}
	env.Do(t, token, usersOp, nil).Decode(t, &out)
	return out.Users
}

func listAPIKeys(t *testing.T, env *servertest.Env, token string) []apiKey {
	t.Helper()
	var out struct {
		APIKeys []apiKey `json:"apiKeys"`
	}
	env.Do(t, token, apiKeysOp, nil).Decode(t, &out)
	return out.APIKeys
}

func findAPIKey(t *testing.T, keys []apiKey, id string) apiKey {
	t.Helper()
	for _, k := range keys {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("api key %s not listed", id)
	return apiKey{}
}

// createAPIKey creates a key with scopes as the admin token and returns it with its secret.
func createAPIKey(t *testing.T, env *servertest.Env, adminToken, name string, scopes ...string) (apiKey, string) {
	t.Helper()
	var out struct {
		CreateAPIKey struct {
			Secret string `json:"secret"`
			APIKey apiKey `json:"apiKey"`
		} `json:"createApiKey"`
	}
	env.Do(t, adminToken, createAPIKeyOp, map[string]any{"in": map[string]any{"name": name, "scopes": scopes}}).Decode(t, &out)
	return out.CreateAPIKey.APIKey, out.CreateAPIKey.Secret
}

// userEmail reads a member's email through the API.
func userEmail(t *testing.T, env *servertest.Env, adminToken string, id uuid.UUID) string {
	t.Helper()
	for _, u := range listUsers(t, env, adminToken) {
		if u.ID == nodeID("User", id) {
			return u.Email
		}
	}
	t.Fatalf("user %s is not a member", id)
	return ""
}

func TestLoginThroughAPI(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)

	t.Run("right password", func(t *testing.T) {
		before := time.Now()
		// Emails match case-insensitively and surrounding spaces are ignored.
		for _, email := range []string{ws.AdminEmail, "  " + strings.ToUpper(ws.AdminEmail) + " "} {
			p := loginAPI(t, env, email, servertest.TestPassword)
			require.NotEmpty(t, p.AccessToken)
			require.NotEmpty(t, p.RefreshToken)
			require.NotEqual(t, p.AccessToken, p.RefreshToken)
			require.True(t, p.ExpiresAt.After(before), "expiresAt %s is not in the future", p.ExpiresAt)
			require.Equal(t, nodeID("User", ws.AdminID), p.User.ID)
			require.Equal(t, ws.AdminEmail, p.User.Email)
			require.Equal(t, "ADMIN", p.User.Role)

			var me struct {
				Me struct {
					Role string `json:"role"`
					User struct {
						ID    string `json:"id"`
						Email string `json:"email"`
					} `json:"user"`
				} `json:"me"`
			}
			env.Do(t, p.AccessToken, meRoleOp, nil).Decode(t, &me)
			require.Equal(t, "ADMIN", me.Me.Role)
			require.Equal(t, nodeID("User", ws.AdminID), me.Me.User.ID)
			require.Equal(t, ws.AdminEmail, me.Me.User.Email)
		}
	})

	t.Run("bad credentials look the same", func(t *testing.T) {
		var answers [][]servertest.Error
		for _, tc := range []struct{ name, email, password string }{
			{"wrong password", ws.AdminEmail, servertest.TestPassword + "x"},
			{"empty password", ws.AdminEmail, ""},
			{"unknown email", "nobody-" + uuid.NewString()[:8] + "@example.test", servertest.TestPassword},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp := env.Do(t, "", loginOp, map[string]any{"e": tc.email, "p": tc.password})
				gqlErr := requireOnlyError(t, resp, "UNAUTHENTICATED")
				require.Equal(t, "invalid email or password", gqlErr.Message)
				require.Equal(t, []any{"login"}, gqlErr.Path)
				require.NotContains(t, string(resp.Data), "accessToken")
				answers = append(answers, resp.Errors)
			})
		}
		// Not just the message: the whole error is the same, so nothing tells the cases apart.
		require.Len(t, answers, 3)
		for _, a := range answers[1:] {
			require.Equal(t, answers[0], a)
		}
	})
}

func TestRefreshSessionRotation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)

	t.Run("rotation and reuse", func(t *testing.T) {
		first := loginAPI(t, env, ws.AdminEmail, servertest.TestPassword)

		var out struct {
			RefreshSession authPayload `json:"refreshSession"`
		}
		refreshAPI(t, env, first.RefreshToken).Decode(t, &out)
		second := out.RefreshSession
		require.NotEmpty(t, second.AccessToken)
		require.NotEqual(t, first.RefreshToken, second.RefreshToken)
		require.Equal(t, nodeID("User", ws.AdminID), second.User.ID)
		require.Equal(t, "ADMIN", second.User.Role)
		env.Do(t, second.AccessToken, meRoleOp, nil).Decode(t, &struct{}{})

		// The second pair rotates too.
		refreshAPI(t, env, second.RefreshToken).Decode(t, &out)
		newest := out.RefreshSession
		require.NotEqual(t, second.RefreshToken, newest.RefreshToken)

		// Reusing the first token means it was copied: it fails and revokes the family, so the
		// newest token (which the reuse never saw) fails too.
		gqlErr := requireOnlyError(t, refreshAPI(t, env, first.RefreshToken), "UNAUTHENTICATED")
		require.Equal(t, "authentication required", gqlErr.Message)
		requireOnlyError(t, refreshAPI(t, env, newest.RefreshToken), "UNAUTHENTICATED")
		requireOnlyError(t, refreshAPI(t, env, second.RefreshToken), "UNAUTHENTICATED")
	})

	t.Run("concurrent reuse", func(t *testing.T) {
		// Refreshes racing with one token: the token is locked, so one wins and the others
		// count as reuse, which also revokes the winner's new token.
		first := loginAPI(t, env, ws.AdminEmail, servertest.TestPassword)
		body, err := json.Marshal(map[string]any{"query": refreshOp, "variables": map[string]any{"r": first.RefreshToken}})
		require.NoError(t, err)
		const racers = 8
		results := make(chan *servertest.Response, racers)
		for range racers {
			go func() {
				resp, err := env.Server.Client().Post(env.URL+"/graphql", "application/json", bytes.NewReader(body))
				out := &servertest.Response{}
				if err == nil {
					defer resp.Body.Close()
					err = json.NewDecoder(resp.Body).Decode(out)
				}
				if err != nil {
					out.Errors = []servertest.Error{{Message: err.Error()}}
				}
				results <- out
			}()
		}
		var won []authPayload
		for range racers {
			resp := <-results
			if len(resp.Errors) > 0 {
				require.Equal(t, "UNAUTHENTICATED", resp.Code(), "error: %+v", resp.Errors)
				continue
			}
			var out struct {
				RefreshSession authPayload `json:"refreshSession"`
			}
			require.NoError(t, json.Unmarshal(resp.Data, &out))
			won = append(won, out.RefreshSession)
		}
		require.Len(t, won, 1, "more than one concurrent refresh succeeded")
		requireOnlyError(t, refreshAPI(t, env, won[0].RefreshToken), "UNAUTHENTICATED")
	})

	t.Run("logout", func(t *testing.T) {
		other := loginAPI(t, env, ws.AdminEmail, servertest.TestPassword)
		first := loginAPI(t, env, ws.AdminEmail, servertest.TestPassword)
		var out struct {
			RefreshSession authPayload `json:"refreshSession"`
		}
		refreshAPI(t, env, first.RefreshToken).Decode(t, &out)
		current := out.RefreshSession.RefreshToken

		var loggedOut struct {
			Logout bool `json:"logout"`
		}
		env.Do(t, "", logoutOp, map[string]any{"r": current}).Decode(t, &loggedOut)
		require.True(t, loggedOut.Logout)
		requireOnlyError(t, refreshAPI(t, env, current), "UNAUTHENTICATED")

		// Logging out twice is fine.
		loggedOut.Logout = false
		env.Do(t, "", logoutOp, map[string]any{"r": current}).Decode(t, &loggedOut)
		require.True(t, loggedOut.Logout)

		// Another session of the same user is not affected.
		refreshAPI(t, env, other.RefreshToken).Decode(t, &out)
		require.NotEmpty(t, out.RefreshSession.AccessToken)
	})

	t.Run("logout of an unknown token", func(t *testing.T) {
		var out struct {
			Logout bool `json:"logout"`
		}
		env.Do(t, "", logoutOp, map[string]any{"r": "no-such-token-" + uuid.NewString()}).Decode(t, &out)
		require.True(t, out.Logout)
	})

	t.Run("unknown refresh token", func(t *testing.T) {
		requireOnlyError(t, refreshAPI(t, env, "no-such-token-"+uuid.NewString()), "UNAUTHENTICATED")
	})
}

// tokenClaims are the claims of a forged access token; the zero-valued time fields are left
// out of the token.
type tokenClaims map[string]any

func validClaims(ws *servertest.Workspace, userID uuid.UUID, role string) tokenClaims {
	now := time.Now()
	return tokenClaims{
		"iss":  "steward",
		"aud":  []string{"steward-api"},
		"sub":  userID.String(),
		"wid":  ws.ID.String(),
		"role": role,
		"exp":  now.Add(10 * time.Minute).Unix(),
		"nbf":  now.Unix(),
		"iat":  now.Unix(),
		"jti":  uuid.NewString(),
	}
}

func (c tokenClaims) with(key string, value any) tokenClaims {
	out := tokenClaims{}
	for k, v := range c {
		out[k] = v
	}
	if value == nil {
		delete(out, key)
	} else {
		out[key] = value
	}
	return out
}

// forge signs claims with method and key; kid is the kid header, or none when empty.
func forgeToken(t *testing.T, method jwt.SigningMethod, kid string, key any, claims tokenClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// forgeRaw builds a token from a header and claims and an HS256 signature under secret, whatever
// the header says.
func forgeRaw(t *testing.T, header map[string]any, claims tokenClaims, secret []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	require.NoError(t, err)
	c, err := json.Marshal(claims)
	require.NoError(t, err)
	signing := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func TestAccessTokenAttacks(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	viewerID, _ := ws.AddUser(t, db.RoleViewer)
	key := servertest.TestKey
	base := validClaims(ws, viewerID, "VIEWER")
	now := time.Now()

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	// tampered is a correctly signed VIEWER token whose payload says ADMIN.
	valid := forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base)
	parts := strings.Split(valid, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	require.Contains(t, string(payload), `"role":"VIEWER"`)
	escalated := strings.Replace(string(payload), `"role":"VIEWER"`, `"role":"ADMIN"`, 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(escalated)) + "." + parts[2]

	t.Run("control: correctly forged tokens are accepted", func(t *testing.T) {
		for name, tok := range map[string]string{
			"valid": valid,
			// TokenLeeway is 30s: a little clock skew is tolerated.
			"nbf within the leeway": forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("nbf", now.Add(10*time.Second).Unix())),
			"no nbf":                forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("nbf", nil)),
		} {
			var out struct {
				Me struct {
					Role string `json:"role"`
					User struct {
						ID string `json:"id"`
					} `json:"user"`
				} `json:"me"`
			}
			env.Do(t, tok, meRoleOp, nil).Decode(t, &out)
			require.Equal(t, "VIEWER", out.Me.Role, name)
			require.Equal(t, nodeID("User", viewerID), out.Me.User.ID, name)
		}
	})

	otherSecret := []byte("another-secret-that-is-long-enough-000")
	for _, tc := range []struct {
		name  string
		token string
	}{
		{"alg none", forgeToken(t, jwt.SigningMethodNone, key.ID, jwt.UnsafeAllowNoneSignatureType, base)},
		{"alg none with ADMIN role", forgeToken(t, jwt.SigningMethodNone, key.ID, jwt.UnsafeAllowNoneSignatureType, base.with("role", "ADMIN"))},
		{"HS512 under the right secret", forgeToken(t, jwt.SigningMethodHS512, key.ID, key.Secret, base)},
		{"HS384 under the right secret", forgeToken(t, jwt.SigningMethodHS384, key.ID, key.Secret, base)},
		{"RS256 signed with an RSA key", forgeToken(t, jwt.SigningMethodRS256, key.ID, rsaKey, base)},
		{"RS256 header over an HS256 signature", forgeRaw(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": key.ID}, base, key.Secret)},
		{"tampered payload (VIEWER to ADMIN)", tampered},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"expired", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.
			with("exp", now.Add(-time.Hour).Unix()).with("iat", now.Add(-2*time.Hour).Unix()).with("nbf", now.Add(-2*time.Hour).Unix()))},
		{"expired beyond the leeway", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.
			with("exp", now.Add(-45*time.Second).Unix()).with("iat", now.Add(-10*time.Minute).Unix()).with("nbf", now.Add(-10*time.Minute).Unix()))},
		{"no exp", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("exp", nil))},
		{"nbf in the future", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("nbf", now.Add(2*time.Minute).Unix()))},
		{"iat in the future", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("iat", now.Add(2*time.Minute).Unix()))},
		{"wrong aud", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("aud", []string{"other-api"}))},
		{"no aud", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("aud", nil))},
		{"wrong iss", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("iss", "evil"))},
		{"no iss", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("iss", nil))},
		{"unknown kid", forgeToken(t, jwt.SigningMethodHS256, "test-2", key.Secret, base)},
		{"missing kid", forgeToken(t, jwt.SigningMethodHS256, "", key.Secret, base)},
		{"kid not a string", forgeRaw(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": 1}, base, key.Secret)},
		{"another secret under the known kid", forgeToken(t, jwt.SigningMethodHS256, key.ID, otherSecret, base)},
		{"unknown role", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("role", "ROOT"))},
		{"bad sub", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("sub", "admin"))},
		{"bad wid", forgeToken(t, jwt.SigningMethodHS256, key.ID, key.Secret, base.with("wid", "*"))},
		{"not a JWT", "definitely-not-a-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := env.Do(t, tc.token, `{ me { role } }`, nil)
			gqlErr := requireOnlyError(t, resp, "UNAUTHENTICATED")
			require.Equal(t, "authentication required", gqlErr.Message)
		})
	}
}

func TestRolePermissions(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)
	_, viewerToken := ws.AddUser(t, db.RoleViewer)
	_, csmToken := ws.AddUser(t, db.RoleCSM)
	_, managerToken := ws.AddUser(t, db.RoleManager)
	victimID, _ := ws.AddUser(t, db.RoleViewer)

	createAccount := func(token string) *servertest.Response {
		return env.Do(t, token, createAccountOp, map[string]any{"in": map[string]any{"name": "Acme " + uuid.NewString()[:6]}})
	}
	createKey := func(token string) *servertest.Response {
		return env.Do(t, token, createAPIKeyOp, map[string]any{"in": map[string]any{"name": "k", "scopes": []string{"READ"}}})
	}
	invite := func(token string) *servertest.Response {
		return env.Do(t, token, inviteUserOp, map[string]any{"in": map[string]any{
			"email": "invitee-" + uuid.NewString()[:8] + "@example.test", "name": "Invitee", "role": "ADMIN", "password": "long-enough-password",
		}})
	}
	promote := func(token string) *servertest.Response {
		return env.Do(t, token, setRoleOp, map[string]any{"id": nodeID("User", victimID), "role": "ADMIN"})
	}
	disable := func(token string) *servertest.Response {
		return env.Do(t, token, disableOp, map[string]any{"id": nodeID("User", victimID)})
	}
	listKeys := func(token string) *servertest.Response { return env.Do(t, token, apiKeysOp, nil) }

	// Everything a denied call could have changed, read as the admin.
	type state struct {
		Accounts int
		Users    []apiUser
		Keys     []apiKey
	}
	read := func(t *testing.T) state {
		return state{accountCount(t, env, ws.AdminToken), listUsers(t, env, ws.AdminToken), listAPIKeys(t, env, ws.AdminToken)}
	}

	for _, tc := range []struct {
		name  string
		token string
		call  func(token string) *servertest.Response
	}{
		{"anonymous createAccount", "", createAccount},
		{"anonymous apiKeys", "", listKeys},
		{"viewer createAccount", viewerToken, createAccount},
		{"viewer createApiKey", viewerToken, createKey},
		{"viewer inviteUser", viewerToken, invite},
		{"csm createApiKey", csmToken, createKey},
		{"csm inviteUser", csmToken, invite},
		{"csm setUserRole", csmToken, promote},
		{"csm disableUser", csmToken, disable},
		{"csm apiKeys", csmToken, listKeys},
		{"manager createApiKey", managerToken, createKey},
		{"manager inviteUser", managerToken, invite},
		{"manager setUserRole", managerToken, promote},
		{"manager disableUser", managerToken, disable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := read(t)
			want := "FORBIDDEN"
			if tc.token == "" {
				want = "UNAUTHENTICATED"
			}
			requireOnlyError(t, tc.call(tc.token), want)
			require.Equal(t, before, read(t), "a denied call changed data")
		})
	}

	t.Run("viewer can read", func(t *testing.T) {
		require.Equal(t, accountCount(t, env, ws.AdminToken), accountCount(t, env, viewerToken))
	})

	for _, tc := range []struct{ name, token string }{{"csm", csmToken}, {"manager", managerToken}} {
		t.Run(tc.name+" can createAccount", func(t *testing.T) {
			before := accountCount(t, env, ws.AdminToken)
			var out struct {
				CreateAccount struct {
					ID string `json:"id"`
				} `json:"createAccount"`
			}
			createAccount(tc.token).Decode(t, &out)
			require.NotEmpty(t, out.CreateAccount.ID)
			require.Equal(t, before+1, accountCount(t, env, ws.AdminToken))
		})
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)

	var wsOut struct {
		Me struct {
			Workspace struct {
				Name string `json:"name"`
			} `json:"workspace"`
		} `json:"me"`
	}
	env.Do(t, ws.AdminToken, `{ me { workspace { name } } }`, nil).Decode(t, &wsOut)
	wsName := wsOut.Me.Workspace.Name
	require.NotEmpty(t, wsName)

	readKey, readSecret := createAPIKey(t, env, ws.AdminToken, "reader", "READ")
	writeKey, writeSecret := createAPIKey(t, env, ws.AdminToken, "writer", "WRITE")
	eventsKey, eventsSecret := createAPIKey(t, env, ws.AdminToken, "events", "EVENTS_WRITE")
	idleKey, idleSecret := createAPIKey(t, env, ws.AdminToken, "idle", "READ", "WRITE", "READ")
	secrets := []string{readSecret, writeSecret, eventsSecret, idleSecret}

	t.Run("secrets are shown once", func(t *testing.T) {
		for i, k := range []apiKey{readKey, writeKey, eventsKey, idleKey} {
			secret := secrets[i]
			require.True(t, strings.HasPrefix(secret, "stw_"), secret)
			require.Greater(t, len(secret), len("stw_")+30, "secret too short to be random")
			require.True(t, strings.HasPrefix(k.Prefix, "stw_"), k.Prefix)
			require.True(t, strings.HasPrefix(secret, k.Prefix), "prefix %q does not start the secret", k.Prefix)
			require.Less(t, len(k.Prefix), len(secret)/2, "prefix reveals too much of the secret")
			require.Nil(t, k.LastUsedAt)
			require.Nil(t, k.RevokedAt)
		}
		require.Len(t, map[string]bool{readSecret: true, writeSecret: true, eventsSecret: true, idleSecret: true}, 4)
		require.Equal(t, []string{"READ"}, readKey.Scopes)
		require.Equal(t, []string{"WRITE"}, writeKey.Scopes)
		require.Equal(t, []string{"EVENTS_WRITE"}, eventsKey.Scopes)
		require.Equal(t, []string{"READ", "WRITE"}, idleKey.Scopes, "duplicate scopes are dropped")

		resp := env.Do(t, ws.AdminToken, apiKeysOp, nil)
		require.Empty(t, resp.Errors)
		for _, s := range secrets {
			require.NotContains(t, string(resp.Data), s)
			require.NotContains(t, string(resp.Data), s[len("stw_")+12:])
		}
		keys := listAPIKeys(t, env, ws.AdminToken)
		require.Len(t, keys, 4)
		require.Equal(t, readKey.Prefix, findAPIKey(t, keys, readKey.ID).Prefix)

		// ApiKey has no secret field to ask for.
		bad := env.Do(t, ws.AdminToken, `{ apiKeys { id secret } }`, nil)
		require.NotEmpty(t, bad.Errors)
		require.Equal(t, "GRAPHQL_VALIDATION_FAILED", bad.Code())
	})

	accountID := func(t *testing.T, resp *servertest.Response) string {
		var out struct {
			CreateAccount struct {
				ID string `json:"id"`
			} `json:"createAccount"`
		}
		resp.Decode(t, &out)
		require.NotEmpty(t, out.CreateAccount.ID)
		return out.CreateAccount.ID
	}
	newAccount := func(token string) *servertest.Response {
		return env.Do(t, token, createAccountOp, map[string]any{"in": map[string]any{"name": "Acme " + uuid.NewString()[:6]}})
	}
	seeded := accountID(t, newAccount(ws.AdminToken))

	t.Run("READ key reads but does not write", func(t *testing.T) {
		require.Equal(t, accountCount(t, env, ws.AdminToken), accountCount(t, env, readSecret))
		before := accountCount(t, env, ws.AdminToken)
		requireOnlyError(t, newAccount(readSecret), "FORBIDDEN")
		requireOnlyError(t, env.Do(t, readSecret, `mutation($id: ID!) { archiveAccount(id: $id) { id } }`, map[string]any{"id": seeded}), "FORBIDDEN")
		requireOnlyError(t, env.Do(t, readSecret, `mutation { recordEvents(events: []) { accepted } }`, nil), "FORBIDDEN")
		require.Equal(t, before, accountCount(t, env, ws.AdminToken))
	})

	t.Run("WRITE key writes and reads", func(t *testing.T) {
		before := accountCount(t, env, ws.AdminToken)
		id := accountID(t, newAccount(writeSecret))
		require.Equal(t, before+1, accountCount(t, env, ws.AdminToken))
		var out struct {
			Account struct {
				ID string `json:"id"`
			} `json:"account"`
		}
		env.Do(t, writeSecret, `query($id: ID!) { account(id: $id) { id } }`, map[string]any{"id": id}).Decode(t, &out)
		require.Equal(t, id, out.Account.ID)
		// WRITE does not imply EVENTS_WRITE.
		requireOnlyError(t, env.Do(t, writeSecret, `mutation { recordEvents(events: []) { accepted } }`, nil), "FORBIDDEN")
	})

	t.Run("EVENTS_WRITE key records events only", func(t *testing.T) {
		var out struct {
			RecordEvents struct {
				Accepted   int `json:"accepted"`
				Duplicates int `json:"duplicates"`
			} `json:"recordEvents"`
		}
		env.Do(t, eventsSecret, `mutation($events: [EventInput!]!) { recordEvents(events: $events) { accepted duplicates } }`,
			map[string]any{"events": []map[string]any{{
				"clientEventId": "evt-1", "accountId": seeded, "name": "login", "occurredAt": time.Now().UTC().Format(time.RFC3339),
			}}}).Decode(t, &out)
		require.Equal(t, 1, out.RecordEvents.Accepted)

		var acct struct {
			Account struct {
				LastLoginAt *time.Time `json:"lastLoginAt"`
			} `json:"account"`
		}
		env.Do(t, ws.AdminToken, `query($id: ID!) { account(id: $id) { lastLoginAt } }`, map[string]any{"id": seeded}).Decode(t, &acct)
		require.NotNil(t, acct.Account.LastLoginAt, "the event was not recorded")

		// EVENTS_WRITE does not imply READ.
		requireOnlyError(t, env.Do(t, eventsSecret, accountCountOp, nil), "FORBIDDEN")
		requireOnlyError(t, env.Do(t, eventsSecret, `query($id: ID!) { account(id: $id) { id name } }`, map[string]any{"id": seeded}), "FORBIDDEN")
		requireOnlyError(t, env.Do(t, eventsSecret, `{ me { role } }`, nil), "FORBIDDEN")
		requireOnlyError(t, newAccount(eventsSecret), "FORBIDDEN")
	})

	t.Run("keys cannot administer", func(t *testing.T) {
		adminID := nodeID("User", ws.AdminID)
		ops := []struct {
			name  string
			query string
			vars  map[string]any
		}{
			{"apiKeys", apiKeysOp, nil},
			{"createApiKey", createAPIKeyOp, map[string]any{"in": map[string]any{"name": "escalate", "scopes": []string{"WRITE"}}}},
			{"revokeApiKey", `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, map[string]any{"id": readKey.ID}},
			{"inviteUser", inviteUserOp, map[string]any{"in": map[string]any{
				"email": "key-invite-" + uuid.NewString()[:8] + "@example.test", "name": "X", "role": "ADMIN", "password": "long-enough-password",
			}}},
			{"setUserRole", setRoleOp, map[string]any{"id": adminID, "role": "VIEWER"}},
			{"disableUser", disableOp, map[string]any{"id": adminID}},
			{"node ApiKey", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": readKey.ID}},
		}
		// idleKey stays unused for the lastUsedAt check below.
		for _, secret := range []string{readSecret, writeSecret, eventsSecret} {
			for _, op := range ops {
				usersBefore := listUsers(t, env, ws.AdminToken)
				requireOnlyError(t, env.Do(t, secret, op.query, op.vars), "FORBIDDEN")
				require.Equal(t, usersBefore, listUsers(t, env, ws.AdminToken), op.name)
			}
		}
		keys := listAPIKeys(t, env, ws.AdminToken)
		require.Len(t, keys, 4, "a key created a key")
		require.Nil(t, findAPIKey(t, keys, readKey.ID).RevokedAt, "a key revoked a key")
	})

	t.Run("me as a key", func(t *testing.T) {
		var out struct {
			Me struct {
				Role   string          `json:"role"`
				User   json.RawMessage `json:"user"`
				APIKey struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"apiKey"`
				Workspace struct {
					Name string `json:"name"`
				} `json:"workspace"`
			} `json:"me"`
		}
		env.Do(t, readSecret, `{ me { role user { id } apiKey { id name } workspace { name } } }`, nil).Decode(t, &out)
		require.Equal(t, "reader", out.Me.APIKey.Name)
		require.Equal(t, readKey.ID, out.Me.APIKey.ID)
		require.Equal(t, wsName, out.Me.Workspace.Name)
		require.Equal(t, "null", string(out.Me.User))
		require.Equal(t, "VIEWER", out.Me.Role)
	})

	t.Run("lastUsedAt", func(t *testing.T) {
		keys := listAPIKeys(t, env, ws.AdminToken)
		for _, used := range []apiKey{readKey, writeKey, eventsKey} {
			got := findAPIKey(t, keys, used.ID)
			require.NotNil(t, got.LastUsedAt, "%s: lastUsedAt not set after use", used.Name)
			require.WithinDuration(t, time.Now(), *got.LastUsedAt, time.Minute)
		}
		require.Nil(t, findAPIKey(t, keys, idleKey.ID).LastUsedAt, "an unused key has lastUsedAt")
	})

	t.Run("revoked key", func(t *testing.T) {
		victim, victimSecret := createAPIKey(t, env, ws.AdminToken, "victim", "WRITE")
		_ = accountCount(t, env, victimSecret)

		var out struct {
			RevokeAPIKey apiKey `json:"revokeApiKey"`
		}
		env.Do(t, ws.AdminToken, `mutation($id: ID!) { revokeApiKey(id: $id) { id name prefix scopes lastUsedAt revokedAt } }`,
			map[string]any{"id": victim.ID}).Decode(t, &out)
		require.Equal(t, victim.ID, out.RevokeAPIKey.ID)
		require.NotNil(t, out.RevokeAPIKey.RevokedAt)
		require.NotNil(t, findAPIKey(t, listAPIKeys(t, env, ws.AdminToken), victim.ID).RevokedAt)

		gqlErr := requireOnlyError(t, env.Do(t, victimSecret, accountCountOp, nil), "UNAUTHENTICATED")
		require.Equal(t, "authentication required", gqlErr.Message)
		requireOnlyError(t, newAccount(victimSecret), "UNAUTHENTICATED")
		// Other keys keep working.
		require.Equal(t, accountCount(t, env, ws.AdminToken), accountCount(t, env, writeSecret))
	})

	t.Run("unknown keys", func(t *testing.T) {
		for _, secret := range []string{
			"stw_xxx",
			"stw_" + strings.Repeat("a", len(readSecret)-len("stw_")),
			readSecret[:len(readSecret)-1] + flipLast(readSecret),
			readKey.Prefix,
			strings.ToUpper(readSecret),
		} {
			gqlErr := requireOnlyError(t, env.Do(t, secret, accountCountOp, nil), "UNAUTHENTICATED")
			require.Equal(t, "authentication required", gqlErr.Message, secret)
		}
	})
}

// flipLast returns a character other than the last one of s.
func flipLast(s string) string {
	if s[len(s)-1] == 'a' {
		return "b"
	}
	return "a"
}

func TestUserManagement(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	ws := env.NewWorkspace(t)

	email := "invitee-" + uuid.NewString()[:8] + "@example.test"
	password := "initial-password-1"
	var invited struct {
		InviteUser apiUser `json:"inviteUser"`
	}
	env.Do(t, ws.AdminToken, inviteUserOp, map[string]any{"in": map[string]any{
		"email": email, "name": "  Ines Invitee ", "role": "CSM", "password": password,
	}}).Decode(t, &invited)
	u := invited.InviteUser
	require.Equal(t, email, u.Email)
	require.Equal(t, "Ines Invitee", u.Name)
	require.Equal(t, "CSM", u.Role)
	require.False(t, u.Disabled)
	require.Contains(t, listUsers(t, env, ws.AdminToken), u)

	// The invitee signs in with the password the admin chose.
	session := loginAPI(t, env, email, password)
	require.Equal(t, u.ID, session.User.ID)
	require.Equal(t, "CSM", session.User.Role)
	var me struct {
		Me struct {
			Role string `json:"role"`
		} `json:"me"`
	}
	env.Do(t, session.AccessToken, meRoleOp, nil).Decode(t, &me)
	require.Equal(t, "CSM", me.Me.Role)

	t.Run("invite errors", func(t *testing.T) {
		valid := map[string]any{"email": "ok-" + uuid.NewString()[:8] + "@example.test", "name": "Ok", "role": "VIEWER", "password": "long-enough-password"}
		with := func(key string, v any) map[string]any {
			out := map[string]any{}
			for k, val := range valid {
				out[k] = val
			}
			out[key] = v
			return out
		}
		for _, tc := range []struct {
			name  string
			in    map[string]any
			code  string
			field string
		}{
			{"duplicate", with("email", email), "CONFLICT", ""},
			{"duplicate in another case", with("email", strings.ToUpper(email)), "CONFLICT", ""},
			{"duplicate of the admin", with("email", ws.AdminEmail), "CONFLICT", ""},
			{"bad email", with("email", "not-an-email"), "BAD_USER_INPUT", "input.email"},
			{"email with a display name", with("email", "Eve <eve@example.test>"), "BAD_USER_INPUT", "input.email"},
			{"empty name", with("name", "   "), "BAD_USER_INPUT", "input.name"},
			{"short password", with("password", "short"), "BAD_USER_INPUT", "input.password"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := listUsers(t, env, ws.AdminToken)
				resp := env.Do(t, ws.AdminToken, inviteUserOp, map[string]any{"in": tc.in})
				requireOnlyError(t, resp, tc.code)
				if tc.field != "" {
					require.Equal(t, tc.field, resp.Field())
				}
				require.Equal(t, before, listUsers(t, env, ws.AdminToken))
			})
		}
		// A conflicting invite did not change the existing user's password.
		loginAPI(t, env, email, password)
	})

	t.Run("setUserRole", func(t *testing.T) {
		var out struct {
			SetUserRole apiUser `json:"setUserRole"`
		}
		env.Do(t, ws.AdminToken, setRoleOp, map[string]any{"id": u.ID, "role": "MANAGER"}).Decode(t, &out)
		require.Equal(t, u.ID, out.SetUserRole.ID)
		require.Equal(t, "MANAGER", out.SetUserRole.Role)
		// A new session carries the new role.
		env.Do(t, loginAPI(t, env, email, password).AccessToken, meRoleOp, nil).Decode(t, &me)
		require.Equal(t, "MANAGER", me.Me.Role)

		resp := env.Do(t, ws.AdminToken, setRoleOp, map[string]any{"id": nodeID("User", uuid.New()), "role": "VIEWER"})
		require.Equal(t, "not found", requireOnlyError(t, resp, "NOT_FOUND").Message)
	})

	t.Run("last admin", func(t *testing.T) {
		before := listUsers(t, env, ws.AdminToken)
		for _, role := range []string{"MANAGER", "CSM", "VIEWER"} {
			resp := env.Do(t, ws.AdminToken, setRoleOp, map[string]any{"id": nodeID("User", ws.AdminID), "role": role})
			requireOnlyError(t, resp, "BAD_USER_INPUT")
			require.Equal(t, "role", resp.Field())
		}
		resp := env.Do(t, ws.AdminToken, disableOp, map[string]any{"id": nodeID("User", ws.AdminID)})
		requireOnlyError(t, resp, "BAD_USER_INPUT")
		require.Equal(t, "userId", resp.Field())
		require.Equal(t, before, listUsers(t, env, ws.AdminToken))
		// Setting the role an admin already has is fine.
		var out struct {
			SetUserRole apiUser `json:"setUserRole"`
		}
		env.Do(t, ws.AdminToken, setRoleOp, map[string]any{"id": nodeID("User", ws.AdminID), "role": "ADMIN"}).Decode(t, &out)
		require.Equal(t, "ADMIN", out.SetUserRole.Role)
	})

	t.Run("disableUser", func(t *testing.T) {
		victimID, _ := ws.AddUser(t, db.RoleCSM)
		victimEmail := userEmail(t, env, ws.AdminToken, victimID)
		victim := loginAPI(t, env, victimEmail, servertest.TestPassword)

		var out struct {
			DisableUser apiUser `json:"disableUser"`
		}
		env.Do(t, ws.AdminToken, disableOp, map[string]any{"id": nodeID("User", victimID)}).Decode(t, &out)
		require.True(t, out.DisableUser.Disabled)
		require.Equal(t, "CSM", out.DisableUser.Role)

		requireOnlyError(t, refreshAPI(t, env, victim.RefreshToken), "UNAUTHENTICATED")
		resp := env.Do(t, "", loginOp, map[string]any{"e": victimEmail, "p": servertest.TestPassword})
		require.Equal(t, "invalid email or password", requireOnlyError(t, resp, "UNAUTHENTICATED").Message)

		for _, listed := range listUsers(t, env, ws.AdminToken) {
			if listed.ID == nodeID("User", victimID) {
				require.True(t, listed.Disabled)
			}
		}
		// Disabling twice is harmless.
		env.Do(t, ws.AdminToken, disableOp, map[string]any{"id": nodeID("User", victimID)}).Decode(t, &out)
		require.True(t, out.DisableUser.Disabled)
	})

	t.Run("demote with another admin", func(t *testing.T) {
		var out struct {
			SetUserRole apiUser `json:"setUserRole"`
		}
		env.Do(t, ws.AdminToken, setRoleOp, map[string]any{"id": u.ID, "role": "ADMIN"}).Decode(t, &out)

		// With two admins, an admin still cannot disable themselves.
		resp := env.Do(t, ws.AdminToken, disableOp, map[string]any{"id": nodeID("User", ws.AdminID)})
		requireOnlyError(t, resp, "BAD_USER_INPUT")
		require.Equal(t, "userId", resp.Field())

		env.Do(t, ws.AdminToken, setRoleOp, map[string]any{"id": nodeID("User", ws.AdminID), "role": "CSM"}).Decode(t, &out)
		require.Equal(t, "CSM", out.SetUserRole.Role)

		// Now the invitee is the last admin; their own fresh token cannot demote them.
		inviteeToken := loginAPI(t, env, email, password).AccessToken
		resp = env.Do(t, inviteeToken, setRoleOp, map[string]any{"id": u.ID, "role": "VIEWER"})
		requireOnlyError(t, resp, "BAD_USER_INPUT")
		require.Equal(t, "role", resp.Field())

		// The demoted admin's access token still says ADMIN until it expires (tokens are not
		// looked up), but it cannot disable the last admin either.
		resp = env.Do(t, ws.AdminToken, disableOp, map[string]any{"id": u.ID})
		requireOnlyError(t, resp, "BAD_USER_INPUT")
		require.Equal(t, "userId", resp.Field())
		users := listUsers(t, env, inviteeToken)
		require.Contains(t, users, apiUser{ID: u.ID, Email: email, Name: u.Name, Role: "ADMIN"})
	})
}
