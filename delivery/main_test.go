package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/clocktest"
	"github.com/stewardhq/steward/db"
	"github.com/stewardhq/steward/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// testBundle is one test's world: a fresh workspace with an account, a Service on a clock the
// test controls.
type testBundle struct {
	ctx     context.Context
	db      *dbtest.Database
	svc     *Service
	clock   *clocktest.Clock
	tenant  db.Tenant
	account *db.Account
}

// setup builds a bundle whose Service uses cfg.
func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	ctx := t.Context()
	d := dbtest.DB(t)
	clock := clocktest.New(time.Now().UTC().Truncate(time.Microsecond))
	ws, err := db.CreateWorkspace(ctx, d.Bun, "Delivery test "+uuid.NewString()[:8])
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, db: d, clock: clock, tenant: db.Tenant{WorkspaceID: ws.ID}}
	b.svc = b.service(t, cfg)
	b.account = &db.Account{Name: "Acme", Stage: "ONBOARDING", ARRCurrency: "USD", Tags: []string{}, Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InsertAccount(ctx, d.Bun, b.tenant, b.account))
	return b
}

// service builds another Service on the bundle's database and clock.
func (b *testBundle) service(t *testing.T, cfg Config) *Service {
	t.Helper()
	svc, err := New(b.db.Bun, cfg)
	require.NoError(t, err)
	svc.Now = b.clock.Now
	return svc
}

// contactOpts configures createContact; zero fields get defaults.
type contactOpts struct {
	// Email defaults to a unique address.
	Email string
	// OptOut marks the contact as opted out of email.
	OptOut bool
}

// createContact inserts a contact on the bundle's account.
func (b *testBundle) createContact(t *testing.T, opts contactOpts) *db.Contact {
	t.Helper()
	if opts.Email == "" {
		opts.Email = "contact-" + uuid.NewString()[:8] + "@example.com"
	}
	c := &db.Contact{AccountID: b.account.ID, Name: "Casey", Email: opts.Email, EmailOptOut: opts.OptOut, Custom: json.RawMessage(`{}`)}
	require.NoError(t, db.InsertContact(b.ctx, b.db.Bun, b.tenant, c))
	return c
}

// setOptOut changes a contact's opt-out flag.
func (b *testBundle) setOptOut(t *testing.T, c *db.Contact, optOut bool) {
	t.Helper()
	c.EmailOptOut = optOut
	require.NoError(t, db.UpdateContact(b.ctx, b.db.Bun, b.tenant, c))
}

// emailTo returns a valid request to contact c under key.
func emailTo(c *db.Contact, key string) EmailRequest {
	return EmailRequest{
		IdempotencyKey: key,
		ContactID:      &c.ID,
		Subject:        "Welcome aboard",
		Text:           "Hello Casey,\nthanks for joining.",
		Source:         "play_run:test/step:welcome/iter:0",
	}
}

// enqueueEmail enqueues e outside any transaction and fails the test on error.
func (b *testBundle) enqueueEmail(t *testing.T, e EmailRequest) *db.OutboxMessage {
	t.Helper()
	m, _, err := b.svc.EnqueueEmail(b.ctx, b.db.Bun, b.tenant, e)
	require.NoError(t, err)
	return m
}

// reload reads an outbox message back.
func (b *testBundle) reload(t *testing.T, id uuid.UUID) *db.OutboxMessage {
	t.Helper()
	m, err := b.svc.Get(b.ctx, b.db.Bun, b.tenant, id)
	require.NoError(t, err)
	return m
}

// countOutbox counts the bundle's outbox rows.
func (b *testBundle) countOutbox(t *testing.T) int {
	t.Helper()
	n, err := b.tenant.Select(b.db.Bun, (*db.OutboxMessage)(nil)).Count(b.ctx)
	require.NoError(t, err)
	return int(n)
}

// receivedMail is one message an smtpServer accepted.
type receivedMail struct {
	From string
	To   []string
	Data []byte
}

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 that records what
// it accepts.
type smtpServer struct {
	addr string

	mu       sync.Mutex
	received []receivedMail
	// reject maps a recipient to the error its RCPT TO gets.
	reject map[string]*smtp.SMTPError
	// auth, when set, is the username and password the server requires.
	auth *[2]string
	srv  *smtp.Server
}

// smtpOpts configures startSMTP.
type smtpOpts struct {
	// Addr to listen on; empty picks a free port on 127.0.0.1.
	Addr string
	// Reject maps recipients to the error their RCPT TO gets.
	Reject map[string]*smtp.SMTPError
	// TLS enables STARTTLS with this configuration.
	TLS *tlsPair
	// Auth requires AUTH PLAIN with this username and password.
	Auth *[2]string
}

// startSMTP starts a server, stopped at the end of the test.
func startSMTP(t *testing.T, opts smtpOpts) *smtpServer {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", opts.Addr)
	require.NoError(t, err)
	s := &smtpServer{addr: ln.Addr().String(), reject: opts.Reject, auth: opts.Auth}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{server: s}, nil
	}))
	s.srv.Domain = "mx.test"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.ErrorLog = testLogger{t}
	if opts.TLS != nil {
		s.srv.TLSConfig = opts.TLS.server
	}
	go func() { _ = s.srv.Serve(ln) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// url is the SMTP_URL of the server, plain SMTP.
func (s *smtpServer) url() string { return "smtp://" + s.addr + "?tls=none" }

// messages returns what the server accepted so far.
func (s *smtpServer) messages() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.received...)
}

// freeAddr returns a 127.0.0.1 address nothing listens on (for "the SMTP server is down").
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

type smtpSession struct {
	server *smtpServer
	authed bool
	from   string
	to     []string
}

func (s *smtpSession) AuthMechanisms() []string {
	if s.server.auth == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if s.server.auth == nil || username != s.server.auth[0] || password != s.server.auth[1] {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.server.auth != nil && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e, ok := s.server.reject[to]; ok {
		return e
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.server.mu.Lock()
	defer s.server.mu.Unlock()
	s.server.received = append(s.server.received, receivedMail{From: s.from, To: s.to, Data: data})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// testLogger sends the SMTP server's log to the test log.
type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf("smtp server: "+format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(append([]any{"smtp server:"}, v...)...) }

// parsedMail is a received message taken apart.
type parsedMail struct {
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
}

// parseMail decodes an RFC 5322 message with a text/plain or text/html body, or a
// multipart/alternative of both.
func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	p := parsedMail{Header: msg.Header, Subject: subject}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	if !strings.HasPrefix(mediaType, "multipart/") {
		p.setPart(t, mediaType, msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		return p
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pt, _, err := mime.ParseMediaType(part.Header.Get("Content-Type"))
		require.NoError(t, err)
		p.setPart(t, pt, part.Header.Get("Content-Transfer-Encoding"), part)
	}
	return p
}

func (p *parsedMail) setPart(t *testing.T, mediaType, encoding string, r io.Reader) {
	t.Helper()
	if strings.EqualFold(encoding, "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	body, err := io.ReadAll(r)
	require.NoError(t, err)
	// The encoder ends the body with a line break of its own.
	text := strings.TrimSuffix(strings.ReplaceAll(string(body), "\r\n", "\n"), "\n")
	switch mediaType {
	case "text/plain":
		p.Text = text
	case "text/html":
		p.HTML = text
	default:
		t.Fatalf("unexpected part %s", mediaType)
	}
}
