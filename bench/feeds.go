package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/auth"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/feed"
	"github.com/stewardhq/steward/server"
	"github.com/stewardhq/steward/task"
)

// Defaults of FeedsOptions: the live-feeds issue's benchmark.
const (
	// DefaultFeedSubscribers is how many websocket subscribers one server process holds.
	DefaultFeedSubscribers = 10_000
	// DefaultFeedRate is the task events per second spread over them.
	DefaultFeedRate = 1_000
	// DefaultFeedDuration is the length of the latency phase and of each throughput run.
	DefaultFeedDuration = 10 * time.Second
	// DefaultFeedWriters bounds the transactions the latency phase has in flight.
	DefaultFeedWriters = 32
	// DefaultFeedMutationWorkers is the concurrency of the createTask throughput runs.
	DefaultFeedMutationWorkers = 16
	// DefaultFeedRounds is how many times each change log mode's throughput is measured
	// (alternating modes, so a drift of the machine's load falls on all of them).
	DefaultFeedRounds = 2
	// feedAccounts is the accounts the benchmark's tasks are spread over.
	feedAccounts = 100
	// feedDrain bounds the wait for the last events after the writers stop.
	feedDrain = 10 * time.Second
	// feedSettle is the pause before memory is read, so the server's heap settles.
	feedSettle = 3 * time.Second
)

// Goals of the live-feeds issue.
const (
	// GoalFeedP99 is the highest acceptable commit-to-client p99.
	GoalFeedP99 = 250 * time.Millisecond
	// GoalFeedOverhead is the largest acceptable drop of mutation throughput with the change
	// log and NOTIFY on, against off.
	GoalFeedOverhead = 0.10
)

// FeedsOptions says what RunFeeds measures.
type FeedsOptions struct {
	// Bun and Pool are the benchmark's own database handles: the latency phase writes its
	// tasks through them, as another process of the cluster would. Required.
	Bun  *bun.DB
	Pool *pgxpool.Pool
	// Binary is the steward executable run as the server under test (`steward serve`), one
	// process at a time, so its memory is measured apart from the load generator. Required.
	Binary string
	// DatabaseURL is what the server processes connect to. Required.
	DatabaseURL string
	// ServerEnv is added to the server processes' environment (NAME=value).
	ServerEnv []string
	// Keys sign the subscribers' access tokens; the server processes must verify them with
	// the same keys (the same STEWARD_JWT_KEYS or data directory). Required.
	Keys *auth.Keyset
	// Subscribers, Rate, Duration, Writers, MutationWorkers and Rounds default to the
	// DefaultFeed constants.
	Subscribers     int
	Rate            int
	Duration        time.Duration
	Writers         int
	MutationWorkers int
	Rounds          int
	// Variants are the latency phase's runs; nil means DefaultFeedVariants.
	Variants []FeedVariant
	// Progress receives one line per step; Logger the benchmark's warnings.
	Progress io.Writer
	Logger   *slog.Logger
}

