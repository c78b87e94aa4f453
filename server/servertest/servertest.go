// Package servertest runs Steward's real HTTP handler on a test database for API tests: the
// same routes, middleware, transports and services as `steward serve`, behind httptest.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"golang.org/x/crypto/bcrypt"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
	"github.com/stewardhq/steward/delivery"
	"github.com/stewardhq/steward/feed"
	"github.com/stewardhq/steward/graph"
	"github.com/stewardhq/steward/server"
)

// TestPassword is the password of every user the harness creates.
const TestPassword = "correct-horse-battery"

// TestKey is the JWT signing key of test servers, so tests can forge tokens with it.
var TestKey = auth.Key{ID: "test-1", Secret: []byte("0123456789abcdef0123456789abcdef-test")}

// Env is one running test server.
type Env struct {
	URL    string
	Server *httptest.Server
	Bun    *bun.DB
	Auth   *auth.Service
	Config server.Config
	// Feed is the server's live-feed hub.
	Feed *feed.Hub
	// Websockets are the server's open graphql-transport-ws connections.
	Websockets *graph.WSConnections
	seq        atomic.Int64
}

// settings are what Options change.
type settings struct {
	cfg        server.Config
	feed       feed.Config
	ownDB      bool
	isolatedDB bool
}

// WithFeed edits the live-feed hub's config (poll interval, buffer, retention, clock).
func WithFeed(edit func(*feed.Config)) Option { return func(s *settings) { edit(&s.feed) } }

// Option changes the test server before it starts.
type Option func(*settings)

// WithConfig edits the server config.
func WithConfig(edit func(*server.Config)) Option { return func(s *settings) { edit(&s.cfg) } }

// WithOwnDB gives the server its own connection pool on the package database, so that
// Env.Bun.DBStats() counts only this server's SQL statements.
func WithOwnDB() Option { return func(s *settings) { s.ownDB = true } }

// WithIsolatedDB runs the server on a database of its own (dbtest.Isolated), so its River
// workers and periodic jobs neither see nor touch other tests' rows: for scenarios whose
// background work (journey status checks every second) would otherwise run on, and be
// counted by, other tests' servers.
func WithIsolatedDB() Option { return func(s *settings) { s.isolatedDB = true } }

