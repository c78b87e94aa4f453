package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/invalid"
)

// Webhook limits.
const (
	// MaxWebhookBody is the largest webhook body EnqueueWebhook accepts.
	MaxWebhookBody = 64 << 10
	// maxURLLength is the longest webhook URL accepted.
	maxURLLength = 2048
	// maxResponseRead is how much of a response body is read (to reuse the connection and to
	// quote in last_error).
	maxResponseRead = 64 << 10
	// maxErrorSnippet is how much of a failed response body is kept in last_error.
	maxErrorSnippet = 200
)

// Headers of a webhook request.
const (
	// HeaderDeliveryID carries the outbox id, the same on every attempt: receivers deduplicate
	// on it.
	HeaderDeliveryID = "Steward-Delivery-Id"
	// HeaderTimestamp carries the Unix time (seconds) of the attempt; it is signed, so a
	// receiver can refuse replays of old requests.
	HeaderTimestamp = "Steward-Timestamp"
	// HeaderSignature carries "v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>".
	HeaderSignature = "Steward-Signature"
)

// signatureScheme prefixes a signature with its version.
const signatureScheme = "v1="

// WebhookRequest is one webhook a step wants called.
type WebhookRequest struct {
	// IdempotencyKey identifies the effect within the workspace (see EmailRequest).
	IdempotencyKey string
	// AccountID optionally links the call to an account.
	AccountID *uuid.UUID
	// URL is the http or https endpoint to POST to, without credentials.
	URL string
	// Body is the JSON document to send, at most MaxWebhookBody bytes.
	Body json.RawMessage
	// Source says what asked for the call (see EmailRequest).
	Source string
}

// WebhookPayload is the payload of a WEBHOOK outbox row, as stored.
type WebhookPayload struct {
	URL  string          `json:"url"`
	Body json.RawMessage `json:"body"`
}

// EnqueueWebhook records in idb (the step's transaction) that w is to be called, and returns the
// outbox row, PENDING when created (created false: the workspace already had a message with
// w.IdempotencyKey, returned as it is; an EMAIL with that key is db.ErrConflict). Enqueue a
// delivery job (WebhookArgs) in the same transaction. The request is signed with the
// workspace's secret at delivery, so the secret is never copied into the row. Bad input is an
// invalid error naming the field.
func (s *Service) EnqueueWebhook(ctx context.Context, idb bun.IDB, t db.Tenant, w WebhookRequest) (*db.OutboxMessage, bool, error) {
	if err := s.ready(); err != nil {
		return nil, false, err
	}
	if err := checkKeyAndSource(w.IdempotencyKey, w.Source); err != nil {
		return nil, false, err
	}
	u, err := s.checkWebhookURL(w.URL)
	if err != nil {
		return nil, false, err
	}
	body, err := checkWebhookBody(w.Body)
	if err != nil {
		return nil, false, err
	}
	payload, err := json.Marshal(WebhookPayload{URL: u, Body: body})
	if err != nil {
		return nil, false, fmt.Errorf("encode webhook payload: %w", err)
	}
	m := &db.OutboxMessage{
		Kind:           db.OutboxWebhook,
		IdempotencyKey: w.IdempotencyKey,
		AccountID:      w.AccountID,
		Source:         w.Source,
		Payload:        payload,
		Status:         db.OutboxPending,
		CreatedAt:      s.now(),
	}
	created, err := db.InsertOutboxMessage(ctx, idb, t, m)
	if err != nil {
		return nil, false, fmt.Errorf("enqueue webhook: %w", err)
	}
	if !created {
		return existing(m, db.OutboxWebhook)
	}
	return m, true, nil
}

