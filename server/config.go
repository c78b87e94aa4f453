// Package server is Steward's HTTP layer: configuration from the environment, routes
// (/graphql, /graphiql, /healthz, /readyz, /metrics), middleware (request id, logging, CORS,
// body limit, authentication, metrics) and graceful shutdown.
package server

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/feed"
	"github.com/stewardhq/steward/graph"
	"github.com/stewardhq/steward/queue"
)

// Defaults for Config, used when the environment does not set a value.
const (
	DefaultAddr             = ":8080"
	DefaultDataDir          = ".data"
	DefaultCORSOrigins      = "http://localhost:5173"
	DefaultMaxBodyBytes     = 1 << 20
	DefaultAccessTokenTTL   = 15 * time.Minute
	DefaultRefreshTokenTTL  = 30 * 24 * time.Hour
	DefaultOperationTimeout = 10 * time.Second
	DefaultShutdownTimeout  = 20 * time.Second
	DefaultDBMaxConns       = 20
	DefaultPlaySweepTime    = time.Minute
	DefaultQueueWorkers     = queue.DefaultWorkers
	DefaultChangeLog        = db.ChangeLogOn
)

// Config is every setting of a Steward process, read from environment variables.
type Config struct {
	// Addr is the listen address (STEWARD_ADDR).
	Addr string
	// DatabaseURL points at PostgreSQL (DATABASE_URL); empty runs the private cluster under
	// DataDir/postgres.
	DatabaseURL string
	// DataDir holds dev state: the private cluster and generated JWT keys (STEWARD_DATA_DIR).
	DataDir string
	// Dev enables GraphiQL, introspection and field suggestions (STEWARD_ENV=dev, the default;
	// set STEWARD_ENV=production to turn them off).
	Dev bool
	// CORSOrigins are the browser origins allowed to call the API with credentials and to open
	// websockets (STEWARD_CORS_ORIGINS, comma-separated).
	CORSOrigins []string
	// JWTKeys is "kid:base64secret,..." with the signing key first (STEWARD_JWT_KEYS); empty in
	// dev generates keys under DataDir. Masked in logs.
	JWTKeys string
	// AccessTokenTTL is the lifetime of access tokens (STEWARD_ACCESS_TOKEN_TTL).
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of refresh tokens (STEWARD_REFRESH_TOKEN_TTL).
	RefreshTokenTTL time.Duration
	// MaxBodyBytes caps request bodies (STEWARD_MAX_BODY_BYTES).
	MaxBodyBytes int64
	// OperationTimeout bounds each GraphQL query or mutation (STEWARD_OPERATION_TIMEOUT).
	OperationTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown (STEWARD_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// DBMaxConns caps the connection pool (STEWARD_DB_MAX_CONNS).
	DBMaxConns int
	// LogLevel is debug, info, warn or error (STEWARD_LOG_LEVEL).
	LogLevel string
	// PlaySweepInterval is how often SCHEDULE plays are checked (STEWARD_PLAY_SWEEP_INTERVAL).
	PlaySweepInterval time.Duration
	// QueueWorkers is how many jobs (play steps, deliveries) this process works at once
	// (STEWARD_QUEUE_WORKERS, default queue.DefaultWorkers); 0 makes an API-only process that
	// enqueues jobs for others to work.
	QueueWorkers int
	// SMTPURL sends play emails through an SMTP server (SMTP_URL, e.g.
	// smtp://user:pass@mail.example.com:587); empty keeps them in the dev mailbox. Masked in logs.
	SMTPURL string
	// MailFrom is the sender of play emails (STEWARD_MAIL_FROM).
	MailFrom string
	// WebhookAllowPrivate lets SEND_WEBHOOK steps call loopback and private addresses
	// (STEWARD_WEBHOOK_ALLOW_PRIVATE=true); off, they are refused to prevent SSRF.
	WebhookAllowPrivate bool
	// ChangeLog is how changes reach live feeds (STEWARD_CHANGE_LOG): "on" (log rows and one
	// NOTIFY per transaction), "nonotify" (rows only; hubs find them by polling) or "off" (no
	// live feeds; for measuring the log's cost in benchmarks only).
	ChangeLog string
	// ChangeRetention is how long change log rows are kept, so how long a live-feed client may
	// be away and still resume by cursor (STEWARD_CHANGE_RETENTION).
	ChangeRetention time.Duration
	// FeedPollInterval is how often the hub reads the change log without a NOTIFY wake-up
	// (STEWARD_FEED_POLL_INTERVAL).
	FeedPollInterval time.Duration
	// FeedBufferSize is how many events a subscriber may fall behind before it is dropped and
	// must resume by cursor (STEWARD_FEED_BUFFER).
	FeedBufferSize int
	// WSInitTimeout closes a websocket with 4408 when no connection_init arrives within it
	// (STEWARD_WS_INIT_TIMEOUT).
	WSInitTimeout time.Duration
	// WSMaxSubscriptions caps the subscriptions of one websocket (STEWARD_WS_MAX_SUBSCRIPTIONS).
	WSMaxSubscriptions int
}

// ConfigFromEnv reads Config from the environment, applying defaults, and validates it.
func ConfigFromEnv() (Config, error) {
	c := Config{
		Addr:        env("STEWARD_ADDR", DefaultAddr),
		DatabaseURL: os.Getenv("DATABASE_URL"),
		DataDir:     env("STEWARD_DATA_DIR", DefaultDataDir),
		Dev:         env("STEWARD_ENV", "dev") == "dev",
		JWTKeys:     os.Getenv("STEWARD_JWT_KEYS"),
		LogLevel:    env("STEWARD_LOG_LEVEL", "info"),
		SMTPURL:     os.Getenv("SMTP_URL"),
		MailFrom:    os.Getenv("STEWARD_MAIL_FROM"),

		WebhookAllowPrivate: os.Getenv("STEWARD_WEBHOOK_ALLOW_PRIVATE") == "true",
		ChangeLog:           env("STEWARD_CHANGE_LOG", DefaultChangeLog),
	}
	for _, o := range strings.Split(env("STEWARD_CORS_ORIGINS", DefaultCORSOrigins), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	var err error
	if c.AccessTokenTTL, err = envDuration("STEWARD_ACCESS_TOKEN_TTL", DefaultAccessTokenTTL); err != nil {
		return c, err
	}
	if c.RefreshTokenTTL, err = envDuration("STEWARD_REFRESH_TOKEN_TTL", DefaultRefreshTokenTTL); err != nil {
		return c, err
	}
	if c.OperationTimeout, err = envDuration("STEWARD_OPERATION_TIMEOUT", DefaultOperationTimeout); err != nil {
		return c, err
	}
	if c.ShutdownTimeout, err = envDuration("STEWARD_SHUTDOWN_TIMEOUT", DefaultShutdownTimeout); err != nil {
		return c, err
	}
	if c.PlaySweepInterval, err = envDuration("STEWARD_PLAY_SWEEP_INTERVAL", DefaultPlaySweepTime); err != nil {
		return c, err
	}
	if c.MaxBodyBytes, err = envInt("STEWARD_MAX_BODY_BYTES", DefaultMaxBodyBytes); err != nil {
		return c, err
	}
	if c.ChangeRetention, err = envDuration("STEWARD_CHANGE_RETENTION", feed.DefaultRetention); err != nil {
		return c, err
	}
	if c.FeedPollInterval, err = envDuration("STEWARD_FEED_POLL_INTERVAL", feed.DefaultPollInterval); err != nil {
		return c, err
	}
	if c.WSInitTimeout, err = envDuration("STEWARD_WS_INIT_TIMEOUT", graph.DefaultWSInitTimeout); err != nil {
		return c, err
	}
	buffer, err := envInt("STEWARD_FEED_BUFFER", feed.DefaultBufferSize)
	if err != nil {
		return c, err
	}
	c.FeedBufferSize = int(buffer)
	maxSubs, err := envInt("STEWARD_WS_MAX_SUBSCRIPTIONS", graph.DefaultWSMaxSubscriptions)
	if err != nil {
		return c, err
	}
	c.WSMaxSubscriptions = int(maxSubs)
	n, err := envInt("STEWARD_DB_MAX_CONNS", DefaultDBMaxConns)
	if err != nil {
		return c, err
	}
	c.DBMaxConns = int(n)
	if n, err = envInt("STEWARD_QUEUE_WORKERS", DefaultQueueWorkers); err != nil {
		return c, err
	}
	c.QueueWorkers = int(n)
	return c, c.validate()
}

func (c Config) validate() error {
	switch {
	case c.Addr == "":
		return fmt.Errorf("STEWARD_ADDR must not be empty")
	case c.AccessTokenTTL <= 0 || c.AccessTokenTTL > 24*time.Hour:
		return fmt.Errorf("STEWARD_ACCESS_TOKEN_TTL must be between 1s and 24h")
	case c.RefreshTokenTTL < c.AccessTokenTTL:
		return fmt.Errorf("STEWARD_REFRESH_TOKEN_TTL must not be shorter than the access token TTL")
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("STEWARD_MAX_BODY_BYTES must be at least 1024")
	case c.ShutdownTimeout < time.Second:
		return fmt.Errorf("STEWARD_SHUTDOWN_TIMEOUT must be at least 1s")
	case c.PlaySweepInterval < time.Second:
		return fmt.Errorf("STEWARD_PLAY_SWEEP_INTERVAL must be at least 1s")
	case c.QueueWorkers < 0:
		return fmt.Errorf("STEWARD_QUEUE_WORKERS must not be negative")
	case c.DBMaxConns < 2:
		return fmt.Errorf("STEWARD_DB_MAX_CONNS must be at least 2")
	case !c.Dev && c.JWTKeys == "":
		return fmt.Errorf("STEWARD_JWT_KEYS must be set outside dev")
	case c.ChangeLog != db.ChangeLogOn && c.ChangeLog != db.ChangeLogNoNotify && c.ChangeLog != db.ChangeLogOff:
		return fmt.Errorf("STEWARD_CHANGE_LOG must be on, nonotify or off")
	case c.WSInitTimeout < 100*time.Millisecond:
		return fmt.Errorf("STEWARD_WS_INIT_TIMEOUT must be at least 100ms")
	case c.WSMaxSubscriptions < 1:
		return fmt.Errorf("STEWARD_WS_MAX_SUBSCRIPTIONS must be at least 1")
	}
	return c.FeedConfig(nil).Validate()
}

// LogValue masks secrets when the config is logged.
func (c Config) LogValue() []any {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "****"
	}
	dbURL := c.DatabaseURL
	if i := strings.Index(dbURL, "@"); i > 0 {
		dbURL = "****" + dbURL[i:]
	}
	return []any{"addr", c.Addr, "database_url", dbURL, "data_dir", c.DataDir, "dev", c.Dev,
		"cors_origins", c.CORSOrigins, "jwt_keys", mask(c.JWTKeys), "access_token_ttl", c.AccessTokenTTL.String(),
		"smtp_url", mask(c.SMTPURL), "play_sweep_interval", c.PlaySweepInterval.String(),
		"shutdown_timeout", c.ShutdownTimeout.String(), "queue_workers", c.QueueWorkers,
		"change_log", c.ChangeLog, "change_retention", c.ChangeRetention.String(),
		"feed_poll_interval", c.FeedPollInterval.String(), "ws_max_subscriptions", c.WSMaxSubscriptions}
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}

func envInt(name string, def int64) (int64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}