// New starts the real handler on the test package's database (dbtest.Main must run in
// TestMain). The server stops when the test ends.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	st := settings{cfg: server.Config{
		Addr: "127.0.0.1:0", Dev: true, CORSOrigins: []string{"http://localhost:5173"},
		AccessTokenTTL: 15 * time.Minute, RefreshTokenTTL: 24 * time.Hour,
		MaxBodyBytes: server.DefaultMaxBodyBytes, OperationTimeout: 10 * time.Second,
		ShutdownTimeout: 5 * time.Second, DBMaxConns: 20,
	}, feed: feed.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	for _, o := range opts {
		o(&st)
	}
	d := dbtest.DB(t)
	if st.isolatedDB {
		d = dbtest.Isolated(t)
	}
	cfg := st.cfg
	bunDB, pool := d.Bun, d.Pool
	if st.ownDB {
		b, p, err := db.Open(context.Background(), d.URL, db.PoolConfig{MaxConns: 10})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close(); p.Close() })
		bunDB, pool = b, p
	}
	keys, err := auth.NewKeyset(TestKey)
	require.NoError(t, err)
	authService := &auth.Service{
		DB:           bunDB,
		Tokens:       &auth.Issuer{Keys: keys, TTL: cfg.AccessTokenTTL},
		RefreshTTL:   cfg.RefreshTokenTTL,
		PasswordCost: bcrypt.MinCost,
	}
	logger := slog.New(server.NewLogHandler(slog.NewTextHandler(io.Discard, nil)))
	resolver := graph.NewResolver(bunDB, authService, time.Now)
	// Background work (River workers, the play sweep, the journey status job) runs on the
	// package pool, so WithOwnDB's statement counts see only the server's requests.
	stopQueue, err := server.StartQueue(context.Background(), d.Bun, d.Pool, resolver, logger, time.Second,
		server.WithDelivery(delivery.Config{AllowPrivateWebhookTargets: true}))
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		require.NoError(t, stopQueue(ctx))
	})
	// The hub reads through the package pool, so WithOwnDB's statement counts see only the
	// server's requests, not the hub's polling.
	stopFeed, err := server.StartFeed(context.Background(), d.Bun, d.Pool, resolver, st.feed)
	require.NoError(t, err)
	t.Cleanup(stopFeed)
	srv := server.New(cfg, server.Deps{
		Bun:      bunDB,
		Pool:     pool,
		Auth:     authService,
		Resolver: resolver,
		Logger:   logger,
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &Env{URL: hs.URL, Server: hs, Bun: bunDB, Auth: authService, Config: cfg, Feed: resolver.Feed, Websockets: srv.Websockets()}
}

// Workspace is a tenant made for one test, with a signed-in admin.
type Workspace struct {
	ID         uuid.UUID
	Tenant     db.Tenant
	AdminID    uuid.UUID
	AdminEmail string
	AdminToken string
	env        *Env
}

// NewWorkspace creates a workspace (with the default team roles) and an ADMIN, and logs the
// admin in through the API.
func (e *Env) NewWorkspace(t testing.TB) *Workspace {
	t.Helper()
	ctx := context.Background()
	ws, err := db.CreateWorkspace(ctx, e.Bun, fmt.Sprintf("Workspace %d", e.seq.Add(1)))
	require.NoError(t, err)
	w := &Workspace{ID: ws.ID, Tenant: db.Tenant{WorkspaceID: ws.ID}, env: e}
	w.AdminID, w.AdminEmail = e.addMember(t, w, db.RoleAdmin)
	w.AdminToken = e.Login(t, w.AdminEmail, TestPassword).AccessToken
	return w
}

// AddUser adds a member with role and returns their id and an access token.
func (w *Workspace) AddUser(t testing.TB, role string) (uuid.UUID, string) {
	t.Helper()
	id, email := w.env.addMember(t, w, role)
	return id, w.env.Login(t, email, TestPassword).AccessToken
}

func (e *Env) addMember(t testing.TB, w *Workspace, role string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	hash, err := auth.HashPasswordCost(TestPassword, bcrypt.MinCost)
	require.NoError(t, err)
	email := fmt.Sprintf("user-%s@example.test", uuid.NewString()[:12])
	u := &db.User{Email: email, Name: "User " + strings.ToLower(role), PasswordHash: hash}
	require.NoError(t, db.InsertUser(ctx, e.Bun, u))
	require.NoError(t, db.InsertMembership(ctx, e.Bun, w.Tenant, &db.Membership{UserID: u.ID, Role: role}))
	return u.ID, email
}

// Tokens is a login's result.
type Tokens struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

// Login signs in through the API and fails the test if it does not work.
func (e *Env) Login(t testing.TB, email, password string) Tokens {
	t.Helper()
	var out struct {
		Login Tokens `json:"login"`
	}
	e.Do(t, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken } }`,
		map[string]any{"e": email, "p": password}).Decode(t, &out)
	return out.Login
}

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns the first error's extensions.code, or "" when there are no errors.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Field returns the first error's extensions.field.
func (r *Response) Field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	f, _ := r.Errors[0].Extensions["field"].(string)
	return f
}

// Decode requires no errors and decodes data into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	require.Empty(t, r.Errors, "unexpected GraphQL errors")
	require.NoError(t, json.Unmarshal(r.Data, v))
}

// Do posts one GraphQL operation with an optional bearer token.
func (e *Env) Do(t testing.TB, token, query string, vars map[string]any) *Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return e.DoRaw(t, token, body)
}

// DoRaw posts a raw request body to /graphql.
func (e *Env) DoRaw(t testing.TB, token string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.URL+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.Server.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := &Response{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (status %d): %s", resp.StatusCode, raw)
	}
	return out
}
