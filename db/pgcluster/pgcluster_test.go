package pgcluster

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// testBundle is what each test works on: a fresh data directory and the
// Config that points at it.
type testBundle struct {
	cfg Config
}

// setup skips the test when no PostgreSQL binaries are installed (but fails
// it in CI, where they must be) and gives it a data directory of its own.
// The directory is in t.TempDir, which is mode 0700: run as root, that
// exercises the fallback for directories the postgres user cannot reach.
func setup(t *testing.T, fast bool) testBundle {
	t.Helper()
	if _, err := findBinaries(""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL binaries are required in CI: %v", err)
		}
		t.Skipf("no PostgreSQL binaries: %v", err)
	}
	dataDir := filepath.Join(t.TempDir(), "postgres")
	t.Cleanup(func() { cleanupCluster(t, dataDir) })
	return testBundle{cfg: Config{
		DataDir: dataDir,
		Fast:    fast,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
	}}
}

// cleanupCluster stops any server a failed test left on dataDir and removes
// the fallback directory that t.TempDir's cleanup would not reach.
func cleanupCluster(t *testing.T, dataDir string) {
	real := dataDir
	if target, err := os.Readlink(dataDir); err == nil {
		real = target
	}
	if _, err := os.Stat(filepath.Join(real, "postmaster.pid")); err == nil {
		a, accErr := serverAccount(context.Background(), slog.Default())
		bin, binErr := findBinaries("")
		if accErr == nil && binErr == nil {
			out, err := a.command(context.Background(), "/", bin.pgCtl, "-D", real, "-m", "immediate", "-w", "stop").CombinedOutput()
			t.Logf("stopping leftover server: %v: %s", err, out)
		}
	}
	os.Remove(filepath.Join(socketRoot, "steward-pg-"+pathHash(dataDir, 8)))
	if strings.HasPrefix(real, FallbackRoot+"/") {
		require.NoError(t, os.RemoveAll(filepath.Dir(real)))
	}
}

// startCluster starts a cluster and stops it when the test ends.
func startCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Stop(context.Background())) })
	return c
}

// connect opens a connection to database on c, closed when the test ends.
func connect(t *testing.T, c *Cluster, database string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.URL(database))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// running reports whether a server runs on c's data directory.
func running(c *Cluster) bool {
	pid, _, err := readPostmasterPID(c.DataDir())
	return err == nil && postmasterAlive(pid, c.DataDir())
}

