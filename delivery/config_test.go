package delivery

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want smtpSettings
		err  string
	}{
		{raw: "smtp://mail.example.com", want: smtpSettings{host: "mail.example.com", port: 587, tls: TLSStartTLS}},
		{raw: "smtps://u:p@mail.example.com", want: smtpSettings{host: "mail.example.com", port: 465, tls: TLSImplicit, username: "u", password: "p"}},
		{raw: "smtp://u:p%40ss@mail.example.com:2525?tls=implicit", want: smtpSettings{host: "mail.example.com", port: 2525, tls: TLSImplicit, username: "u", password: "p@ss"}},
		{raw: "smtp://127.0.0.1:1025?tls=none", want: smtpSettings{host: "127.0.0.1", port: 1025, tls: TLSNone}},
		{raw: "smtp://mailpit?tls=none", want: smtpSettings{host: "mailpit", port: 25, tls: TLSNone}},
		{raw: "http://mail.example.com", err: "scheme"},
		{raw: "smtp://", err: "no host"},
		{raw: "smtp://mail.example.com?tls=maybe", err: "tls must be"},
		{raw: "smtp://mail.example.com?tsl=none", err: "unknown parameter"},
		{raw: "smtp://mail.example.com:99999", err: "port"},
		{raw: "smtp://u:p@mail.example.com?tls=none", err: "credentials"},
	} {
		got, err := parseSMTPURL(tc.raw)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		require.Equal(t, tc.want, got, tc.raw)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	require.NoError(t, cfg.validate())
	require.Equal(t, DefaultFrom, cfg.From)
	require.Equal(t, DefaultWebhookTimeout, cfg.WebhookTimeout)
	require.Equal(t, DefaultMaxAttempts, cfg.MaxAttempts)

	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{From: "not an address"}, "From"},
		{Config{SMTPURL: "smtp://u:p@host?tls=none"}, "SMTPURL"},
		{Config{MaxAttempts: -1}, "MaxAttempts"},
		{Config{WebhookTimeout: -time.Second}, "WebhookTimeout"},
		{Config{SendingLease: 59 * time.Second}, "SendingLease"},
	} {
		_, err := New(nil, tc.cfg)
		require.ErrorContains(t, err, tc.field)
	}

	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "delivery", Config{SMTPURL: "smtp://user:hunter2@mail.example.com"})
	require.NotContains(t, buf.String(), "hunter2")
	require.Contains(t, buf.String(), "user:xxxxx@mail.example.com")
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"event":"play.step"}`)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("1733300000." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))

	sig := Sign(secret, 1733300000, body)
	require.Equal(t, want, sig)
	require.True(t, Verify(secret, 1733300000, body, sig))
	require.True(t, Verify(secret, 1733300000, body, "v1=deadbeef, "+sig), "any of several signatures")
	require.False(t, Verify(secret, 1733300001, body, sig), "the timestamp is signed")
	require.False(t, Verify(secret, 1733300000, []byte(`{"event":"play.stop"}`), sig), "the body is signed")
	require.False(t, Verify([]byte("another secret"), 1733300000, body, sig))
	require.False(t, Verify(secret, 1733300000, body, ""))
	require.False(t, Verify(secret, 1733300000, body, sig[3:]), "the scheme prefix is required")
}

func TestForbiddenAddr(t *testing.T) {
	t.Parallel()
	for _, a := range []string{
		"127.0.0.1", "127.255.0.9", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"fe80::1", "fc00::1", "fd12::1", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "ff02::1",
		"255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "198.18.0.1",
	} {
		require.True(t, forbiddenAddr(netip.MustParseAddr(a)), a)
	}
	for _, a := range []string{"93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "172.32.0.1", "100.128.0.1"} {
		require.False(t, forbiddenAddr(netip.MustParseAddr(a)), a)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	require.Equal(t, 10*time.Second, Backoff(0))
	require.Equal(t, 10*time.Second, Backoff(1))
	require.Equal(t, 20*time.Second, Backoff(2))
	require.Equal(t, 2560*time.Second, Backoff(9))
	require.Equal(t, time.Hour, Backoff(10))
	require.Equal(t, time.Hour, Backoff(1000))
}
