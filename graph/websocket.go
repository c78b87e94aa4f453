package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/stewardhq/steward/auth"
)

// Close codes of the graphql-transport-ws protocol (github.com/enisdenjo/graphql-ws,
// PROTOCOL.md) and when Steward uses them. gqlgen's transport closes with 1002 where the
// protocol wants these, so wsGuard enforces them on the socket itself.
const (
	// CloseBadRequest (4400): a message that is not valid JSON, has no known type, or a
	// subscribe without an id.
	CloseBadRequest = 4400
	// CloseUnauthorized (4401): subscribe before connection_ack.
	CloseUnauthorized = 4401
	// CloseForbidden (4403): connection_init without a valid credential, and an access
	// token that expires while the connection is open. graphql-ws clients retry 4403 (their
	// connectionParams can fetch a fresh token) while 4401 is fatal to them.
	CloseForbidden = 4403
	// CloseInitTimeout (4408): no connection_init within the init timeout.
	CloseInitTimeout = 4408
	// CloseDuplicateSubscriber (4409): subscribe with the id of a running subscription.
	CloseDuplicateSubscriber = 4409
	// CloseTooManyInits (4429): a second connection_init.
	CloseTooManyInits = 4429
)

// Defaults of the websocket limits.
const (
	DefaultWSInitTimeout      = 10 * time.Second
	DefaultWSMaxSubscriptions = 100
	DefaultWSPingInterval     = 15 * time.Second
)

const transportWSProtocol = "graphql-transport-ws"

// wsConnKey carries a connection's guard from the upgrade request to the InitFunc (gqlgen
// hands InitFunc the upgrade request's context).
type wsConnKey struct{}

// withWSGuardSlot gives a websocket upgrade request a slot the guard fills on Accept.
func withWSGuardSlot(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			r = r.WithContext(context.WithValue(r.Context(), wsConnKey{}, new(*wsGuard)))
		}
		next.ServeHTTP(w, r)
	})
}

func guardFrom(ctx context.Context) *wsGuard {
	if slot, ok := ctx.Value(wsConnKey{}).(**wsGuard); ok {
		return *slot
	}
	return nil
}

// wsInit authenticates connection_init: {"authorization": "Bearer <access token or API
// key>"} (a credential in the upgrade request's Authorization header also counts). No valid
// credential closes with 4403. An access token closes the connection with 4403 when it
// expires.
func wsInit(authn *auth.Service) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		refuse := func(msg string) (context.Context, *transport.InitPayload, error) {
			ctx = transport.WithWebsocketCloseCode(ctx, CloseForbidden)
			return transport.AppendCloseReason(ctx, "Forbidden: "+msg), nil, errors.New(msg)
		}
		v, ok := auth.ViewerFrom(ctx)
		if bearer := p.Authorization(); bearer != "" {
			token, found := strings.CutPrefix(bearer, "Bearer ")
			if !found || authn == nil {
				return refuse("authorization must be \"Bearer <token>\"")
			}
			var err error
			if v, err = authn.Authenticate(ctx, strings.TrimSpace(token)); err != nil {
				return refuse("invalid credential")
			}
			ok = true
		}
		if !ok {
			return refuse("connection_init needs {\"authorization\": \"Bearer <token>\"}")
		}
		if !v.ExpiresAt.IsZero() {
			if g := guardFrom(ctx); g != nil {
				g.closeAt(v.ExpiresAt, CloseForbidden, "Forbidden: token expired")
			}
		}
		return auth.WithViewer(ctx, v), nil, nil
	}
}

// WSConnections tracks the open graphql-transport-ws connections, so that shutdown can close
// them with a clean code (http.Server.Shutdown does not close hijacked connections). The zero
// value is ready to use.
type WSConnections struct {
	mu    sync.Mutex
	conns map[*wsGuard]struct{}
}

func (w *WSConnections) add(g *wsGuard) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.conns == nil {
		w.conns = map[*wsGuard]struct{}{}
	}
	w.conns[g] = struct{}{}
}

func (w *WSConnections) remove(g *wsGuard) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.conns, g)
}

// Len returns how many connections are open.
func (w *WSConnections) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.conns)
}

// CloseAll closes every open connection with code and reason and returns how many it closed.
// 1012 (service restart) and 1001 (going away) are codes graphql-ws clients retry.
func (w *WSConnections) CloseAll(code int, reason string) int {
	w.mu.Lock()
	conns := make([]*wsGuard, 0, len(w.conns))
	for g := range w.conns {
		conns = append(conns, g)
	}
	w.mu.Unlock()
	for _, g := range conns {
		g.closeWith(code, reason)
	}
	return len(conns)
}

// wsGuardImplementation accepts websockets through coder/websocket and wraps each
// graphql-transport-ws connection in a wsGuard.
type wsGuardImplementation struct {
	inner            transport.CoderWebsocketImplementation
	initTimeout      time.Duration
	maxSubscriptions int
	conns            *WSConnections
}

func (g wsGuardImplementation) Accept(w http.ResponseWriter, r *http.Request, o transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := g.inner.Accept(w, r, o)
	if err != nil || conn.Subprotocol() != transportWSProtocol {
		return conn, err
	}
	guard := &wsGuard{WebsocketConn: conn, max: g.maxSubscriptions, active: map[string]struct{}{}, conns: g.conns}
	g.conns.add(guard)
	guard.initTimer = time.AfterFunc(g.initTimeout, func() {
		guard.mu.Lock()
		seen := guard.initSeen
		guard.mu.Unlock()
		if !seen {
			guard.closeWith(CloseInitTimeout, "Connection initialisation timeout")
		}
	})
	if slot, ok := r.Context().Value(wsConnKey{}).(**wsGuard); ok {
		*slot = guard
	}
	return guard, nil
}