func TestStartStopRestartKeepsData(t *testing.T) {
	t.Parallel()
	bundle := setup(t, false)

	c, err := Start(t.Context(), bundle.cfg)
	require.NoError(t, err)
	require.True(t, c.Owned())
	require.Equal(t, "postgres://postgres@127.0.0.1:"+strconv.Itoa(c.Port())+"/app?sslmode=disable", c.URL("app"))
	if os.Geteuid() == 0 {
		// t.TempDir is 0700, so the data must have moved where postgres can reach it.
		require.True(t, strings.HasPrefix(c.DataDir(), FallbackRoot+"/"), "data dir %s", c.DataDir())
		fi, err := os.Lstat(bundle.cfg.DataDir)
		require.NoError(t, err)
		require.NotZero(t, fi.Mode()&os.ModeSymlink, "configured data dir should be a symlink")
	}

	conn := connect(t, c, "postgres")
	var one int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
	var fsync, maxConns, encoding, ctype string
	require.NoError(t, conn.QueryRow(t.Context(),
		"SELECT current_setting('fsync'), current_setting('max_connections'), current_setting('server_encoding'), datctype FROM pg_database WHERE datname = 'postgres'").
		Scan(&fsync, &maxConns, &encoding, &ctype))
	require.Equal(t, "on", fsync)
	require.Equal(t, "200", maxConns)
	require.Equal(t, "UTF8", encoding)
	require.Equal(t, "C.UTF-8", ctype)
	_, err = conn.Exec(t.Context(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello'); CREATE EXTENSION pg_trgm")
	require.NoError(t, err)
	conn.Close(t.Context())
	port := c.Port()

	require.NoError(t, c.Stop(t.Context()))
	require.False(t, running(c))
	require.NoError(t, c.Stop(t.Context()), "Stop is idempotent")

	c = startCluster(t, bundle.cfg)
	require.True(t, c.Owned())
	require.Equal(t, port, c.Port(), "a free stored port is kept")
	var v string
	require.NoError(t, connect(t, c, "postgres").QueryRow(t.Context(), "SELECT v FROM kept").Scan(&v))
	require.Equal(t, "hello", v)
}

func TestConcurrentStartsShareOneServer(t *testing.T) {
	t.Parallel()
	bundle := setup(t, true)

	var (
		wg       sync.WaitGroup
		clusters [2]*Cluster
		errs     [2]error
	)
	for i := range clusters {
		wg.Go(func() { clusters[i], errs[i] = Start(t.Context(), bundle.cfg) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs[:]...))
	a, b := clusters[0], clusters[1]
	if b.Owned() {
		a, b = b, a
	}
	require.True(t, a.Owned())
	require.False(t, b.Owned(), "the second Start reuses the running server")
	require.Equal(t, a.Port(), b.Port())
	for _, c := range clusters {
		var one int
		require.NoError(t, connect(t, c, "postgres").QueryRow(t.Context(), "SELECT 1").Scan(&one))
	}

	// The starter leaves: the server stays up for the other user.
	require.NoError(t, a.Stop(t.Context()))
	require.True(t, running(b))
	var one int
	require.NoError(t, connect(t, b, "postgres").QueryRow(t.Context(), "SELECT 1").Scan(&one))

	// The last user stops what the package started.
	require.NoError(t, b.Stop(t.Context()))
	require.False(t, running(b))
}

func TestServerNotStartedHereIsLeftRunning(t *testing.T) {
	t.Parallel()
	bundle := setup(t, true)
	starter, err := Start(t.Context(), bundle.cfg)
	require.NoError(t, err)

	// Without the marker the server looks started by hand, so no Cluster
	// stops it; cleanupCluster does.
	require.NoError(t, os.Remove(starter.startedPath()))
	other, err := Start(t.Context(), bundle.cfg)
	require.NoError(t, err)
	require.False(t, other.Owned())
	require.NoError(t, other.Stop(t.Context()))
	require.NoError(t, starter.Stop(t.Context()))
	require.True(t, running(starter))
}

func TestStartAfterKill(t *testing.T) {
	t.Parallel()
	bundle := setup(t, true)
	c, err := Start(t.Context(), bundle.cfg)
	require.NoError(t, err)
	pid, _, err := readPostmasterPID(c.DataDir())
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return !postmasterAlive(pid, c.DataDir()) }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, c.Stop(t.Context()), "stopping a dead server is not an error")

	c = startCluster(t, bundle.cfg)
	require.True(t, c.Owned())
	var one int
	require.NoError(t, connect(t, c, "postgres").QueryRow(t.Context(), "SELECT 1").Scan(&one))
}

func TestStoredPortTakenPicksAnother(t *testing.T) {
	t.Parallel()
	bundle := setup(t, true)
	c, err := Start(t.Context(), bundle.cfg)
	require.NoError(t, err)
	port := c.Port()
	require.NoError(t, c.Stop(t.Context()))

	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	defer l.Close()
	c = startCluster(t, bundle.cfg)
	require.NotEqual(t, port, c.Port())
	var one int
	require.NoError(t, connect(t, c, "postgres").QueryRow(t.Context(), "SELECT 1").Scan(&one))
	conf, err := os.ReadFile(filepath.Join(c.DataDir(), confName))
	require.NoError(t, err)
	require.Contains(t, string(conf), "port = "+strconv.Itoa(c.Port())+"\n")
}

func TestRun(t *testing.T) {
	t.Parallel()
	bundle := setup(t, true)

	code, err := Run(t.Context(), bundle.cfg, "X", "steward_test",
		[]string{"sh", "-c", `test -n "$X" && case "$X" in postgres://postgres@127.0.0.1:*/steward_test?sslmode=disable) exit 0;; *) exit 9;; esac`})
	require.NoError(t, err)
	require.Equal(t, 0, code)

	code, err = Run(t.Context(), bundle.cfg, "X", "steward_test", []string{"sh", "-c", "exit 3"})
	require.NoError(t, err)
	require.Equal(t, 3, code)

	code, err = Run(t.Context(), bundle.cfg, "X", "steward_test", []string{"sh", "-c", "kill -TERM $$"})
	require.NoError(t, err)
	require.Equal(t, 128+int(syscall.SIGTERM), code)

	_, err = Run(t.Context(), bundle.cfg, "X", "steward_test", []string{"/nonexistent/command"})
	require.ErrorIs(t, err, fs.ErrNotExist)

	// Run stopped the server it started; the database it made is kept.
	c := startCluster(t, bundle.cfg)
	require.True(t, c.Owned())
	var fsync string
	require.NoError(t, connect(t, c, "steward_test").QueryRow(t.Context(), "SHOW fsync").Scan(&fsync))
	require.Equal(t, "off", fsync, "Fast turns fsync off")
}

func TestRunKeepsAServerItDidNotStart(t *testing.T) {
	t.Parallel()
	bundle := setup(t, true)
	c := startCluster(t, bundle.cfg)

	code, err := Run(t.Context(), bundle.cfg, "X", "postgres", []string{"true"})
	require.NoError(t, err)
	require.Equal(t, 0, code)
	require.True(t, running(c))
}
