// Package dbtest gives each test package a fresh PostgreSQL database, cloned from a migrated
// template and dropped afterwards. It uses TEST_DATABASE_URL when set, otherwise Steward's
// private test cluster under .data/postgres-test (started on first use, shared by packages).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/pgcluster"
	"github.com/stewardhq/steward/queue"
)

// templateLockKey serializes template creation across test processes.
const templateLockKey = 0x5737_7465_7374

// Database is one test package's database.
type Database struct {
	URL  string
	Bun  *bun.DB
	Pool *pgxpool.Pool
}

var current *Database

// Main wraps testing.M.Run: it creates the package's database before the tests and drops it
// after. Call it from TestMain: `func TestMain(m *testing.M) { dbtest.Main(m) }`.
func Main(m *testing.M) {
	ctx := context.Background()
	d, cleanup, err := create(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		os.Exit(1)
	}
	current = d
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// DB returns the package's database; Main must have run.
func DB(t testing.TB) *Database {
	t.Helper()
	if current == nil {
		t.Fatal("dbtest: call dbtest.Main from TestMain")
	}
	return current
}

// source is where the package's databases come from: the admin URL and the migrated template.
var source struct {
	adminURL string
	template string
}

func create(ctx context.Context) (*Database, func(), error) {
	adminURL, stopCluster, err := adminURL(ctx)
	if err != nil {
		return nil, nil, err
	}
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		stopCluster()
		return nil, nil, fmt.Errorf("connect admin: %w", err)
	}
	defer admin.Close(ctx)

	// "_river": the template also holds River's tables (queue.Migrate).
	tpl := "steward_tpl_" + db.MigrationsFingerprint() + "_river"
	if err := ensureTemplate(ctx, admin, adminURL, tpl); err != nil {
		stopCluster()
		return nil, nil, err
	}
	source.adminURL, source.template = adminURL, tpl
	d, drop, err := clone(ctx, "steward_test_")
	if err != nil {
		stopCluster()
		return nil, nil, err
	}
	return d, func() { drop(); stopCluster() }, nil
}

// Isolated gives one test a database of its own, cloned from the migrated template and dropped
// when the test ends: for tests whose background workers must not see the package database.
func Isolated(t testing.TB) *Database {
	t.Helper()
	if source.template == "" {
		t.Fatal("dbtest: call dbtest.Main from TestMain")
	}
	d, drop, err := clone(context.Background(), "steward_iso_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return d
}

// clone creates a database from the template and opens it; drop closes and removes it.
func clone(ctx context.Context, prefix string) (*Database, func(), error) {
	admin, err := pgx.Connect(ctx, source.adminURL)
	if err != nil {
		return nil, nil, fmt.Errorf("connect admin: %w", err)
	}
	defer admin.Close(ctx)
	name := prefix + randomHex(6)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, source.template)); err != nil {
		return nil, nil, fmt.Errorf("create test database: %w", err)
	}
	dbURL := withDatabase(source.adminURL, name)
	b, pool, err := db.Open(ctx, dbURL, db.PoolConfig{MaxConns: 20})
	if err != nil {
		return nil, nil, err
	}
	drop := func() {
		_ = b.Close()
		pool.Close()
		c, err := pgx.Connect(context.Background(), source.adminURL)
		if err == nil {
			_, _ = c.Exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
			_ = c.Close(context.Background())
		}
	}
	return &Database{URL: dbURL, Bun: b, Pool: pool}, drop, nil
}

func ensureTemplate(ctx context.Context, admin *pgx.Conn, adminURL, tpl string) error {
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLockKey); err != nil {
		return fmt.Errorf("lock template: %w", err)
	}
	defer admin.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLockKey) //nolint:errcheck // released with the session anyway
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tpl).Scan(&exists); err != nil {
		return fmt.Errorf("look up template: %w", err)
	}
	if exists {
		return nil
	}
	building := tpl + "_building"
	_, _ = admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return fmt.Errorf("create template: %w", err)
	}
	b, pool, err := db.Open(ctx, withDatabase(adminURL, building), db.PoolConfig{MaxConns: 2})
	if err != nil {
		return err
	}
	_, merr := db.Migrate(ctx, b)
	_ = b.Close()
	pool.Close()
	if merr == nil {
		// A pool of River's own: bun's database/sql keeps idle connections of the shared pool.
		merr = migrateRiver(ctx, withDatabase(adminURL, building))
	}
	if merr != nil {
		return merr
	}
	// Renamed only once complete, so a crash mid-migration never leaves a half-built template.
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, tpl)); err != nil {
		return fmt.Errorf("publish template: %w", err)
	}
	return nil
}

func migrateRiver(ctx context.Context, url string) error {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return fmt.Errorf("open pool for river migrations: %w", err)
	}
	defer pool.Close()
	return queue.Migrate(ctx, pool)
}

// adminURL returns a URL to a database we may CREATE DATABASE from, and how to release it.
func adminURL(ctx context.Context) (string, func(), error) {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u, func() {}, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Config{DataDir: filepath.Join(root, ".data", "postgres-test"), Fast: true})
	if err != nil {
		return "", nil, fmt.Errorf("start private test cluster: %w", err)
	}
	// Left running: other test packages may be using it. `make test` wraps the run in
	// `steward pg run`, which stops the cluster it started once every package is done.
	return c.URL("postgres"), func() {}, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + strings.TrimPrefix(name, "/")
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
