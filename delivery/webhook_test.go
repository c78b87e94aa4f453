package delivery

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/db"
)

// hookRequest is one request a hookServer received.
type hookRequest struct {
	Header http.Header
	Body   []byte
}

// hookServer is a real HTTP server that answers webhooks with scripted status codes and
// records the requests.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	requests []hookRequest
}

// startHook starts a receiver that answers with statuses in turn (the last one repeats;
// none means 204).
func startHook(t *testing.T, statuses ...int) *hookServer {
	t.Helper()
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.requests = append(h.requests, hookRequest{Header: r.Header.Clone(), Body: body})
		status := http.StatusNoContent
		if len(h.statuses) > 0 {
			status = h.statuses[0]
			if len(h.statuses) > 1 {
				h.statuses = h.statuses[1:]
			}
		}
		h.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "http://169.254.169.254/latest/meta-data/")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) received() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.requests...)
}

// devConfig lets webhooks reach the test servers on 127.0.0.1.
var devConfig = Config{AllowPrivateWebhookTargets: true}

// enqueueWebhook enqueues a webhook to url and fails the test on error.
func (b *testBundle) enqueueWebhook(t *testing.T, svc *Service, key, url string) *db.OutboxMessage {
	t.Helper()
	m, created, err := svc.EnqueueWebhook(b.ctx, b.db.Bun, b.tenant, WebhookRequest{
		IdempotencyKey: key,
		AccountID:      &b.account.ID,
		URL:            url,
		Body:           json.RawMessage(`{ "event": "play.step", "account": {"name": "Acme"} }`),
		Source:         "play_run:test/step:hook/iter:0",
	})
	require.NoError(t, err)
	require.True(t, created)
	return m
}

// requireSigned asserts r carries a valid signature of its body under secret, with the given
// delivery id, and returns its timestamp.
func requireSigned(t *testing.T, r hookRequest, secret []byte, deliveryID uuid.UUID) int64 {
	t.Helper()
	require.Equal(t, deliveryID.String(), r.Header.Get(HeaderDeliveryID))
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	ts, err := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	require.NoError(t, err)
	require.True(t, Verify(secret, ts, r.Body, r.Header.Get(HeaderSignature)), "signature %q", r.Header.Get(HeaderSignature))
	return ts
}

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	hook := startHook(t)
	b := setup(t, devConfig)
	m := b.enqueueWebhook(t, b.svc, "hook-ok", hook.URL+"/steward?x=1")
	require.Equal(t, db.OutboxPending, m.Status)

	res, err := b.svc.Deliver(b.ctx, m.ID)
	require.NoError(t, err)
	require.Equal(t, Result{Status: db.OutboxSent, Attempts: 1}, res)

	got := hook.received()
	require.Len(t, got, 1)
	require.Equal(t, `{"event":"play.step","account":{"name":"Acme"}}`, string(got[0].Body))
	secret, err := b.svc.WebhookSecret(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	require.Len(t, secret, webhookSecretSize)
	ts := requireSigned(t, got[0], secret, m.ID)
	require.Equal(t, b.clock.Now().Unix(), ts)
	require.False(t, Verify([]byte("another secret of thirty-two byte"), ts, got[0].Body, got[0].Header.Get(HeaderSignature)))

	res, err = b.svc.Deliver(b.ctx, m.ID)
	require.NoError(t, err)
	require.True(t, res.AlreadyFinal)
	require.Len(t, hook.received(), 1)
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()

	t.Run("500 then 200: two attempts with one delivery id", func(t *testing.T) {
		t.Parallel()
		hook := startHook(t, http.StatusInternalServerError, http.StatusOK)
		b := setup(t, devConfig)
		m := b.enqueueWebhook(t, b.svc, "hook-retry", hook.URL)

		res, err := b.svc.Deliver(b.ctx, m.ID)
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrPermanent)
		require.Equal(t, db.OutboxPending, res.Status)
		row := b.reload(t, m.ID)
		require.Equal(t, "HTTP 500: Internal Server Error", *row.LastError)
		require.Equal(t, 1, row.Attempts)

		b.clock.Advance(Backoff(1))
		res, err = b.svc.Deliver(b.ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, Result{Status: db.OutboxSent, Attempts: 2}, res)

		got := hook.received()
		require.Len(t, got, 2)
		secret, err := b.svc.WebhookSecret(b.ctx, b.db.Bun, b.tenant)
		require.NoError(t, err)
		ts1 := requireSigned(t, got[0], secret, m.ID)
		ts2 := requireSigned(t, got[1], secret, m.ID)
		require.Equal(t, int64(Backoff(1)/time.Second), ts2-ts1, "each attempt signs its own timestamp")
		require.Equal(t, got[0].Body, got[1].Body)
	})

	for _, tc := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusBadRequest, true},
		{http.StatusUnauthorized, true},
		{http.StatusNotFound, true},
		{http.StatusFound, true}, // redirects are not followed
		{http.StatusRequestTimeout, false},
		{http.StatusTooManyRequests, false},
		{http.StatusServiceUnavailable, false},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			t.Parallel()
			hook := startHook(t, tc.status)
			b := setup(t, devConfig)
			m := b.enqueueWebhook(t, b.svc, "hook-status", hook.URL)
			res, err := b.svc.Deliver(b.ctx, m.ID)
			require.Error(t, err)
			require.Contains(t, *b.reload(t, m.ID).LastError, "HTTP "+strconv.Itoa(tc.status))
			if !tc.permanent {
				require.NotErrorIs(t, err, ErrPermanent)
				require.Equal(t, db.OutboxPending, res.Status)
				return
			}
			require.ErrorIs(t, err, ErrPermanent)
			require.Equal(t, db.OutboxFailed, res.Status)
			res, err = b.svc.Deliver(b.ctx, m.ID)
			require.NoError(t, err)
			require.True(t, res.AlreadyFinal, "a failed webhook is not retried")
			require.Len(t, hook.received(), 1)
		})
	}
}

func TestWebhookTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	b := setup(t, Config{AllowPrivateWebhookTargets: true, WebhookTimeout: 200 * time.Millisecond})
	m := b.enqueueWebhook(t, b.svc, "hook-slow", slow.URL)

	start := time.Now()
	res, err := b.svc.Deliver(b.ctx, m.ID)
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrPermanent, "a timeout is retried")
	require.Less(t, time.Since(start), 5*time.Second)
	require.Equal(t, db.OutboxPending, res.Status)
	require.NotEmpty(t, *b.reload(t, m.ID).LastError)
}

func TestWebhookPrivateTargets(t *testing.T) {
	t.Parallel()
	hook := startHook(t)
	b := setup(t, devConfig)
	strict := b.service(t, Config{})

	t.Run("refused when enqueued", func(t *testing.T) {
		for _, u := range []string{
			hook.URL,
			"http://localhost:8080/hook",
			"http://api.localhost/hook",
			"http://169.254.169.254/latest/meta-data/",
			"http://[::1]/hook",
			"http://[::ffff:10.0.0.1]/hook",
			"http://10.1.2.3/hook",
			"http://0.0.0.0/hook",
		} {
			_, _, err := strict.EnqueueWebhook(b.ctx, b.db.Bun, b.tenant, WebhookRequest{IdempotencyKey: "private", URL: u, Body: []byte(`{}`)})
			requireInvalid(t, err, "url")
		}
	})

	t.Run("refused when dialed", func(t *testing.T) {
		// A row whose URL passed the parse-time check (here: written under the dev config)
		// still cannot reach a private address: the dialer checks the resolved address.
		m := b.enqueueWebhook(t, b.svc, "hook-private", hook.URL)
		res, err := strict.Deliver(b.ctx, m.ID)
		require.ErrorIs(t, err, ErrPermanent)
		require.ErrorIs(t, err, ErrForbiddenTarget)
		require.Equal(t, db.OutboxFailed, res.Status)
		require.Contains(t, *b.reload(t, m.ID).LastError, "127.0.0.1")
		require.Empty(t, hook.received())
	})

	t.Run("a supplied client is guarded too", func(t *testing.T) {
		withClient := b.service(t, Config{HTTPClient: &http.Client{Transport: &http.Transport{}}})
		m := b.enqueueWebhook(t, b.svc, "hook-private-client", hook.URL)
		_, err := withClient.Deliver(b.ctx, m.ID)
		require.ErrorIs(t, err, ErrForbiddenTarget)
		require.Empty(t, hook.received())

		_, err = New(b.db.Bun, Config{HTTPClient: &http.Client{Transport: roundTripFunc(nil)}})
		require.ErrorContains(t, err, "HTTPClient")
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEnqueueWebhookValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	ok := WebhookRequest{IdempotencyKey: "v", URL: "https://hooks.example.com/steward", Body: []byte(`{"a":1}`)}
	for _, tc := range []struct {
		name  string
		edit  func(*WebhookRequest)
		field string
	}{
		{"no key", func(w *WebhookRequest) { w.IdempotencyKey = "" }, "idempotencyKey"},
		{"no url", func(w *WebhookRequest) { w.URL = "" }, "url"},
		{"ftp", func(w *WebhookRequest) { w.URL = "ftp://hooks.example.com/x" }, "url"},
		{"no host", func(w *WebhookRequest) { w.URL = "https:///x" }, "url"},
		{"credentials", func(w *WebhookRequest) { w.URL = "https://user:pw@hooks.example.com/x" }, "url"},
		{"fragment", func(w *WebhookRequest) { w.URL = "https://hooks.example.com/x#frag" }, "url"},
		{"long url", func(w *WebhookRequest) { w.URL = "https://hooks.example.com/" + strings.Repeat("a", maxURLLength) }, "url"},
		{"no body", func(w *WebhookRequest) { w.Body = nil }, "body"},
		{"not json", func(w *WebhookRequest) { w.Body = []byte(`{"a":`) }, "body"},
		{"too large", func(w *WebhookRequest) {
			w.Body = []byte(`"` + strings.Repeat("x", MaxWebhookBody) + `"`)
		}, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := ok
			tc.edit(&w)
			_, _, err := b.svc.EnqueueWebhook(b.ctx, b.db.Bun, b.tenant, w)
			requireInvalid(t, err, tc.field)
		})
	}
	require.Zero(t, b.countOutbox(t))

	m, created, err := b.svc.EnqueueWebhook(b.ctx, b.db.Bun, b.tenant, ok)
	require.NoError(t, err)
	require.True(t, created)
	require.JSONEq(t, `{"url":"https://hooks.example.com/steward","body":{"a":1}}`, string(m.Payload))
	again, created, err := b.svc.EnqueueWebhook(b.ctx, b.db.Bun, b.tenant, ok)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, m.ID, again.ID)
}

func TestWebhookSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	other := setup(t, Config{})

	first, err := b.svc.WebhookSecret(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	require.Len(t, first, webhookSecretSize)
	again, err := b.svc.WebhookSecret(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	require.Equal(t, first, again, "generated once")

	theirs, err := other.svc.WebhookSecret(other.ctx, other.db.Bun, other.tenant)
	require.NoError(t, err)
	require.NotEqual(t, first, theirs, "each workspace has its own")

	rotated, err := b.svc.RotateWebhookSecret(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	require.NotEqual(t, first, rotated)
	now, err := b.svc.WebhookSecret(b.ctx, b.db.Bun, b.tenant)
	require.NoError(t, err)
	require.Equal(t, rotated, now)

	t.Run("racing first uses agree", func(t *testing.T) {
		c := setup(t, Config{})
		secrets := make([][]byte, 6)
		var wg sync.WaitGroup
		for i := range secrets {
			wg.Go(func() {
				s, err := c.svc.WebhookSecret(c.ctx, c.db.Bun, c.tenant)
				require.NoError(t, err)
				secrets[i] = s
			})
		}
		wg.Wait()
		for _, s := range secrets {
			require.Equal(t, secrets[0], s)
		}
		st, err := db.GetWorkspaceSettings(c.ctx, c.db.Bun, c.tenant)
		require.NoError(t, err)
		require.Equal(t, db.DefaultEmailDailyCapPerContact, st.EmailDailyCapPerContact, "creating the row keeps the default cap")
	})
}
