package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// sampleEvery is how often a response is decoded in full during a phase (every response is
// checked for status 200 and the absence of GraphQL errors).
const sampleEvery = 50

// maxErrors is how many distinct failure reasons a phase keeps.
const maxErrors = 5

// target is one endpoint under test.
type target struct {
	name      string
	url       string
	token     string
	body      []byte
	wantEdges int
	// statements reads the target's SQL statement counter.
	statements func() int64
}

// vegetaTarget is the request every hit sends.
func (t *target) vegetaTarget() vegeta.Target {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", "Bearer "+t.token)
	return vegeta.Target{Method: http.MethodPost, URL: t.url, Body: t.body, Header: h}
}

// fetch sends one request outside a load phase and checks the answer.
func (t *target) fetch(ctx context.Context, c *http.Client) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return nil, err
	}
	req.Header = t.vegetaTarget().Header
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: read response: %w", t.name, err)
	}
	if err := t.check(resp.StatusCode, body, true); err != nil {
		return nil, fmt.Errorf("%s: %w", t.name, err)
	}
	return body, nil
}

// check decides whether one response succeeded; full also decodes it and counts the page.
func (t *target) check(status int, body []byte, full bool) error {
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %.120s", status, body)
	}
	if bytes.Contains(body, []byte(`"errors"`)) {
		return fmt.Errorf("errors in response: %.120s", body)
	}
	if !full {
		return nil
	}
	var page struct {
		Data struct {
			Accounts struct {
				Edges []json.RawMessage `json:"edges"`
			} `json:"accounts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return fmt.Errorf("response is not the page: %w", err)
	}
	if n := len(page.Data.Accounts.Edges); n != t.wantEdges {
		return fmt.Errorf("page holds %d accounts, want %d", n, t.wantEdges)
	}
	return nil
}

// compareTargets asks every target for the page once and requires the same data from all,
// so that the yardstick is known to do the same work. It records the response sizes.
func compareTargets(ctx context.Context, targets []*target, rep *Report) error {
	c := &http.Client{Timeout: DefaultRequestTimeout}
	defer c.CloseIdleConnections()
	rep.ResponseBytes = map[string]int{}
	var first any
	for i, t := range targets {
		body, err := t.fetch(ctx, c)
		if err != nil {
			return fmt.Errorf("first request: %w", err)
		}
		rep.ResponseBytes[t.name] = len(body)
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("first request: %s: %w", t.name, err)
		}
		if i == 0 {
			first = v
		} else if !reflect.DeepEqual(first, v) {
			return fmt.Errorf("%s and %s answer the accounts page with different data", targets[0].name, t.name)
		}
	}
	return nil
}

// measure runs one target's statement count, warm-up, saturation and fixed-rate phases.
func measure(ctx context.Context, opts Options, meter cpuMeter, t *target) (TargetResult, error) {
	res := TargetResult{Name: t.name}
	if opts.Warmup > 0 {
		fmt.Fprintf(opts.Progress, "%s: warm-up %s\n", t.name, opts.Warmup)
		if _, err := attack(ctx, t, meter, vegeta.Rate{}, opts.Workers, opts.Workers, opts.Warmup); err != nil {
			return res, err
		}
	}

	// Sequential requests, one at a time, for the costs that do not depend on load. The heap
	// figures include the client's side of each request, which is the same for every target.
	c := &http.Client{Timeout: DefaultRequestTimeout}
	if _, err := t.fetch(ctx, c); err != nil { // opens the connection
		return res, fmt.Errorf("count statements: %w", err)
	}
	var memBefore, memAfter runtime.MemStats
	runtime.ReadMemStats(&memBefore)
	before := t.statements()
	for range opts.StatementSamples {
		if _, err := t.fetch(ctx, c); err != nil {
			return res, fmt.Errorf("count statements: %w", err)
		}
	}
	runtime.ReadMemStats(&memAfter)
	c.CloseIdleConnections()
	n := float64(opts.StatementSamples)
	res.StatementsPerRequest = float64(t.statements()-before) / n
	res.AllocsPerRequest = float64(memAfter.Mallocs-memBefore.Mallocs) / n
	res.AllocKiBPerRequest = float64(memAfter.TotalAlloc-memBefore.TotalAlloc) / n / 1024

	fmt.Fprintf(opts.Progress, "%s: saturation, %d workers, %s\n", t.name, opts.Workers, opts.Duration)
	stopProfile, err := startProfile(opts, t)
	if err != nil {
		return res, err
	}
	res.Saturation, err = attack(ctx, t, meter, vegeta.Rate{}, opts.Workers, opts.Workers, opts.Duration)
	stopProfile()
	if err != nil {
		return res, err
	}

	fmt.Fprintf(opts.Progress, "%s: fixed rate, %d req/s, %s\n", t.name, opts.Rate, opts.Duration)
	rate := vegeta.Rate{Freq: opts.Rate, Per: time.Second}
	res.FixedRate, err = attack(ctx, t, meter, rate, min(vegeta.DefaultWorkers, opts.MaxWorkers), opts.MaxWorkers, opts.Duration)
	res.FixedRate.Rate = opts.Rate
	return res, err
}

// startProfile profiles the GraphQL saturation phase when asked to.
func startProfile(opts Options, t *target) (func(), error) {
	if opts.CPUProfile == nil || t.name != TargetGraphQL {
		return func() {}, nil
	}
	if err := pprof.StartCPUProfile(opts.CPUProfile); err != nil {
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return pprof.StopCPUProfile, nil
}

// attack runs one load phase: rate (the zero Rate meaning as fast as workers allow) for d,
// starting with workers concurrent requests and growing to at most maxWorkers to hold a rate.
// Each response is checked as it arrives and dropped.
func attack(ctx context.Context, t *target, meter cpuMeter, rate vegeta.Rate, workers, maxWorkers int, d time.Duration) (Phase, error) {
	// vegeta's own client, but one we can close: a phase's connections end with it.
	client := &http.Client{
		Timeout: DefaultRequestTimeout,
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: vegeta.DefaultConnections,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	atk := vegeta.NewAttacker(
		vegeta.Client(client),
		vegeta.Workers(uint64(workers)),
		vegeta.MaxWorkers(uint64(maxWorkers)),
	)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	cpuStart := meter.read(ctx)
	var m vegeta.Metrics
	var failures, seq uint64
	var reasons []string
	var spans []span
	for r := range atk.Attack(vegeta.NewStaticTargeter(t.vegetaTarget()), rate, d, t.name) {
		seq++
		if err := checkResult(t, r, seq%sampleEvery == 0); err != nil {
			failures++
			r.Code = 0 // vegeta counts any 2xx as a success; a body with errors is not one
			if len(reasons) < maxErrors && !slices.Contains(reasons, err.Error()) {
				reasons = append(reasons, err.Error())
			}
		}
		r.Body = nil
		m.Add(r)
		spans = append(spans, span{r.Timestamp, r.End()})
	}
	m.Close()
	if err := ctx.Err(); err != nil {
		return Phase{}, err
	}
	self, backends := meter.read(ctx).since(cpuStart)
	p := Phase{
		Workers:    workers,
		InFlight:   peakInFlight(spans),
		Rate:       rate.Freq,
		Seconds:    (m.Duration + m.Wait).Seconds(),
		Requests:   m.Requests,
		Failures:   failures,
		Throughput: m.Throughput,
		Success:    m.Success,
		MeanMs:     ms(m.Latencies.Mean),
		P50Ms:      ms(m.Latencies.P50),
		P90Ms:      ms(m.Latencies.P90),
		P99Ms:      ms(m.Latencies.P99),
		MaxMs:      ms(m.Latencies.Max),
		Errors:     reasons,
	}
	if m.Requests > 0 {
		p.ProcessCPUMs = ms(self) / float64(m.Requests)
		p.PostgresCPUMs = ms(backends) / float64(m.Requests)
	}
	return p, nil
}

// checkResult checks one vegeta result: transport errors first, then the response.
func checkResult(t *target, r *vegeta.Result, full bool) error {
	if r.Code == 0 {
		if r.Error == "" {
			return fmt.Errorf("no response")
		}
		return fmt.Errorf("%s", r.Error)
	}
	return t.check(int(r.Code), r.Body, full)
}

// span is when one request was sent and when its response had been read.
type span struct{ start, end time.Time }

// peakInFlight returns the largest number of requests that were in flight at once.
func peakInFlight(spans []span) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, s := range spans {
		edges = append(edges, edge{s.start, 1}, edge{s.end, -1})
	}
	// At equal times, ends sort first: a request that ends as another starts did not overlap it.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	n, peak := 0, 0
	for _, e := range edges {
		n += e.delta
		peak = max(peak, n)
	}
	return peak
}

// listenLoopback opens a listener on a free loopback port.
func listenLoopback() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	return ln, nil
}
