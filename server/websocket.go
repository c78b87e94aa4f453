package server

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// Close codes sent to websocket clients when the server stops them.
const (
	// closeGoingAway is RFC 6455's 1001: the server is going down. graphql-ws clients treat it
	// as retryable and reconnect (to another process behind the load balancer), resuming their
	// subscriptions by cursor.
	closeGoingAway = 1001
	// closeGoingAwayReason is the close frame's reason text.
	closeGoingAwayReason = "server shutting down"
)

// websockets tracks the websocket connections of one server so that shutdown can close them.
// http.Server.Shutdown does not: a websocket is a hijacked connection the server no longer
// sees, and its handler (the graphql-transport-ws loop) would run until the client leaves.
//
// It has two halves: wrap decorates how the GraphQL transport accepts connections (so the
// tracker holds each one and can send it a close frame), and handlers counts upgrade requests
// still inside their handler (so shutdown knows when every subscription has finished).
type websockets struct {
	mu       sync.Mutex
	conns    map[*trackedConn]struct{}
	closing  bool
	handlers int
	idle     chan struct{} // closed when handlers drops to zero while closing
}

func newWebsockets() *websockets {
	return &websockets{conns: map[*trackedConn]struct{}{}, idle: make(chan struct{})}
}

// wrap returns impl with every accepted connection tracked. A connection accepted after
// shutdown began is closed at once.
func (ws *websockets) wrap(impl transport.WebsocketImplementation) transport.WebsocketImplementation {
	return trackingImplementation{inner: impl, ws: ws}
}

type connSlotKey struct{}

// connSlot carries the connection accepted by one upgrade request from Accept back to the
// handler that counts it, which forgets it when the handler returns.
type connSlot struct{ conn *trackedConn }

// handler counts the websocket upgrade requests inside next and forgets their connection when
// they return (the transport's loop has ended then, whatever closed it).
func (ws *websockets) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			next.ServeHTTP(w, r)
			return
		}
		slot := &connSlot{}
		ws.mu.Lock()
		ws.handlers++
		ws.mu.Unlock()
		defer func() {
			ws.mu.Lock()
			if slot.conn != nil {
				delete(ws.conns, slot.conn)
			}
			ws.handlers--
			if ws.handlers == 0 && ws.closing {
				close(ws.idle)
			}
			ws.mu.Unlock()
		}()
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), connSlotKey{}, slot)))
	})
}

// shutdown sends every open connection a close frame with 1001 (going away) and waits until
// every upgrade handler has returned or ctx ends; then it drops what is left without a
// handshake and returns ctx's error.
func (ws *websockets) shutdown(ctx context.Context) error {
	ws.mu.Lock()
	if ws.closing {
		ws.mu.Unlock()
		return nil
	}
	ws.closing = true
	if ws.handlers == 0 {
		close(ws.idle)
	}
	open := make([]*trackedConn, 0, len(ws.conns))
	for c := range ws.conns {
		open = append(open, c)
	}
	ws.mu.Unlock()
	for _, c := range open {
		// The adapter runs the close handshake in the background; the transport's read loop
		// then ends and cancels the connection's subscriptions.
		_ = c.WriteClose(closeGoingAway, closeGoingAwayReason)
	}
	select {
	case <-ws.idle:
		return nil
	case <-ctx.Done():
	}
	ws.mu.Lock()
	for c := range ws.conns {
		_ = c.WebsocketConn.Close()
	}
	ws.mu.Unlock()
	return ctx.Err()
}

// open reports how many connections are tracked (for metrics and tests).
func (ws *websockets) open() int {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.conns)
}

func (ws *websockets) add(c *trackedConn) (closing bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.conns[c] = struct{}{}
	return ws.closing
}

func (ws *websockets) remove(c *trackedConn) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	delete(ws.conns, c)
}

type trackingImplementation struct {
	inner transport.WebsocketImplementation
	ws    *websockets
}

func (t trackingImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := t.inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	c := &trackedConn{WebsocketConn: conn, ws: t.ws}
	if slot, ok := r.Context().Value(connSlotKey{}).(*connSlot); ok {
		slot.conn = c
	}
	if t.ws.add(c) {
		_ = c.WriteClose(closeGoingAway, closeGoingAwayReason)
	}
	return c, nil
}

// trackedConn is an accepted connection that leaves the tracker when the transport closes it
// (or its upgrade handler returns).
// It keeps the optional read limit and read deadline of the connection it wraps.
type trackedConn struct {
	transport.WebsocketConn
	ws   *websockets
	once sync.Once
}

var (
	_ transport.WebsocketReadLimiter   = (*trackedConn)(nil)
	_ transport.WebsocketReadDeadliner = (*trackedConn)(nil)
	_ io.Closer                        = (*trackedConn)(nil)
)

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.ws.remove(c) })
	return c.WebsocketConn.Close()
}

func (c *trackedConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

func (c *trackedConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
