package delivery

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults for the zero fields of Config.
const (
	// DefaultFrom is the sender of every email when Config.From is empty.
	DefaultFrom = "Steward <no-reply@steward.local>"
	// DefaultSMTPTimeout bounds one SMTP delivery: connect, TLS, AUTH and the transaction.
	DefaultSMTPTimeout = 30 * time.Second
	// DefaultWebhookTimeout bounds one webhook request, from dial to the response headers and
	// the (capped) body.
	DefaultWebhookTimeout = 10 * time.Second
	// DefaultMaxAttempts is how many times a message is tried before it is marked FAILED. With
	// Backoff that spreads retries over about four hours.
	DefaultMaxAttempts = 12
	// DefaultSendingLease is how long a worker owns a message it claimed. A message still
	// SENDING after that is presumed abandoned by a dead worker and may be claimed again, so
	// it must comfortably exceed the longest send (validate asks for twice the longer timeout).
	DefaultSendingLease = 5 * time.Minute
)

// SMTP TLS modes, the tls= parameter of Config.SMTPURL.
const (
	// TLSNone speaks plain SMTP (a local relay or a dev mail catcher); credentials are refused.
	TLSNone = "none"
	// TLSStartTLS upgrades with STARTTLS and refuses a server that does not offer it; the
	// default for smtp://, port 587 unless given.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the first byte; the default for smtps://, port 465
	// unless given.
	TLSImplicit = "implicit"
)

// Config configures delivery. The zero value is valid for development: email lands in the dev
// mailbox and webhooks may target any address.
type Config struct {
	// SMTPURL selects real email: smtp://user:pass@host:port?tls=none|starttls|implicit (or
	// smtps://, meaning tls=implicit). Empty (the dev default) stores email in Steward's dev
	// mailbox instead. User and password are optional and need tls=starttls or implicit.
	SMTPURL string
	// SMTPTLSConfig overrides the TLS settings of the SMTP connection, e.g. to trust a private
	// CA; nil verifies the server against the system roots under the URL's host name.
	SMTPTLSConfig *tls.Config
	// SMTPTimeout bounds one SMTP delivery; default DefaultSMTPTimeout.
	SMTPTimeout time.Duration
	// From is the sender of every email, an RFC 5322 address with an optional display name;
	// default DefaultFrom. Its domain also names the Message-ID.
	From string
	// HTTPClient sends webhooks; nil builds one. Its Transport must be nil or an
	// *http.Transport: delivery clones it and, unless AllowPrivateWebhookTargets, replaces its
	// dialer with one that refuses private addresses and drops any proxy. Redirects are never
	// followed, and a zero Timeout becomes WebhookTimeout.
	HTTPClient *http.Client
	// AllowPrivateWebhookTargets lets webhooks reach loopback, private, link-local and other
	// non-public addresses. Only for development and tests: in production it would let anyone
	// who can write a play probe Steward's internal network (SSRF). When false, the address is
	// checked when the connection is dialed, after DNS resolution, not only when the URL is
	// parsed, so a host name that resolves (or rebinds) to a private address is refused too.
	AllowPrivateWebhookTargets bool
	// WebhookTimeout bounds one webhook request; default DefaultWebhookTimeout.
	WebhookTimeout time.Duration
	// MaxAttempts is how many attempts a message gets before it is marked FAILED; default
	// DefaultMaxAttempts. Keep it at most the River job's MaxAttempts (River's default is 25);
	// the workers mark the message FAILED if River gives up first anyway.
	MaxAttempts int
	// SendingLease is how long a claimed message belongs to its worker; default
	// DefaultSendingLease.
	SendingLease time.Duration
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.From == "" {
		c.From = DefaultFrom
	}
	if c.SMTPTimeout == 0 {
		c.SMTPTimeout = DefaultSMTPTimeout
	}
	if c.WebhookTimeout == 0 {
		c.WebhookTimeout = DefaultWebhookTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.SendingLease == 0 {
		c.SendingLease = DefaultSendingLease
	}
	return c
}

// validate checks a Config that went through withDefaults and names the first bad field.
func (c Config) validate() error {
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("delivery config: From: %w", err)
	}
	if c.SMTPURL != "" {
		if _, err := parseSMTPURL(c.SMTPURL); err != nil {
			return fmt.Errorf("delivery config: SMTPURL: %w", err)
		}
	}
	switch {
	case c.SMTPTimeout < 0:
		return fmt.Errorf("delivery config: SMTPTimeout must be positive, got %s", c.SMTPTimeout)
	case c.WebhookTimeout < 0:
		return fmt.Errorf("delivery config: WebhookTimeout must be positive, got %s", c.WebhookTimeout)
	case c.MaxAttempts < 1:
		return fmt.Errorf("delivery config: MaxAttempts must be at least 1, got %d", c.MaxAttempts)
	case c.SendingLease < 2*max(c.SMTPTimeout, c.WebhookTimeout):
		return fmt.Errorf("delivery config: SendingLease %s must be at least twice the longer of SMTPTimeout and WebhookTimeout", c.SendingLease)
	}
	if c.HTTPClient != nil && c.HTTPClient.Transport != nil && !c.AllowPrivateWebhookTargets {
		if _, ok := c.HTTPClient.Transport.(*http.Transport); !ok {
			return fmt.Errorf("delivery config: HTTPClient: its Transport must be an *http.Transport so private targets can be refused, got %T", c.HTTPClient.Transport)
		}
	}
	return nil
}

