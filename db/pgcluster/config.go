// Package pgcluster runs Steward's private PostgreSQL cluster, "the embedded
// default" used when DATABASE_URL is not set, from the PostgreSQL server
// binaries installed on the machine.
//
// Start creates the cluster on first use (initdb), starts it on a free
// 127.0.0.1 port and waits until it accepts connections. Several processes may
// call Start on the same data directory at once (two `steward serve`, or one
// `go test` process per package): they are serialized by a file lock, and a
// server that is already running is reused rather than started twice.
//
// PostgreSQL refuses to run as root. When Steward runs as root, the server runs
// as the "postgres" system account, and a data directory whose path that
// account cannot traverse (a checkout under /root, a t.TempDir) is moved under
// FallbackRoot with a symlink left at the configured path.
package pgcluster

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"
)

const (
	// DefaultDataDir is the data directory used when Config.DataDir is empty. It
	// is relative to the working directory, so each checkout has its own cluster.
	DefaultDataDir = ".data/postgres"

	// DefaultStartTimeout bounds Start as a whole: waiting for another process
	// that holds the lock, initdb, and the server's start-up.
	DefaultStartTimeout = 60 * time.Second

	// DefaultStopTimeout bounds the stop that Run performs after its child exits,
	// even when Run's context has been cancelled.
	DefaultStopTimeout = 60 * time.Second

	// SuperUser is the database superuser that initdb creates. URL connects as
	// it; authentication is "trust" because the server only listens on
	// 127.0.0.1 and on a socket in a directory only its owner can open.
	SuperUser = "postgres"

	// SystemUser is the operating-system account that runs initdb and the server
	// when Steward runs as root. Start creates it with useradd if it is missing.
	SystemUser = "postgres"

	// FallbackRoot holds the real data directories of clusters whose configured
	// path SystemUser cannot traverse. Each gets FallbackRoot/<hash of the
	// configured absolute path>/<base name>.
	FallbackRoot = "/var/lib/steward"

	// InstallCommand installs the PostgreSQL server binaries on Debian and
	// Ubuntu. Start's error names it when no binaries are found.
	InstallCommand = "apt-get update && apt-get install -y postgresql"

	// socketRoot is where socket directories go: a unix socket path must stay
	// under about 107 bytes, which a data directory path can exceed.
	socketRoot = "/tmp"

	// maxConnections leaves room for parallel test packages, each with a pool.
	maxConnections = 200

	// sharedBuffers is PostgreSQL's shared_buffers setting for the cluster.
	sharedBuffers = "256MB"
)

// Config describes the cluster that Start runs. The zero value is usable: it
// is the durable cluster under DefaultDataDir.
type Config struct {
	// DataDir is the cluster's data directory. A relative path is made absolute
	// against the working directory; empty means DefaultDataDir. The lock,
	// marker and log files are kept beside it (DataDir + ".lock" and so on).
	// When running as root and SystemUser cannot traverse to DataDir's parent,
	// the data lives under FallbackRoot and DataDir becomes a symlink to it.
	DataDir string

	// Fast turns off durability (fsync, synchronous_commit, full_page_writes)
	// for throwaway test clusters: a machine crash can corrupt such a cluster.
	// It takes effect whenever Start starts the server, not when Start reuses a
	// server that is already running.
	Fast bool

	// Logger receives progress messages; nil means slog.Default().
	Logger *slog.Logger

	// StartTimeout bounds Start; zero means DefaultStartTimeout.
	StartTimeout time.Duration
}

// withDefaults returns cfg with defaults filled in and DataDir made absolute.
func (cfg Config) withDefaults() (Config, error) {
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return cfg, fmt.Errorf("resolve DataDir %q: %w", cfg.DataDir, err)
	}
	cfg.DataDir = abs
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	return cfg, nil
}

// validate names the first field that cannot be used.
func (cfg Config) validate() error {
	if cfg.StartTimeout < 0 {
		return errors.New("config: StartTimeout must not be negative")
	}
	if filepath.Clean(cfg.DataDir) == "/" {
		return errors.New("config: DataDir must not be the root directory")
	}
	return nil
}