func (o FeedsOptions) withDefaults() (FeedsOptions, error) {
	switch {
	case o.Bun == nil || o.Pool == nil:
		return o, errors.New("feeds bench options: Bun and Pool are required")
	case o.Binary == "" || o.DatabaseURL == "":
		return o, errors.New("feeds bench options: Binary and DatabaseURL are required")
	case o.Keys == nil:
		return o, errors.New("feeds bench options: Keys is required")
	case o.Subscribers < 0 || o.Rate < 0 || o.Duration < 0 || o.Writers < 0 || o.MutationWorkers < 0 || o.Rounds < 0:
		return o, errors.New("feeds bench options: Subscribers, Rate, Duration, Writers, MutationWorkers and Rounds must not be negative")
	}
	o.Subscribers = orDefault(o.Subscribers, DefaultFeedSubscribers)
	o.Rate = orDefault(o.Rate, DefaultFeedRate)
	o.Duration = orDefault(o.Duration, DefaultFeedDuration)
	o.Writers = orDefault(o.Writers, DefaultFeedWriters)
	o.MutationWorkers = orDefault(o.MutationWorkers, DefaultFeedMutationWorkers)
	o.Rounds = orDefault(o.Rounds, DefaultFeedRounds)
	if o.Variants == nil {
		o.Variants = DefaultFeedVariants
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// FeedsReport is what RunFeeds measured; latencies in milliseconds.
type FeedsReport struct {
	Machine     Machine     `json:"machine"`
	Subscribers int         `json:"subscribers"`
	Connect     FeedConnect `json:"connect"`
	Idle        FeedIdle    `json:"idle"`
	// Latency has one entry per LatencyVariant.
	Latency   []FeedLatency      `json:"latency"`
	Mutations []FeedMutations    `json:"mutations"`
	Overhead  map[string]float64 `json:"overhead_vs_off"`
	Goals     FeedGoals          `json:"goals"`
}

// FeedConnect is how the subscribers connected.
type FeedConnect struct {
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_second"`
}

// FeedIdle is the server's memory before and after the subscribers connected, idle.
type FeedIdle struct {
	RSSBeforeMiB            float64 `json:"rss_before_mib"`
	RSSAfterMiB             float64 `json:"rss_after_mib"`
	HeapBeforeMiB           float64 `json:"heap_inuse_before_mib"`
	HeapAfterMiB            float64 `json:"heap_inuse_after_mib"`
	GoroutinesBefore        int64   `json:"goroutines_before"`
	GoroutinesAfter         int64   `json:"goroutines_after"`
	RSSPerSubscriberKiB     float64 `json:"rss_per_subscriber_kib"`
	HeapPerSubscriberKiB    float64 `json:"heap_per_subscriber_kib"`
	GoroutinesPerSubscriber float64 `json:"goroutines_per_subscriber"`
}

// FeedLatency is the fixed-rate phase: tasks created by this process through the task service
// (each in its own transaction, each for another subscriber), received by the subscribers of
// the server process. Latency runs from the writer's commit returning to the subscriber's
// read of the event.
type FeedLatency struct {
	// Variant is how writers wake the readers: NOTIFY after the commits from the writing
	// process's notifier (change log "on"), or no NOTIFY and the readers polling ("nonotify").
	Variant      FeedVariant `json:"variant"`
	TargetRate   int         `json:"target_rate"`
	AchievedRate float64     `json:"achieved_rate"`
	Sent         int         `json:"sent"`
	// Behind counts events the writers could not start on time (all Writers busy).
	Behind int `json:"behind"`
	// NotSent counts events dropped because the writers were still behind at twice the
	// phase's duration (the rate cannot be held at all).
	NotSent     int `json:"not_sent"`
	WriteErrors int `json:"write_errors"`
	Delivered   int `json:"delivered"`
	Missing     int `json:"missing"`
	Duplicates  int `json:"duplicates"`
	// Early counts events read before their writer saw the commit return (latency 0).
	Early    int   `json:"early"`
	Failures int64 `json:"failures"`
	// ServerCPU is the server process's CPU time during the phase, per second of the phase
	// (1.0 = one core busy).
	ServerCPU  float64 `json:"server_cpu_cores"`
	FirstError string  `json:"first_error,omitempty"`
	CommitP50  float64 `json:"commit_p50_ms"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
}

// FeedMutations is one closed-loop run of createTask mutations against a server process in one
// change log mode.
type FeedMutations struct {
	Mode     string  `json:"mode"`
	Round    int     `json:"round"`
	Workers  int     `json:"workers"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	PerSec   float64 `json:"per_second"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
}

// FeedVariant is one way of waking the change log readers.
type FeedVariant struct {
	// Mode is the writers' change log mode (db.ChangeLogOn or db.ChangeLogNoNotify).
	Mode string `json:"mode"`
	// PollInterval is the server's STEWARD_FEED_POLL_INTERVAL; 0 keeps its default.
	PollInterval time.Duration `json:"poll_interval_ns,omitempty"`
}

// DefaultFeedVariants are what the latency phase compares: the design as built (NOTIFY after
// the commits, from the writing process's notifier, 1 s poll as a fallback), and no NOTIFY
// with a 25 ms poll.
var DefaultFeedVariants = []FeedVariant{{Mode: db.ChangeLogOn}, {Mode: db.ChangeLogNoNotify, PollInterval: 25 * time.Millisecond}}

// FeedGoals are the issue's goals.
type FeedGoals struct {
	P99Ms       float64 `json:"p99_ms"`
	MaxOverhead float64 `json:"max_overhead"`
}

// feedDataset is the benchmark workspace: Subscribers CSM members, each a subscriber, and
// feedAccounts accounts.
type feedDataset struct {
	tenant   db.Tenant
	users    []uuid.UUID
	accounts []uuid.UUID
}

// feedWorkspaceName names the feeds workspace of n subscribers; later runs reuse it.
func feedWorkspaceName(n int) string { return fmt.Sprintf("Bench feeds %d", n) }

// RunFeeds measures live feeds on one server process: n subscribers connect and idle (memory
// per subscriber), tasks are created at Rate for Duration (commit-to-client latency), then
// createTask throughput is measured with the change log off, on without NOTIFY, and on.
func RunFeeds(ctx context.Context, opts FeedsOptions) (*FeedsReport, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	rep := &FeedsReport{Subscribers: opts.Subscribers, Goals: FeedGoals{P99Ms: ms(GoalFeedP99), MaxOverhead: GoalFeedOverhead}}
	if rep.Machine, err = describeMachine(ctx, opts.Pool); err != nil {
		return nil, err
	}
	rep.Machine.DBMaxConns = server.DefaultDBMaxConns // the server processes' pool
	// Each subscriber is a socket here and one in the server (a child, which inherits this
	// limit).
	if err := raiseFileLimit(uint64(opts.Subscribers) + 4096); err != nil {
		return nil, err
	}
	ds, err := ensureFeedDataset(ctx, opts.Pool, opts.Bun, opts.Subscribers)
	if err != nil {
		return nil, err
	}
	issuer := &auth.Issuer{Keys: opts.Keys, TTL: time.Hour}
	tokens := make([]string, len(ds.users))
	for i, u := range ds.users {
		if tokens[i], _, err = issuer.Issue(auth.Viewer{WorkspaceID: ds.tenant.WorkspaceID, UserID: u, Role: db.RoleCSM}); err != nil {
			return nil, fmt.Errorf("mint subscriber token: %w", err)
		}
	}

	for i, v := range opts.Variants {
		if err := runFeedLatency(ctx, opts, v, i == 0, ds, tokens, rep); err != nil {
			return nil, err
		}
	}
	if err := runFeedMutations(ctx, opts, ds, tokens[0], rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// runFeedLatency connects the subscribers to a fresh server process, reads its memory idle
// when measureIdle, then runs the fixed-rate phase with the writers in v's change log mode.
func runFeedLatency(ctx context.Context, opts FeedsOptions, v FeedVariant, measureIdle bool, ds *feedDataset, tokens []string, rep *FeedsReport) error {
	fmt.Fprintf(opts.Progress, "feeds: starting a server process (writers' change log %s, poll interval %s)\n", v.Mode, v.PollInterval)
	env := append(slices.Clone(opts.ServerEnv), "STEWARD_CHANGE_LOG="+v.Mode)
	if v.PollInterval > 0 {
		env = append(env, "STEWARD_FEED_POLL_INTERVAL="+v.PollInterval.String())
	}
	srv, err := startServerProcess(ctx, opts.Binary, opts.DatabaseURL, env...)
	if err != nil {
		return err
	}
	// This process writes the tasks: its mode decides whether they NOTIFY, through its own
	// notifier (it runs no hub), after each commit as the server process would.
	if err := db.SetChangeLogMode(v.Mode); err != nil {
		return err
	}
	defer db.SetChangeLogMode(db.ChangeLogOn) //nolint:errcheck // a known mode
	stopNotifier := feed.StartNotifier(opts.Bun, feed.Config{})
	defer stopNotifier()
	defer srv.stop()
	time.Sleep(feedSettle)
	before, err := srv.memory()
	if err != nil {
		return err
	}

	fmt.Fprintf(opts.Progress, "feeds: connecting %d subscribers\n", len(tokens))
	start := time.Now()
	subs, err := connectSubscribers(ctx, srv.URL, tokens)
	if err != nil {
		return err
	}
	defer subs.close()
	took := time.Since(start)
	if !measureIdle {
		// graphql-transport-ws acknowledges no subscribe message: give the server the same
		// pause as the idle variant to register every subscription before the writers start,
		// or the first tasks find no subscriber yet and count as missing.
		time.Sleep(feedSettle)
		lat, err := feedLatencyPhase(ctx, opts, srv, ds, subs)
		lat.Variant = v
		rep.Latency = append(rep.Latency, lat)
		return err
	}
	rep.Connect = FeedConnect{Seconds: took.Seconds(), PerSec: float64(len(tokens)) / took.Seconds()}
	time.Sleep(feedSettle)
	after, err := srv.memory()
	if err != nil {
		return err
	}
	n := float64(len(tokens))
	rep.Idle = FeedIdle{
		RSSBeforeMiB: mib(before.RSS), RSSAfterMiB: mib(after.RSS),
		HeapBeforeMiB: mib(before.HeapInuse), HeapAfterMiB: mib(after.HeapInuse),
		GoroutinesBefore: before.Goroutines, GoroutinesAfter: after.Goroutines,
		RSSPerSubscriberKiB:     float64(after.RSS-before.RSS) / 1024 / n,
		HeapPerSubscriberKiB:    float64(after.HeapInuse-before.HeapInuse) / 1024 / n,
		GoroutinesPerSubscriber: float64(after.Goroutines-before.Goroutines) / n,
	}
	fmt.Fprintf(opts.Progress, "feeds: %d subscribers idle: %.1f KiB RSS and %.1f KiB heap each; sending %d tasks/s for %s\n",
		len(tokens), rep.Idle.RSSPerSubscriberKiB, rep.Idle.HeapPerSubscriberKiB, opts.Rate, opts.Duration)
	lat, err := feedLatencyPhase(ctx, opts, srv, ds, subs)
	lat.Variant = v
	rep.Latency = append(rep.Latency, lat)
	return err
}

// sentTask is one task the latency phase created.
type sentTask struct {
	id              uuid.UUID
	start, commited time.Time
}

// feedLatencyPhase creates opts.Rate tasks per second for opts.Duration, task i for subscriber
// i mod n, and matches them with what the subscribers received.
func feedLatencyPhase(ctx context.Context, opts FeedsOptions, srv *serverProcess, ds *feedDataset, subs *subscribers) (FeedLatency, error) {
	out := FeedLatency{TargetRate: opts.Rate}
	cpuBefore, err := srv.cpu()
	if err != nil {
		return out, err
	}
	svc := &task.Service{DB: opts.Bun, Now: time.Now}
	total := int(float64(opts.Rate) * opts.Duration.Seconds())
	jobs := make(chan int, opts.Writers)
	var (
		mu       sync.Mutex
		sent     = make([]sentTask, 0, total)
		writeErr atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	for range opts.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				user := ds.users[i%len(ds.users)]
				start := time.Now()
				t, _, err := svc.Create(ctx, opts.Bun, ds.tenant, task.NewTask{
					AccountID: ds.accounts[i%len(ds.accounts)],
					Title:     fmt.Sprintf("Feeds bench %d", i),
					Assignee:  task.Assignee{UserID: &user},
				})
				done := time.Now()
				if err != nil {
					writeErr.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				sent = append(sent, sentTask{id: t.ID, start: start, commited: done})
				mu.Unlock()
			}
		}()
	}

	received := map[uuid.UUID][]time.Time{}
	// collectedN counts what the collector took: a subscriber counts a delivery before it
	// hands it over, so the drain below waits for this count, not for an empty channel.
	var collectedN atomic.Int64
	collected := make(chan struct{})
	stopCollect := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case d := <-subs.deliveries:
				received[d.taskID] = append(received[d.taskID], d.at)
				collectedN.Add(1)
			case <-stopCollect:
				for {
					select {
					case d := <-subs.deliveries:
						received[d.taskID] = append(received[d.taskID], d.at)
					default:
						return
					}
				}
			}
		}
	}()

	begin := time.Now()
	interval := time.Second / time.Duration(opts.Rate)
	for i := 0; i < total; i++ {
		if time.Since(begin) > 2*opts.Duration {
			out.NotSent = total - i
			break
		}
		due := begin.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- i:
		default:
			out.Behind++
			jobs <- i
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(begin)

	// Wait for the stragglers: every sent task delivered, or the drain bound.
	drainUntil := time.Now().Add(feedDrain)
	for time.Now().Before(drainUntil) {
		mu.Lock()
		want := int64(len(sent))
		mu.Unlock()
		if collectedN.Load() >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stopCollect)
	<-collected
	cpuAfter, err := srv.cpu()
	if err != nil {
		return out, err
	}
	out.ServerCPU = (cpuAfter - cpuBefore).Seconds() / time.Since(begin).Seconds()

	out.Sent = len(sent)
	out.WriteErrors = int(writeErr.Load())
	if e, ok := firstErr.Load().(string); ok {
		out.FirstError = e
	}
	out.AchievedRate = float64(len(sent)) / elapsed.Seconds()
	lat := make([]time.Duration, 0, len(sent))
	commits := make([]time.Duration, 0, len(sent))
	for _, s := range sent {
		commits = append(commits, s.commited.Sub(s.start))
		at := received[s.id]
		switch {
		case len(at) == 0:
			out.Missing++
			continue
		case len(at) > 1:
			out.Duplicates += len(at) - 1
		}
		out.Delivered++
		d := at[0].Sub(s.commited)
		if d < 0 {
			out.Early++
			d = 0
		}
		lat = append(lat, d)
	}
	out.Failures = subs.failures.Load()
	if e := subs.firstError(); e != "" && out.FirstError == "" {
		out.FirstError = e
	}
	slices.Sort(lat)
	out.CommitP50 = quantileMs(commits, 0.50)
	out.P50, out.P90, out.P99 = quantileMs(lat, 0.50), quantileMs(lat, 0.90), quantileMs(lat, 0.99)
	if len(lat) > 0 {
		out.Max = ms(lat[len(lat)-1])
	}
	return out, nil
}

// runFeedMutations measures createTask throughput through GraphQL against a server process in
// each change log mode, Rounds times, alternating.
func runFeedMutations(ctx context.Context, opts FeedsOptions, ds *feedDataset, token string, rep *FeedsReport) error {
	modes := []string{db.ChangeLogOff, db.ChangeLogNoNotify, db.ChangeLogOn}
	for round := 1; round <= opts.Rounds; round++ {
		for _, mode := range modes {
			fmt.Fprintf(opts.Progress, "feeds: createTask throughput, change log %s, round %d\n", mode, round)
			srv, err := startServerProcess(ctx, opts.Binary, opts.DatabaseURL, append(slices.Clone(opts.ServerEnv), "STEWARD_CHANGE_LOG="+mode)...)
			if err != nil {
				return err
			}
			res := mutationRun(ctx, srv.URL, token, ds, opts.MutationWorkers, opts.Duration)
			srv.stop()
			res.Mode, res.Round = mode, round
			rep.Mutations = append(rep.Mutations, res)
		}
	}
	mean := map[string]float64{}
	for _, m := range rep.Mutations {
		mean[m.Mode] += m.PerSec / float64(opts.Rounds)
	}
	rep.Overhead = map[string]float64{}
	if off := mean[db.ChangeLogOff]; off > 0 {
		for _, mode := range modes[1:] {
			rep.Overhead[mode] = 1 - mean[mode]/off
		}
	}
	return nil
}

// mutationRun sends createTask mutations from workers in a closed loop for d.
func mutationRun(ctx context.Context, baseURL, token string, ds *feedDataset, workers int, d time.Duration) FeedMutations {
	const q = `mutation($in: CreateTaskInput!) { createTask(input: $in) { id } }`
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
		next atomic.Int64
	)
	stop := time.Now().Add(d)
	begin := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(stop) && ctx.Err() == nil {
				i := int(next.Add(1))
				user := ds.users[i%len(ds.users)]
				body, _ := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"in": map[string]any{
					"accountId": globalID("Account", ds.accounts[i%len(ds.accounts)]),
					"title":     fmt.Sprintf("Throughput %d", i),
					"assignee":  map[string]any{"userId": globalID("User", user)},
				}}})
				start := time.Now()
				ok := postGraphQL(client, baseURL, token, body)
				if !ok {
					bad++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	slices.Sort(lat)
	return FeedMutations{
		Workers: workers, Requests: len(lat), Errors: errs,
		PerSec: float64(len(lat)) / elapsed.Seconds(),
		P50:    quantileMs(lat, 0.50), P99: quantileMs(lat, 0.99),
	}
}

// postGraphQL sends one operation and reports whether it answered 200 without errors.
func postGraphQL(client *http.Client, baseURL, token string, body []byte) bool {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return false
	}
	return resp.StatusCode == http.StatusOK && len(out.Errors) == 0
}

func globalID(kind string, id uuid.UUID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id.String()))
}

// ensureFeedDataset finds or creates the feeds workspace with n CSM members and feedAccounts
// accounts.
func ensureFeedDataset(ctx context.Context, pool *pgxpool.Pool, b *bun.DB, n int) (*feedDataset, error) {
	name := feedWorkspaceName(n)
	var wsID uuid.UUID
	err := pool.QueryRow(ctx, `SELECT id FROM workspaces WHERE name = $1 ORDER BY created_at, id LIMIT 1`, name).Scan(&wsID)
	if errors.Is(err, pgx.ErrNoRows) {
		w, err := db.CreateWorkspace(ctx, b, name)
		if err != nil {
			return nil, err
		}
		wsID = w.ID
	} else if err != nil {
		return nil, fmt.Errorf("find feeds workspace: %w", err)
	}
	ds := &feedDataset{tenant: db.Tenant{WorkspaceID: wsID}}
	_, err = pool.Exec(ctx, `
		WITH have AS (SELECT count(*) AS n FROM memberships WHERE workspace_id = $1),
		new_users AS (
			INSERT INTO users (email, name)
			SELECT 'feeds-' || $1::text || '-' || g || '@bench.test', 'Feeds subscriber ' || g
			FROM have, generate_series(have.n + 1, $2) AS g
			RETURNING id)
		INSERT INTO memberships (workspace_id, user_id, role) SELECT $1, id, 'CSM' FROM new_users`, wsID, n)
	if err != nil {
		return nil, fmt.Errorf("add feeds subscribers: %w", err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO accounts (workspace_id, name)
		SELECT $1, 'Feeds account ' || g
		FROM generate_series((SELECT count(*) FROM accounts WHERE workspace_id = $1) + 1, $2) AS g`, wsID, feedAccounts)
	if err != nil {
		return nil, fmt.Errorf("add feeds accounts: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT user_id FROM memberships WHERE workspace_id = $1 ORDER BY user_id LIMIT $2`, wsID, n)
	if err != nil {
		return nil, fmt.Errorf("list feeds subscribers: %w", err)
	}
	if ds.users, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
		return nil, fmt.Errorf("list feeds subscribers: %w", err)
	}
	rows, err = pool.Query(ctx, `SELECT id FROM accounts WHERE workspace_id = $1 ORDER BY id`, wsID)
	if err != nil {
		return nil, fmt.Errorf("list feeds accounts: %w", err)
	}
	if ds.accounts, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID]); err != nil {
		return nil, fmt.Errorf("list feeds accounts: %w", err)
	}
	if len(ds.users) != n || len(ds.accounts) != feedAccounts {
		return nil, fmt.Errorf("feeds workspace %s has %d members and %d accounts, want %d and %d",
			wsID, len(ds.users), len(ds.accounts), n, feedAccounts)
	}
	return ds, nil
}