// wsGuard enforces graphql-transport-ws's rules that gqlgen's transport does not: it reads
// each client message before gqlgen does and closes the socket with the protocol's code
// (see the Close* constants), caps running subscriptions per connection (a subscribe over
// the cap is answered with an error message for its id, the connection stays up), and closes
// the connection when its credential expires.
type wsGuard struct {
	transport.WebsocketConn
	max   int
	conns *WSConnections

	mu        sync.Mutex
	initSeen  bool
	acked     bool
	closed    bool
	active    map[string]struct{}
	initTimer *time.Timer
	expiry    *time.Timer
}

// errGuardClosed ends gqlgen's read loop after the guard closed the socket.
var errGuardClosed = transport.ErrWebsocketClosed

type wsMessage struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

var clientMessageTypes = map[string]bool{
	"connection_init": true, "subscribe": true, "complete": true, "ping": true, "pong": true,
}

// NextReader reads the next client message and checks it against the protocol.
func (g *wsGuard) NextReader() (int, io.Reader, error) {
	for {
		mt, r, err := g.WebsocketConn.NextReader()
		if err != nil {
			return mt, r, err
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return mt, nil, err
		}
		var m wsMessage
		if json.Unmarshal(data, &m) != nil || !clientMessageTypes[m.Type] {
			return g.fail(CloseBadRequest, "Invalid message received")
		}
		code, reason, skip := g.check(m)
		if code != 0 {
			return g.fail(code, reason)
		}
		if skip {
			continue
		}
		return mt, bytes.NewReader(data), nil
	}
}

// check applies the protocol to one client message: a close code and reason, or skip for a
// subscribe refused by the cap (already answered).
func (g *wsGuard) check(m wsMessage) (code int, reason string, skip bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch m.Type {
	case "connection_init":
		if g.initSeen {
			return CloseTooManyInits, "Too many initialisation requests", false
		}
		g.initSeen = true
		g.initTimer.Stop()
	case "subscribe":
		switch {
		case !g.acked:
			return CloseUnauthorized, "Unauthorized", false
		case m.ID == "":
			return CloseBadRequest, "Invalid message received", false
		}
		if _, dup := g.active[m.ID]; dup {
			return CloseDuplicateSubscriber, "Subscriber for " + m.ID + " already exists", false
		}
		if len(g.active) >= g.max {
			g.refuseLocked(m.ID)
			return 0, "", true
		}
		g.active[m.ID] = struct{}{}
	case "complete":
		delete(g.active, m.ID)
	}
	return 0, "", false
}

// refuseLocked answers a subscribe over the cap with an error message for its id.
func (g *wsGuard) refuseLocked(id string) {
	payload, _ := json.Marshal([]map[string]any{{
		"message":    fmt.Sprintf("too many subscriptions on this connection (at most %d)", g.max),
		"extensions": map[string]any{"code": CodeRateLimited},
	}})
	msg, _ := json.Marshal(map[string]any{"id": id, "type": "error", "payload": json.RawMessage(payload)})
	_ = g.WebsocketConn.WriteJSON(json.RawMessage(msg))
}

// WriteJSON notes the acknowledgement and the end of subscriptions, then sends v.
func (g *wsGuard) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m wsMessage
	if err := json.Unmarshal(data, &m); err == nil {
		switch m.Type {
		case "connection_ack":
			g.mu.Lock()
			g.acked = true
			g.mu.Unlock()
		case "complete", "error":
			g.mu.Lock()
			delete(g.active, m.ID)
			g.mu.Unlock()
		}
	}
	return g.WebsocketConn.WriteJSON(json.RawMessage(data))
}

// fail closes the socket with code and ends gqlgen's read loop.
func (g *wsGuard) fail(code int, reason string) (int, io.Reader, error) {
	g.closeWith(code, reason)
	return 0, nil, errGuardClosed
}

// closeWith sends the close frame with code (the first close wins: gqlgen's own later close
// is ignored by the coder adapter) and closes the socket, which ends every read.
func (g *wsGuard) closeWith(code int, reason string) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.mu.Unlock()
	_ = g.WebsocketConn.WriteClose(code, reason)
}

// closeAt closes the connection with code at t.
func (g *wsGuard) closeAt(t time.Time, code int, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.expiry != nil {
		g.expiry.Stop()
	}
	g.expiry = time.AfterFunc(time.Until(t), func() { g.closeWith(code, reason) })
}

// Close stops the guard's timers and closes the socket.
func (g *wsGuard) Close() error {
	g.mu.Lock()
	g.closed = true
	g.initTimer.Stop()
	if g.expiry != nil {
		g.expiry.Stop()
	}
	g.mu.Unlock()
	g.conns.remove(g)
	return g.WebsocketConn.Close()
}

// WriteClose is gqlgen's close; it also marks the guard closed so timers do nothing.
func (g *wsGuard) WriteClose(code int, reason string) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return g.WebsocketConn.WriteClose(code, reason)
}

// SetReadLimit passes gqlgen's read limit on to the socket.
func (g *wsGuard) SetReadLimit(limit int64) {
	if l, ok := g.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline passes gqlgen's ping/pong deadline on to the socket.
func (g *wsGuard) SetReadDeadline(t time.Time) error {
	if d, ok := g.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