// LogValue shows the configuration with the SMTP password masked, so it can be logged whole.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("smtp_url", redactURL(c.SMTPURL)),
		slog.String("from", c.From),
		slog.Duration("smtp_timeout", c.SMTPTimeout),
		slog.Duration("webhook_timeout", c.WebhookTimeout),
		slog.Bool("allow_private_webhook_targets", c.AllowPrivateWebhookTargets),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Duration("sending_lease", c.SendingLease),
	)
}

// redactURL masks the password of raw; a URL that does not parse is masked whole.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// smtpSettings is a parsed Config.SMTPURL.
type smtpSettings struct {
	host     string
	port     int
	tls      string
	username string
	password string
}

// parseSMTPURL parses smtp://user:pass@host:port?tls=none|starttls|implicit and smtps://...
func parseSMTPURL(raw string) (smtpSettings, error) {
	var s smtpSettings
	u, err := url.Parse(raw)
	if err != nil {
		return s, fmt.Errorf("not a URL: %s", redactURL(raw))
	}
	switch u.Scheme {
	case "smtp":
		s.tls = TLSStartTLS
	case "smtps":
		s.tls = TLSImplicit
	default:
		return s, fmt.Errorf("scheme must be smtp or smtps, got %q", u.Scheme)
	}
	s.host = u.Hostname()
	if s.host == "" {
		return s, fmt.Errorf("no host")
	}
	if u.Path != "" && u.Path != "/" {
		return s, fmt.Errorf("unexpected path %q", u.Path)
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return s, fmt.Errorf("unknown parameter %q (only tls)", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		switch v {
		case TLSNone, TLSStartTLS, TLSImplicit:
			s.tls = v
		default:
			return s, fmt.Errorf("tls must be none, starttls or implicit, got %q", v)
		}
	}
	switch s.tls {
	case TLSImplicit:
		s.port = 465
	case TLSStartTLS:
		s.port = 587
	default:
		s.port = 25
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("bad port %q", p)
		}
		s.port = n
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
		if s.tls == TLSNone && (s.username != "" || s.password != "") {
			return s, fmt.Errorf("credentials need tls=starttls or tls=implicit, not tls=none")
		}
	}
	return s, nil
}

// fromDomain returns the domain of the From address, for Message-IDs.
func fromDomain(from string) string {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return "steward.local"
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 || at == len(a.Address)-1 {
		return "steward.local"
	}
	return a.Address[at+1:]
}