// raiseFileLimit raises this process's open-file limit to at least n (children inherit it).
func raiseFileLimit(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read open-file limit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n // allowed as root; otherwise the error says what to raise
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open-file limit to %d (ulimit -n): %w", n, err)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// WriteTable prints the report for people.
func (r *FeedsReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "live feeds\t%d subscribers on one process\n", r.Subscribers)
	fmt.Fprintf(tw, "connect\t%.1f s (%.0f/s)\n", r.Connect.Seconds, r.Connect.PerSec)
	fmt.Fprintf(tw, "idle subscriber\t%.1f KiB RSS, %.1f KiB heap, %.1f goroutines\n",
		r.Idle.RSSPerSubscriberKiB, r.Idle.HeapPerSubscriberKiB, r.Idle.GoroutinesPerSubscriber)
	for _, l := range r.Latency {
		name := "writers " + l.Variant.Mode
		if l.Variant.PollInterval > 0 {
			name += ", poll " + l.Variant.PollInterval.String()
		}
		fmt.Fprintf(tw, "%s: events\t%d sent at %.0f/s (target %d/s, %d behind, %d not sent, %d write errors), %d delivered, %d missing, %d duplicates\n",
			name, l.Sent, l.AchievedRate, l.TargetRate, l.Behind, l.NotSent, l.WriteErrors, l.Delivered, l.Missing, l.Duplicates)
		fmt.Fprintf(tw, "%s: commit → client\tp50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (goal p99 ≤ %.0f ms); commit itself p50 %.1f ms; server %.2f cores\n",
			name, l.P50, l.P90, l.P99, l.Max, r.Goals.P99Ms, l.CommitP50, l.ServerCPU)
		if l.FirstError != "" {
			fmt.Fprintf(tw, "%s: first error\t%s (%d subscriber failures)\n", name, l.FirstError, l.Failures)
		}
	}
	for _, m := range r.Mutations {
		fmt.Fprintf(tw, "createTask, log %s, round %d\t%.0f/s (%d workers, p50 %.1f ms, p99 %.1f ms, %d errors)\n",
			m.Mode, m.Round, m.PerSec, m.Workers, m.P50, m.P99, m.Errors)
	}
	for mode, o := range r.Overhead {
		fmt.Fprintf(tw, "overhead of %s vs off\t%.1f%% (goal ≤ %.0f%%)\n", mode, 100*o, 100*r.Goals.MaxOverhead)
	}
	return tw.Flush()
}
