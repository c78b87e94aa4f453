package server

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Prometheus collectors of one process.
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	errors    *prometheus.CounterVec
	httpCount *prometheus.CounterVec
}

func newMetrics(pool *pgxpool.Pool) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_graphql_operations_total", Help: "GraphQL operations by name and type.",
		}, []string{"operation", "type"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "steward_graphql_operation_duration_seconds", Help: "GraphQL operation latency.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_graphql_errors_total", Help: "GraphQL errors by extensions.code.",
		}, []string{"code"}),
		httpCount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "steward_http_requests_total", Help: "HTTP requests by route and status class.",
		}, []string{"route", "status"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.errors, m.httpCount,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	poolGauge := func(name, help string, f func(*pgxpool.Stat) float64) {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return f(pool.Stat()) }))
	}
	poolGauge("steward_db_pool_total_conns", "Open connections in the pool.", func(s *pgxpool.Stat) float64 { return float64(s.TotalConns()) })
	poolGauge("steward_db_pool_acquired_conns", "Connections in use.", func(s *pgxpool.Stat) float64 { return float64(s.AcquiredConns()) })
	poolGauge("steward_db_pool_idle_conns", "Idle connections.", func(s *pgxpool.Stat) float64 { return float64(s.IdleConns()) })
	poolGauge("steward_db_pool_max_conns", "Pool size limit.", func(s *pgxpool.Stat) float64 { return float64(s.MaxConns()) })
	poolGauge("steward_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", func(s *pgxpool.Stat) float64 { return s.AcquireDuration().Seconds() })
	return m
}

// maxOperationLabel bounds operation names used as metric labels; longer ones count as
// "unknown" so a client cannot blow up label sizes.
const maxOperationLabel = 64

// operationMetrics is a gqlgen extension that counts and times operations and counts errors
// by code.
type operationMetrics struct{ m *metrics }

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = operationMetrics{}

func (operationMetrics) ExtensionName() string                   { return "OperationMetrics" }
func (operationMetrics) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationMetrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	name, typ, start := "unknown", "unknown", time.Now()
	if graphql.HasOperationContext(ctx) {
		op := graphql.GetOperationContext(ctx)
		start = op.Stats.OperationStart // includes parsing and validation
		if op.Operation != nil {
			typ = string(op.Operation.Operation)
			if op.Operation.Name != "" && len(op.Operation.Name) <= maxOperationLabel {
				name = op.Operation.Name
			}
		}
	}
	o.m.requests.WithLabelValues(name, typ).Inc()
	o.m.latency.WithLabelValues(name, typ).Observe(time.Since(start).Seconds())
	if resp != nil {
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" {
				code = "UNKNOWN"
			}
			o.m.errors.WithLabelValues(code).Inc()
		}
	}
	return resp
}