// checkWebhookURL validates raw and returns it normalized. With private targets refused, an IP
// literal or localhost name is refused here already, for a clear early error; the dialer checks
// every address again after DNS resolution.
func (s *Service) checkWebhookURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", invalid.Field("url", "is required")
	}
	if len(raw) > maxURLLength {
		return "", invalid.Field("url", "is longer than %d characters", maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalid.Field("url", "is not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", invalid.Field("url", "must be an http or https URL")
	case u.Hostname() == "":
		return "", invalid.Field("url", "has no host")
	case u.User != nil:
		return "", invalid.Field("url", "must not contain credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", invalid.Field("url", "must not contain a fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", invalid.Field("url", "has a bad port")
		}
	}
	if !s.cfg.AllowPrivateWebhookTargets {
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if host == "localhost" || strings.HasSuffix(host, ".localhost") {
			return "", invalid.Field("url", "must not point at localhost")
		}
		if ip, err := netip.ParseAddr(host); err == nil && forbiddenAddr(ip) {
			return "", invalid.Field("url", "must not point at a private, loopback or link-local address")
		}
	}
	return u.String(), nil
}

// checkWebhookBody validates body and returns it compacted.
func checkWebhookBody(body json.RawMessage) (json.RawMessage, error) {
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return nil, invalid.Field("body", "is required")
	case len(body) > MaxWebhookBody:
		return nil, invalid.Field("body", "is larger than %d KiB", MaxWebhookBody>>10)
	case !utf8.Valid(body) || !json.Valid(body):
		return nil, invalid.Field("body", "is not valid JSON")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return nil, invalid.Field("body", "is not valid JSON")
	}
	return buf.Bytes(), nil
}

// Sign returns the Steward-Signature value of a webhook: "v1=" and the hex HMAC-SHA256, keyed
// with secret, of the decimal timestamp, a dot and the body exactly as sent.
func Sign(secret []byte, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return signatureScheme + hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature (a Steward-Signature header value, possibly several
// comma-separated signatures) holds a valid signature of timestamp and body under secret. The
// comparison takes constant time. Receivers should also refuse timestamps far from their clock
// (five minutes is usual) to stop replays, and deduplicate on Steward-Delivery-Id.
func Verify(secret []byte, timestamp int64, body []byte, signature string) bool {
	want := []byte(Sign(secret, timestamp, body))
	ok := false
	for _, part := range strings.Split(signature, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(part)), want) {
			ok = true
		}
	}
	return ok
}

// sendWebhook performs one attempt of the webhook m. A 2xx is delivered; 408, 429, 5xx and
// transport errors (timeouts, refused connections, DNS) are retryable; any other status and a
// forbidden target wrap ErrPermanent.
func (s *Service) sendWebhook(ctx context.Context, t db.Tenant, m *db.OutboxMessage) error {
	var p WebhookPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return fmt.Errorf("%w: decode webhook payload: %w", ErrPermanent, err)
	}
	var body bytes.Buffer
	if err := json.Compact(&body, p.Body); err != nil {
		return fmt.Errorf("%w: webhook body: %w", ErrPermanent, err)
	}
	secret, err := s.WebhookSecret(ctx, s.DB, t)
	if err != nil {
		return err
	}
	ts := s.now().Unix()

	ctx, cancel := context.WithTimeout(ctx, s.cfg.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body.Bytes()))
	if err != nil {
		return fmt.Errorf("%w: webhook request: %w", ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Steward-Webhooks/1")
	req.Header.Set(HeaderDeliveryID, m.ID.String())
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body.Bytes()))

	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrForbiddenTarget) {
			return fmt.Errorf("%w: webhook: %w", ErrPermanent, err)
		}
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return errors.New(statusError(resp, snippet))
	default:
		return fmt.Errorf("%w: %s", ErrPermanent, statusError(resp, snippet))
	}
}

// statusError describes a non-2xx response for last_error.
func statusError(resp *http.Response, body []byte) string {
	msg := "HTTP " + strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return msg + " (redirects are not followed)"
	}
	b := strings.ToValidUTF8(strings.TrimSpace(string(body)), "")
	if len(b) > maxErrorSnippet {
		b = strings.ToValidUTF8(b[:maxErrorSnippet], "") + "…"
	}
	if b != "" {
		msg += ": " + b
	}
	return msg
}

// webhookClient builds the HTTP client for webhooks from cfg (see Config.HTTPClient).
func webhookClient(cfg Config) *http.Client {
	var c http.Client
	if cfg.HTTPClient != nil {
		c = *cfg.HTTPClient
	}
	var tr *http.Transport
	switch base := c.Transport.(type) {
	case nil:
		tr = &http.Transport{
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	case *http.Transport:
		tr = base.Clone()
	}
	if tr != nil {
		if !cfg.AllowPrivateWebhookTargets {
			// A proxy would make the dialed address the proxy's, defeating the check.
			tr.Proxy = nil
			d := &net.Dialer{Timeout: cfg.WebhookTimeout, KeepAlive: 30 * time.Second, Control: refusePrivate}
			tr.DialContext = d.DialContext
			tr.DialTLSContext = nil
		} else if tr.DialContext == nil {
			d := &net.Dialer{Timeout: cfg.WebhookTimeout, KeepAlive: 30 * time.Second}
			tr.DialContext = d.DialContext
		}
		c.Transport = tr
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 {
		c.Timeout = cfg.WebhookTimeout
	}
	return &c
}

// refusePrivate is a net.Dialer Control function: it runs for every address the dialer is
// about to connect to, after DNS resolution, and refuses the non-public ones.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || forbiddenAddr(ip) {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, host)
	}
	return nil
}

// forbiddenPrefixes are special-purpose ranges netip's predicates do not cover.
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: could reach any IPv4 address
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: embeds an IPv4 address
}

// forbiddenAddr reports whether ip is not a public unicast address a webhook may reach.
func forbiddenAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
