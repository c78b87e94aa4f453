package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// architecture Go supports (it is fixed in the kernel's ABI, unlike CONFIG_HZ).
const clockTicks = 100

// cpuMeter reads the CPU time spent so far by this process (the server and the load generator)
// and by the PostgreSQL backends serving the benchmark's database, so that a phase can be
// charged its CPU per request. Backend times come from /proc, so they are only known when
// PostgreSQL runs on this machine under Linux; otherwise they read as zero.
type cpuMeter struct {
	// pool runs the pg_stat_activity query; it must not be one bun can starve (see Run).
	pool *pgxpool.Pool
}

// cpuSample is a reading of the meter.
type cpuSample struct {
	self     time.Duration
	backends map[int]time.Duration
}

func (m cpuMeter) read(ctx context.Context) cpuSample {
	s := cpuSample{backends: map[int]time.Duration{}}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	rows, err := m.pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)
	if err != nil {
		return s
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			if t, ok := procCPU(pid); ok {
				s.backends[pid] = t
			}
		}
	}
	return s
}

// since returns the CPU this process and the backends used from start to s. A backend that
// started after start is charged in full; one that ended before s is lost (the pools keep
// theirs open for the whole run).
func (s cpuSample) since(start cpuSample) (self, backends time.Duration) {
	for pid, t := range s.backends {
		backends += t - start.backends[pid]
	}
	return s.self - start.self, backends
}

// procCPU returns the user and system time of process pid from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; the fields after it are plain.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(raw[i+1:]))
	// After the name: state is field 3, utime field 14 and stime field 15.
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
}
