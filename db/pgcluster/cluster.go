package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pollInterval is how often Start re-checks a server that is starting up.
const pollInterval = 100 * time.Millisecond

// startAttempts is how many times Start runs pg_ctl start. A retry covers the
// seconds after a kill -9 of the previous server, while its orphaned backends
// still hold the old shared memory and the new server refuses to start.
const startAttempts = 3

// Cluster is a running PostgreSQL server on a data directory, either started by
// Start or found running and reused. It must be stopped with Stop, which leaves
// the server running while other Clusters (in any process) still use it.
type Cluster struct {
	logger  *slog.Logger
	dataDir string // the configured absolute path
	realDir string // where the data really is; dataDir may link to it
	account account
	bin     binaries
	port    int
	owned   bool

	mu    sync.Mutex
	inUse *os.File // shared lock on dataDir+".inuse"; nil once stopped
}

// Start starts the cluster described by cfg, creating it first if its data
// directory holds none, or reuses the server already running on it. It
// returns once the server accepts connections. Start is safe to call from
// several processes at once on the same data directory.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	// Fail before touching the disk when PostgreSQL is not installed at all;
	// start picks the version that matches an existing cluster.
	if _, err := findBinaries(""); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	c := &Cluster{logger: cfg.Logger.With("data_dir", cfg.DataDir), dataDir: cfg.DataDir}
	if err := os.MkdirAll(filepath.Dir(c.dataDir), 0o755); err != nil {
		return nil, fmt.Errorf("start postgres: create data dir parent: %w", err)
	}
	lock, err := lockFile(ctx, c.lockPath(), syscall.LOCK_EX, c.logger)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	defer lock.Close()
	// Every live Cluster holds a shared lock, so that Stop can tell whether it
	// is the last user. Exclusive holders only exist under the lock held here.
	c.inUse, err = tryLockFile(c.inUsePath(), syscall.LOCK_SH)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.start(ctx, cfg); err != nil {
		c.inUse.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	return c, nil
}

