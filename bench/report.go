package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Target names, as the report shows them.
const (
	TargetGraphQL  = "graphql"
	TargetBaseline = "hand-written"
)

// Report is what Run measured. It marshals to JSON as printed by `steward bench`; latencies are
// in milliseconds.
type Report struct {
	Machine Machine `json:"machine"`
	Dataset Dataset `json:"dataset"`
	Query   string  `json:"query"`
	// ResponseBytes is the size of one page as each target sends it, by target name.
	ResponseBytes map[string]int `json:"response_bytes"`
	// Targets are the GraphQL server, then the hand-written handler.
	Targets []TargetResult `json:"targets"`
	// Ratio is GraphQL's saturation throughput over the hand-written handler's.
	Ratio float64 `json:"ratio"`
	Goals Goals   `json:"goals"`
}

// Machine is where the figures were taken.
type Machine struct {
	CPUModel   string `json:"cpu_model,omitempty"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemoryMiB  int    `json:"memory_mib,omitempty"`
	OS         string `json:"os"`
	GoVersion  string `json:"go_version"`
	Postgres   string `json:"postgres"`
	DBMaxConns int    `json:"db_max_conns"`
}

// Dataset is the benchmark workspace.
type Dataset struct {
	WorkspaceID   uuid.UUID `json:"workspace_id"`
	WorkspaceName string    `json:"workspace_name"`
	Accounts      int       `json:"accounts"`
	// Seeded says whether this run generated (some of) the accounts; false means the cached
	// workspace was reused as it was.
	Seeded         bool    `json:"seeded"`
	SeedSeconds    float64 `json:"seed_seconds,omitempty"`
	TeamMembersNew int64   `json:"team_members_added,omitempty"`
}

// TargetResult is one target's measurements.
type TargetResult struct {
	Name string `json:"name"`
	// StatementsPerRequest is the SQL statements one page costs, averaged over sequential
	// requests: bun's query counter for GraphQL, the handler's own counter for the baseline.
	StatementsPerRequest float64 `json:"statements_per_request"`
	// AllocsPerRequest and AllocKiBPerRequest are the heap allocations of this process per
	// request, over the same sequential requests: a figure the machine's load does not blur.
	AllocsPerRequest   float64 `json:"allocs_per_request"`
	AllocKiBPerRequest float64 `json:"alloc_kib_per_request"`
	Saturation         Phase   `json:"saturation"`
	FixedRate          Phase   `json:"fixed_rate"`
}

// Phase is one load phase's outcome. A request succeeds when it answers 200 with a body that
// holds no GraphQL errors (and, on a sample, the full page).
type Phase struct {
	// Workers is the concurrency vegeta started with: the whole concurrency at saturation; at a
	// fixed rate vegeta adds workers when responses fall behind.
	Workers int `json:"workers"`
	// InFlight is the largest number of requests in flight at once.
	InFlight int `json:"in_flight"`
	// Rate is the requested rate (0: as fast as possible).
	Rate     int     `json:"rate"`
	Seconds  float64 `json:"seconds"`
	Requests uint64  `json:"requests"`
	Failures uint64  `json:"failures"`
	// Throughput is successful responses per second, first request to last response.
	Throughput float64 `json:"throughput"`
	// Success is the share of requests that succeeded.
	Success float64 `json:"success"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
	// ProcessCPUMs is this process's CPU time per request: the server's, plus the load
	// generator's, which is about the same for every target.
	ProcessCPUMs float64 `json:"process_cpu_ms"`
	// PostgresCPUMs is the CPU time per request of the PostgreSQL backends serving the
	// benchmark's database; zero when PostgreSQL is not local.
	PostgresCPUMs float64  `json:"postgres_cpu_ms"`
	Errors        []string `json:"errors,omitempty"`
}

// Goals are the targets and whether this run met them.
type Goals struct {
	Ratio    float64 `json:"ratio"`
	P99Ms    float64 `json:"p99_ms"`
	Rate     int     `json:"rate"`
	RatioMet bool    `json:"ratio_met"`
	// P99Met is only judged when the run's fixed rate is the goal's rate and all its requests
	// succeeded.
	P99Met bool `json:"p99_met"`
}

