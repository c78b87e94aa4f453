package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	mail "github.com/wneessen/go-mail"
)

// SMTPMailer sends email through an SMTP server with github.com/wneessen/go-mail. Each Send
// opens its own connection, so Sends run concurrently without sharing state.
type SMTPMailer struct {
	settings  smtpSettings
	tlsConfig *tls.Config
	timeout   time.Duration
}

// NewSMTPMailer returns a Mailer for rawURL (see Config.SMTPURL). tlsConfig may be nil (system
// roots, server name from the URL); timeout bounds each Send.
func NewSMTPMailer(rawURL string, tlsConfig *tls.Config, timeout time.Duration) (*SMTPMailer, error) {
	st, err := parseSMTPURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("smtp url: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = st.host
	}
	return &SMTPMailer{settings: st, tlsConfig: tlsConfig, timeout: timeout}, nil
}

// Send delivers e in one SMTP transaction. A 5xx reply to MAIL FROM, RCPT TO or DATA (an
// address or message the server will never accept) wraps ErrPermanent; everything else
// (connection failures, 4xx replies, timeouts, authentication) is retryable.
func (m *SMTPMailer) Send(ctx context.Context, e *Email) error {
	msg, err := buildMsg(e)
	if err != nil {
		return fmt.Errorf("%w: build message: %w", ErrPermanent, err)
	}
	client, err := m.client()
	if err != nil {
		return fmt.Errorf("%w: smtp client: %w", ErrPermanent, err)
	}
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		if permanentSMTP(err) {
			return fmt.Errorf("%w: smtp: %w", ErrPermanent, err)
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// client builds a go-mail client for one Send.
func (m *SMTPMailer) client() (*mail.Client, error) {
	st := m.settings
	opts := []mail.Option{
		mail.WithPort(st.port),
		mail.WithTimeout(m.timeout),
		mail.WithTLSConfig(m.tlsConfig),
	}
	switch st.tls {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if st.username != "" || st.password != "" {
		opts = append(opts,
			mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(st.username),
			mail.WithPassword(st.password))
	}
	return mail.NewClient(st.host, opts...)
}

// buildMsg turns e into a go-mail message with Steward's headers.
func buildMsg(e *Email) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(e.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(e.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(e.Subject)
	msg.SetMessageIDWithValue(e.MessageID())
	msg.SetDateWithValue(e.Date)
	msg.SetGenHeader(mail.Header(HeaderEmailDeliveryID), e.OutboxID.String())
	switch {
	case e.Text != "" && e.HTML != "":
		msg.SetBodyString(mail.TypeTextPlain, e.Text)
		msg.AddAlternativeString(mail.TypeTextHTML, e.HTML)
	case e.HTML != "":
		msg.SetBodyString(mail.TypeTextHTML, e.HTML)
	default:
		msg.SetBodyString(mail.TypeTextPlain, e.Text)
	}
	return msg, nil
}

// permanentSMTP reports whether err is a 5xx reply to a command about this message.
func permanentSMTP(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) || se.IsTemp() {
		return false
	}
	if se.ErrorCode() < 500 || se.ErrorCode() > 599 {
		return false
	}
	switch se.Reason {
	case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
		return true
	}
	return false
}
