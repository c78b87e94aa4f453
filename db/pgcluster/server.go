package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// confName is the file, included by postgresql.conf, that holds the
	// settings Start controls. It is rewritten each time Start starts the server.
	confName = "steward.conf"

	// includeLine makes postgresql.conf read confName; it is appended once.
	includeLine = "include_if_exists = '" + confName + "'"

	// pingTimeout bounds one connection attempt to a server.
	pingTimeout = 2 * time.Second

	// portBase and portSpan give the range ports are chosen from: below Linux's
	// ephemeral range, so that an outgoing connection cannot hold the port.
	portBase = 20000
	portSpan = 12000
)

// portLine finds the port setting in confName.
var portLine = regexp.MustCompile(`(?m)^\s*port\s*=\s*(\d+)`)

// reuseRunning reports whether a server already runs on the data directory
// and, if so, adopts its port. A postmaster.pid left by a crash (kill -9, a
// reboot) is removed; a server that is starting up or recovering is waited for.
func (c *Cluster) reuseRunning(ctx context.Context) (bool, error) {
	pidPath := filepath.Join(c.realDir, "postmaster.pid")
	waiting := false
	for {
		pid, port, err := readPostmasterPID(c.realDir)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err == nil && port > 0 && c.ping(ctx, port) == nil {
			c.port = port
			c.logger.Info("reusing running postgres", "port", port, "pid", pid)
			return true, nil
		}
		if err != nil || !postmasterAlive(pid, c.realDir) {
			c.logger.Info("removing stale postmaster.pid", "pid", pid)
			if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, fmt.Errorf("remove stale postmaster.pid: %w", err)
			}
			c.removeStaleSocketLocks()
			return false, nil
		}
		if !waiting {
			waiting = true
			c.logger.Info("waiting for running postgres to accept connections", "pid", pid)
		}
		if err := sleep(ctx, pollInterval); err != nil {
			return false, fmt.Errorf("postgres (pid %d) runs on the data dir but does not accept connections; see %s: %w", pid, c.logPath(), err)
		}
	}
}

// removeStaleSocketLocks removes the socket lock files of a dead server.
// PostgreSQL removes them itself unless their pid is still alive, which a
// zombie that nothing reaps (some container inits) or a reused pid makes it.
func (c *Cluster) removeStaleSocketLocks() {
	locks, _ := filepath.Glob(filepath.Join(c.SocketDir(), ".s.PGSQL.*.lock")) // The pattern is valid.
	for _, lock := range locks {
		b, err := os.ReadFile(lock)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		if !postmasterAlive(pid, c.realDir) {
			os.Remove(strings.TrimSuffix(lock, ".lock"))
			os.Remove(lock)
		}
	}
}

// ping connects to the server on port and checks that it serves our data
// directory, not another cluster's that took the port.
func (c *Cluster) ping(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", SuperUser, port))
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return fmt.Errorf("query data_directory: %w", err)
	}
	if !sameFile(dir, c.realDir) {
		return fmt.Errorf("port %d serves data dir %s, not %s", port, dir, c.realDir)
	}
	return nil
}

// waitReady waits until the server accepts connections as the superuser.
func (c *Cluster) waitReady(ctx context.Context) error {
	for {
		err := c.ping(ctx, c.port)
		if err == nil {
			return nil
		}
		if sleepErr := sleep(ctx, pollInterval); sleepErr != nil {
			return fmt.Errorf("wait for postgres to accept connections: %w (last attempt: %w)", sleepErr, err)
		}
	}
}

// initdb creates the cluster in a temporary directory and renames it into
// place, so that an interrupted initdb never leaves a half-made cluster that
// looks complete. C.UTF-8 gives Unicode-aware upper/lower and pg_trgm with
// byte-order sorting; where that locale is missing, the C locale is used.
func (c *Cluster) initdb(ctx context.Context, fast bool) error {
	entries, err := os.ReadDir(c.realDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read data dir: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("data dir %s is not empty but holds no cluster (no PG_VERSION): move it away", c.realDir)
	}
	if err := os.MkdirAll(filepath.Dir(c.realDir), 0o755); err != nil {
		return fmt.Errorf("create data dir parent: %w", err)
	}
	tmp := c.realDir + ".initdb"
	c.logger.Info("creating postgres cluster", "real_data_dir", c.realDir)
	var out []byte
	for _, locale := range []string{"--locale=C.UTF-8", "--no-locale"} {
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("remove leftover initdb dir: %w", err)
		}
		if err := os.Mkdir(tmp, 0o700); err != nil {
			return fmt.Errorf("create initdb dir: %w", err)
		}
		if err := c.account.chown(tmp); err != nil {
			return err
		}
		args := []string{"-D", tmp, "-U", SuperUser, "--auth=trust", "-E", "UTF8", locale}
		if fast {
			args = append(args, "--no-sync")
		}
		out, err = c.account.command(ctx, filepath.Dir(tmp), c.bin.initdb, args...).CombinedOutput()
		if err == nil || ctx.Err() != nil {
			break
		}
		c.logger.Warn("initdb failed; retrying with another locale", "locale_flag", locale, "output", lastLines(out, 5))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("initdb: %w: %s", err, lastLines(out, 10))
	}
	if err := os.Remove(c.realDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove empty data dir: %w", err)
	}
	if err := os.Rename(tmp, c.realDir); err != nil {
		return fmt.Errorf("move new cluster into place: %w", err)
	}
	return nil
}