// Target returns the result of the named target, or nil.
func (r *Report) Target(name string) *TargetResult {
	for i := range r.Targets {
		if r.Targets[i].Name == name {
			return &r.Targets[i]
		}
	}
	return nil
}

// judge computes the ratio and checks the goals.
func (r *Report) judge() {
	g, b := r.Target(TargetGraphQL), r.Target(TargetBaseline)
	if g == nil || b == nil || b.Saturation.Throughput == 0 {
		return
	}
	r.Ratio = g.Saturation.Throughput / b.Saturation.Throughput
	r.Goals.RatioMet = r.Ratio >= r.Goals.Ratio
	f := g.FixedRate
	r.Goals.P99Met = f.Rate == r.Goals.Rate && f.Failures == 0 && f.P99Ms <= r.Goals.P99Ms
}

// WriteTable prints the report for people: the machine, one row per target, and the verdict.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	var b strings.Builder
	fmt.Fprintf(&b, "Accounts page (%d accounts, owner, team, %d contacts) on a workspace of %d accounts\n",
		PageSize, ContactsPerAccount, r.Dataset.Accounts)
	fmt.Fprintf(&b, "machine: %d CPU (%s), GOMAXPROCS %d, %d MiB, %s, %s, PostgreSQL %s, pool %d\n\n",
		m.NumCPU, orUnknown(m.CPUModel), m.GOMAXPROCS, m.MemoryMiB, m.OS, m.GoVersion, m.Postgres, m.DBMaxConns)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tstmts/req\tallocs/req\tsat workers\tsat req/s\tsat p50\tsat p99\tCPU/req (go+pg)\tfixed rate\tachieved\tp50\tp90\tp99\tmax\tsuccess\t")
	for _, t := range r.Targets {
		s, f := t.Saturation, t.FixedRate
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f (%.0f KiB)\t%d\t%.0f\t%.1f ms\t%.1f ms\t%.2f+%.2f ms\t%d/s\t%.0f/s\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.2f%%\t\n",
			t.Name, t.StatementsPerRequest, t.AllocsPerRequest, t.AllocKiBPerRequest, s.Workers, s.Throughput, s.P50Ms, s.P99Ms, s.ProcessCPUMs, s.PostgresCPUMs,
			f.Rate, f.Throughput, f.P50Ms, f.P90Ms, f.P99Ms, f.MaxMs, 100*f.Success)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\nratio GraphQL/hand-written at saturation: %.2f (goal >= %.2f: %s)\n",
		r.Ratio, r.Goals.Ratio, verdict(r.Goals.RatioMet))
	if g := r.Target(TargetGraphQL); g != nil {
		fmt.Fprintf(&b, "GraphQL p99 at %d req/s: %.1f ms (goal <= %.0f ms at %d req/s: %s)\n",
			g.FixedRate.Rate, g.FixedRate.P99Ms, r.Goals.P99Ms, r.Goals.Rate, verdict(r.Goals.P99Met))
	}
	for _, t := range r.Targets {
		for _, p := range []struct {
			name  string
			phase Phase
		}{{"saturation", t.Saturation}, {"fixed rate", t.FixedRate}} {
			if p.phase.Failures > 0 {
				fmt.Fprintf(&b, "%s %s: %d of %d requests failed: %s\n", t.Name, p.name,
					p.phase.Failures, p.phase.Requests, strings.Join(p.phase.Errors, "; "))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown model"
	}
	return s
}

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// describeMachine collects the facts docs/benchmarks.md records. CPU model and memory come
// from /proc on Linux and are left empty elsewhere.
func describeMachine(ctx context.Context, pool *pgxpool.Pool) (Machine, error) {
	m := Machine{
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion:  runtime.Version(),
		CPUModel:   procField("/proc/cpuinfo", "model name"),
	}
	if kb, err := strconv.Atoi(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB")); err == nil {
		m.MemoryMiB = kb / 1024
	}
	if err := pool.QueryRow(ctx, "SHOW server_version").Scan(&m.Postgres); err != nil {
		return m, fmt.Errorf("read postgres version: %w", err)
	}
	return m, nil
}

// procField returns the value of the first "key: value" line of a /proc file, or "".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
