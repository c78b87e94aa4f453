package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("STEWARD_ADDR", "127.0.0.1:9999")
	t.Setenv("DATABASE_URL", "postgres://app:secret@db.example:5432/steward")
	t.Setenv("STEWARD_CORS_ORIGINS", "https://app.example, http://localhost:5173")
	t.Setenv("STEWARD_PLAY_SWEEP_INTERVAL", "30s")
	t.Setenv("SMTP_URL", "smtp://mailer:hunter2@mail.example:587")
	t.Setenv("STEWARD_WEBHOOK_ALLOW_PRIVATE", "true")
	c, err := ConfigFromEnv()
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", c.Addr)
	require.Equal(t, []string{"https://app.example", "http://localhost:5173"}, c.CORSOrigins)
	require.Equal(t, 30*time.Second, c.PlaySweepInterval)
	require.Equal(t, "smtp://mailer:hunter2@mail.example:587", c.SMTPURL)
	require.True(t, c.WebhookAllowPrivate)
	require.Equal(t, DefaultAccessTokenTTL, c.AccessTokenTTL)

	logged := fmt.Sprint(c.LogValue()...)
	require.NotContains(t, logged, "secret")
	require.NotContains(t, logged, "hunter2")
}

func TestConfigNamesTheBadSetting(t *testing.T) {
	for name, value := range map[string]string{
		"STEWARD_ACCESS_TOKEN_TTL":    "forever",
		"STEWARD_PLAY_SWEEP_INTERVAL": "10ms",
		"STEWARD_DB_MAX_CONNS":        "1",
		"STEWARD_MAX_BODY_BYTES":      "12",
		"STEWARD_SHUTDOWN_TIMEOUT":    "10ms",
		"STEWARD_QUEUE_WORKERS":       "-1",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, err := ConfigFromEnv()
			require.ErrorContains(t, err, name)
		})
	}
	t.Run("production needs keys", func(t *testing.T) {
		t.Setenv("STEWARD_ENV", "production")
		_, err := ConfigFromEnv()
		require.ErrorContains(t, err, "STEWARD_JWT_KEYS")
	})
}
