package db

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the advisory lock that serializes migrations across processes.
const migrationLockKey = 0x5737_7761_7264 // "Steward"

func migrations() (*migrate.Migrations, error) {
	m := migrate.NewMigrations()
	if err := m.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	return m, nil
}

// Migrate applies pending migrations. A session-level advisory lock on one pinned connection
// serializes processes that start at once; the later ones find nothing left to do.
func Migrate(ctx context.Context, b *bun.DB) ([]string, error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	conn, err := b.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("pin connection for migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrationLockKey); err != nil {
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrationLockKey) //nolint:errcheck // released with the session anyway

	migrator := migrate.NewMigrator(b, ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := migrator.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migration tables: %w", err)
	}
	group, err := migrator.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	var applied []string
	for _, m := range group.Migrations {
		applied = append(applied, m.Name)
	}
	return applied, nil
}

// Pending reports how many migrations are not applied yet; /readyz uses it.
func Pending(ctx context.Context, b *bun.DB) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	migrator := migrate.NewMigrator(b, ms)
	status, err := migrator.MigrationsWithStatus(ctx)
	if err != nil {
		return 0, fmt.Errorf("read migration status: %w", err)
	}
	return len(status.Unapplied()), nil
}

// MigrationsFingerprint is a short hash of every migration file: test helpers name their
// migrated template database after it, so a changed migration gets a fresh template.
func MigrationsFingerprint() string {
	h := sha256.New()
	entries, _ := fs.ReadDir(migrationFiles, "migrations")
	for _, e := range entries {
		b, _ := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