// choosePort keeps the port stored in confName while it is free, so that
// URLs stay the same across restarts; otherwise it picks a free one, trying
// first a port derived from the data directory's path.
func (c *Cluster) choosePort() (int, error) {
	if b, err := os.ReadFile(filepath.Join(c.realDir, confName)); err == nil {
		if m := portLine.FindSubmatch(b); m != nil {
			p, _ := strconv.Atoi(string(m[1]))
			if p > 0 && portFree(p) {
				return p, nil
			}
			c.logger.Info("stored postgres port is taken; choosing another", "port", p)
		}
	}
	h, _ := strconv.ParseUint(pathHash(c.dataDir, 8), 16, 64) // Eight hex digits always parse.
	candidate := portBase + int(h%portSpan)
	for range 50 {
		if portFree(candidate) {
			return candidate, nil
		}
		candidate = portBase + rand.IntN(portSpan)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether a listener can bind 127.0.0.1:port now.
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// writeConf writes confName with the settings Start controls and makes sure
// postgresql.conf includes it.
func (c *Cluster) writeConf(fast bool) error {
	var b strings.Builder
	b.WriteString("# Written by Steward (db/pgcluster) each time it starts this server.\n")
	b.WriteString("# Change pgcluster.Config rather than this file.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "port = %d\n", c.port)
	fmt.Fprintf(&b, "unix_socket_directories = '%s'\n", c.SocketDir())
	fmt.Fprintf(&b, "max_connections = %d\n", maxConnections)
	fmt.Fprintf(&b, "shared_buffers = '%s'\n", sharedBuffers)
	// JIT compiles plans whose estimated cost is high; for the set-based sweeps over a million
	// accounts that compile time dominated (a journey-state sweep: 5.4 s with JIT, 1.2 s
	// without), and Steward's other queries are short.
	b.WriteString("jit = off\n")
	if fast {
		b.WriteString("# Config.Fast: a machine crash may corrupt this cluster.\n")
		b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	}
	confPath := filepath.Join(c.realDir, confName)
	if err := os.WriteFile(confPath, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", confName, err)
	}
	if err := c.account.chown(confPath); err != nil {
		return err
	}

	mainPath := filepath.Join(c.realDir, "postgresql.conf")
	mainConf, err := os.ReadFile(mainPath)
	if err != nil {
		return fmt.Errorf("read postgresql.conf: %w", err)
	}
	if bytes.Contains(mainConf, []byte(includeLine)) {
		return nil
	}
	f, err := os.OpenFile(mainPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, err = fmt.Fprintf(f, "\n# Settings managed by Steward (db/pgcluster).\n%s\n", includeLine)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("append to postgresql.conf: %w", err)
	}
	return nil
}

// prepareRuntimeFiles creates the socket directory and the log file for the
// account, which may have no right to create them itself.
func (c *Cluster) prepareRuntimeFiles() error {
	sock := c.SocketDir()
	fi, err := os.Lstat(sock)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(sock, 0o700); err != nil {
			return fmt.Errorf("create socket dir: %w", err)
		}
	case err != nil:
		return fmt.Errorf("stat socket dir: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("socket dir %s exists and is not a directory", sock)
	}
	if err := c.account.chown(sock); err != nil {
		return err
	}
	f, err := os.OpenFile(c.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("create log file: %w", err)
	}
	f.Close()
	return c.account.chown(c.logPath())
}

// pgCtlStart starts the server with pg_ctl, which detaches it from this
// process, and retries while a crashed predecessor's processes linger.
func (c *Cluster) pgCtlStart(ctx context.Context) error {
	c.logger.Info("starting postgres", "port", c.port, "log_file", c.logPath())
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		timeout := DefaultStartTimeout
		if deadline, ok := ctx.Deadline(); ok {
			timeout = time.Until(deadline)
		}
		out, err := c.account.command(ctx, filepath.Dir(c.realDir), c.bin.pgCtl,
			"-D", c.realDir, "-l", c.logPath(), "-w", "-t", seconds(timeout), "start").CombinedOutput()
		if err == nil {
			return nil
		}
		lastErr = fmt.Errorf("pg_ctl start: %w: %s; end of %s:\n%s", err, strings.TrimSpace(string(out)), c.logPath(), c.logTail())
		if ctx.Err() != nil || attempt == startAttempts {
			break
		}
		if pid, _, err := readPostmasterPID(c.realDir); err == nil && postmasterAlive(pid, c.realDir) {
			break // A server is up or still starting: another start cannot help.
		}
		c.logger.Warn("postgres failed to start; retrying", "attempt", attempt, "log_file", c.logPath())
		if err := sleep(ctx, time.Second); err != nil {
			break
		}
	}
	return lastErr
}

// logTail returns the last lines of the server log, for error messages.
func (c *Cluster) logTail() string {
	f, err := os.Open(c.logPath())
	if err != nil {
		return ""
	}
	defer f.Close()
	const tailBytes = 4096
	if fi, err := f.Stat(); err == nil && fi.Size() > tailBytes {
		f.Seek(fi.Size()-tailBytes, 0)
	}
	b := make([]byte, tailBytes)
	n, _ := f.Read(b)
	return lastLines(b[:n], 15)
}

// postmasterAlive reports whether pid is a live process running a server on
// dir. The pid in a stale postmaster.pid may since belong to an unrelated
// process, or to a zombie that nothing reaps; postgres itself would then
// refuse to start, so those count as dead.
func postmasterAlive(pid int, dir string) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// The state follows the ")" that ends the command name.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			return false
		}
	}
	// The postmaster's working directory is its data directory.
	if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil {
		return sameFile(cwd, dir)
	}
	return true // No /proc, or no right to look: assume it is.
}

// sameFile reports whether the paths name the same existing file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// seconds formats d for pg_ctl -t, rounding up to at least one second.
func seconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// lastLines returns the last n lines of b, trimmed.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
