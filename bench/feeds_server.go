package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProcess is a `steward serve` child process: the feeds benchmark measures the server
// apart from its load generator (memory per subscriber, file descriptors, CPU).
type serverProcess struct {
	URL     string
	cmd     *exec.Cmd
	log     *os.File
	exited  chan struct{}
	waitErr error
}

// serverReadyTimeout bounds the wait for a started server's /readyz.
const serverReadyTimeout = 2 * time.Minute

// startServerProcess runs binary serve on databaseURL with a free loopback port and env added
// to this process's environment, and waits until it is ready. Its output goes to a temporary
// file, shown when it fails to start.
func startServerProcess(ctx context.Context, binary, databaseURL string, env ...string) (*serverProcess, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	logFile, err := os.CreateTemp("", "steward-bench-server-*.log")
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+databaseURL,
		"STEWARD_ADDR="+addr,
		"STEWARD_LOG_LEVEL=warn",
		// The sweep would add its own load; this benchmark measures feeds.
		"STEWARD_PLAY_SWEEP_INTERVAL=1h",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start server process: %w", err)
	}
	p := &serverProcess{URL: "http://" + addr, cmd: cmd, log: logFile, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	deadline := time.Now().Add(serverReadyTimeout)
	for {
		select {
		case <-p.exited:
			return nil, fmt.Errorf("server process exited at start (%v): %s", p.waitErr, p.logTail())
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(p.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("server process not ready within %s: %s", serverReadyTimeout, p.logTail())
		}
	}
}

// stop sends SIGTERM, waits for the graceful shutdown, kills the process if it overstays, and
// removes its log.
func (p *serverProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_ = p.log.Close()
	_ = os.Remove(p.log.Name())
}

func (p *serverProcess) logTail() string {
	b, _ := os.ReadFile(p.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// processMemory is a server process's memory as seen from outside.
type processMemory struct {
	// RSS is the resident set (/proc/PID/status VmRSS).
	RSS int64
	// HeapInuse and Goroutines come from the Go collector on /metrics.
	HeapInuse  int64
	Goroutines int64
}

// memory reads the process's resident set and its Go heap and goroutines.
func (p *serverProcess) memory() (processMemory, error) {
	var m processMemory
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return m, fmt.Errorf("read server rss: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return m, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			m.RSS = kb << 10
		}
	}
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		return m, fmt.Errorf("read server metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return m, fmt.Errorf("read server metrics: %w", err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			m.HeapInuse = int64(parseFloat(value))
		case "go_goroutines":
			m.Goroutines = int64(parseFloat(value))
		}
	}
	if m.RSS == 0 || m.HeapInuse == 0 {
		return m, errors.New("server memory: VmRSS or go_memstats_heap_inuse_bytes missing")
	}
	return m, nil
}

// cpu returns the CPU time (user + system) the process has used so far.
func (p *serverProcess) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, fmt.Errorf("read server cpu: %w", err)
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("read server cpu: short /proc stat")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

func parseFloat(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}