// start does Start's work under the lock.
func (c *Cluster) start(ctx context.Context, cfg Config) error {
	var err error
	if c.account, err = serverAccount(ctx, c.logger); err != nil {
		return err
	}
	if c.realDir, err = resolveDataDir(ctx, c.dataDir, c.account, c.logger); err != nil {
		return err
	}
	major, err := readPGVersion(c.realDir)
	if err != nil {
		return err
	}
	if c.bin, err = findBinaries(major); err != nil {
		return err
	}

	reused, err := c.reuseRunning(ctx)
	if err != nil || reused {
		return err
	}
	if major == "" {
		if err := c.initdb(ctx, cfg.Fast); err != nil {
			return err
		}
	} else if err := c.account.chownTree(c.realDir); err != nil {
		return err
	}
	if c.port, err = c.choosePort(); err != nil {
		return err
	}
	if err := c.writeConf(cfg.Fast); err != nil {
		return err
	}
	if err := c.prepareRuntimeFiles(); err != nil {
		return err
	}
	if err := c.pgCtlStart(ctx); err != nil {
		return err
	}
	pid, _, err := readPostmasterPID(c.realDir)
	if err != nil {
		return fmt.Errorf("read postmaster.pid after start: %w", err)
	}
	// The marker lets the last Cluster to stop know that this package started
	// the server (and so should stop it), even when the starter has gone or,
	// below, fails.
	if err := os.WriteFile(c.startedPath(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fmt.Errorf("write start marker: %w", err)
	}
	if err := c.waitReady(ctx); err != nil {
		return err
	}
	c.owned = true
	c.logger.Info("postgres started", "port", c.port, "log_file", c.logPath())
	return nil
}

// URL returns the connection URL of database on the cluster, as the
// superuser, over TCP. The database is not created: see EnsureDatabase.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(SuperUser),
		Host:     "127.0.0.1:" + strconv.Itoa(c.port),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Owned reports whether this Cluster started the server, rather than finding
// it already running.
func (c *Cluster) Owned() bool { return c.owned }

// Port returns the TCP port the server listens on at 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// DataDir returns the directory that holds the data. It differs from
// Config.DataDir when that is a symlink, such as the one made for root.
func (c *Cluster) DataDir() string { return c.realDir }

// SocketDir returns the directory of the server's unix socket, for psql -h.
func (c *Cluster) SocketDir() string {
	return filepath.Join(socketRoot, "steward-pg-"+pathHash(c.dataDir, 8))
}

// LogFile returns the server's log file.
func (c *Cluster) LogFile() string { return c.logPath() }

// EnsureDatabase creates database on the cluster unless it exists. It is safe
// to call concurrently from several processes.
func (c *Cluster) EnsureDatabase(ctx context.Context, database string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return fmt.Errorf("ensure database %q: connect: %w", database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", database).Scan(&exists); err != nil {
		return fmt.Errorf("ensure database %q: %w", database, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{database}.Sanitize())
	var pgErr *pgconn.PgError
	// A concurrent creator makes ours fail with duplicate_database, or with
	// unique_violation on pg_database when both got past the check together.
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ensure database %q: %w", database, err)
	}
	c.logger.Info("created database", "database", database)
	return nil
}

// Stop releases the cluster. The server is stopped (pg_ctl stop -m fast) only
// when no other Cluster, in this process or another, still uses it and it was
// started by this package: by this Cluster, or by one that has since gone
// without stopping it (a crashed process). So a Cluster that reused a running
// server stops it only when it is the last user of a server that its starter
// left behind, and a server started by hand is never stopped. Calls after
// the first that got the lock do nothing; a Stop that timed out waiting for
// the lock may be called again.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inUse == nil {
		return nil
	}
	lock, err := lockFile(ctx, c.lockPath(), syscall.LOCK_EX, c.logger)
	if err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	defer lock.Close()
	c.inUse.Close()
	c.inUse = nil

	last, err := tryLockFile(c.inUsePath(), syscall.LOCK_EX)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		c.logger.Info("postgres still used by other processes; leaving it running", "port", c.port)
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	defer last.Close()

	pid, _, err := readPostmasterPID(c.realDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // Already stopped, by hand or by a crash.
	}
	if err != nil {
		return fmt.Errorf("stop postgres: %w", err)
	}
	if !postmasterAlive(pid, c.realDir) {
		os.Remove(c.startedPath())
		c.logger.Info("postgres is not running; nothing to stop", "pid", pid)
		return nil // Start removes the stale postmaster.pid.
	}
	marker, err := os.ReadFile(c.startedPath())
	if err != nil || strings.TrimSpace(string(marker)) != strconv.Itoa(pid) {
		c.logger.Info("postgres was not started by steward; leaving it running", "port", c.port)
		return nil
	}
	timeout := DefaultStopTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	out, err := c.account.command(ctx, filepath.Dir(c.realDir), c.bin.pgCtl,
		"-D", c.realDir, "-m", "fast", "-w", "-t", seconds(timeout), "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("stop postgres: pg_ctl stop: %w: %s", err, strings.TrimSpace(string(out)))
	}
	os.Remove(c.startedPath())
	os.Remove(c.SocketDir()) // Empty once the server is down; a leftover is harmless.
	c.logger.Info("postgres stopped", "port", c.port)
	return nil
}

// lockPath serializes Start and Stop on the data directory.
func (c *Cluster) lockPath() string { return c.dataDir + ".lock" }

// inUsePath is share-locked by every live Cluster on the data directory.
func (c *Cluster) inUsePath() string { return c.dataDir + ".inuse" }

// startedPath records the pid of a postmaster that this package started.
func (c *Cluster) startedPath() string { return c.dataDir + ".started" }

// logPath is beside the real data directory: the server writes it as the
// account, which may not be able to reach the configured path.
func (c *Cluster) logPath() string { return c.realDir + ".log" }

// readPGVersion returns the major version in dir/PG_VERSION, or "" when dir
// holds no cluster yet.
func readPGVersion(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read PG_VERSION: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// readPostmasterPID returns the pid and port in dir/postmaster.pid; the port
// is 0 while the server has not written it yet.
func readPostmasterPID(dir string) (pid, port int, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	pid, err = strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return 0, 0, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	if len(lines) > 3 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3])) // Zero while unknown.
	}
	return pid, port, nil
}
