package api

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Listener is a net.Listener that keeps at most a fixed number of
// connections open, so that clients cannot take every file descriptor of
// the process. Install its ConnState method as the http.Server's.
//
// At the cap, a new connection makes room by closing the quietest
// connection that is not serving a request: an idle keep-alive, or one
// that has not yet sent a whole request, whichever has been quiet (no
// byte received, no request started or ended) the longest. So clients
// that hold connections without using them cannot lock out one that
// uses its own. If every connection is serving a request, the new one
// is answered at once with 503 and a JSON error body, and closed.
type Listener struct {
	net.Listener
	max int

	mu        sync.Mutex
	conns     map[*conn]struct{}
	inRefusal int
	closed    bool // no refusal starts after Close
	refusing  sync.WaitGroup

	evicted, refused prometheus.Counter
}

const (
	maxRefusing  = 64          // refusals answered at once; past it, connections are closed unanswered
	refuseLinger = time.Second // the longest a refusal keeps its connection
)

// LimitListener returns ln keeping at most n connections open. Its
// metrics (open connections, evictions, refusals) go to reg if not nil.
func LimitListener(ln net.Listener, n int, reg prometheus.Registerer) *Listener {
	l := &Listener{Listener: ln, max: max(n, 1), conns: map[*conn]struct{}{},
		evicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_http_connections_evicted_total",
			Help: "Quiet HTTP connections closed to make room for a new one at the connection cap."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_http_connections_refused_total",
			Help: "HTTP connections refused (503) at the cap, every open one serving a request."}),
	}
	if reg != nil {
		reg.MustRegister(l.evicted, l.refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ledger_http_connections", Help: "Open HTTP connections."},
			func() float64 { return float64(l.Open()) }))
	}
	return l
}

// Max is the cap on open connections.
func (l *Listener) Max() int { return l.max }

// Open is the number of connections open.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Accept waits for a connection and admits it, closing the quietest
// unbusy connection at the cap, or refusing it and waiting for the next
// one when every connection is busy.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c := &conn{Conn: nc, l: l}
		c.touch()
		l.mu.Lock()
		var victim *conn
		if len(l.conns) >= l.max {
			if victim = l.quietest(); victim == nil {
				l.mu.Unlock()
				l.refuse(nc)
				continue
			}
			delete(l.conns, victim)
		}
		l.conns[c] = struct{}{}
		l.mu.Unlock()
		if victim != nil {
			l.evicted.Inc()
			victim.Close()
		}
		return c, nil
	}
}

// quietest returns the unbusy connection quiet the longest, or nil.
func (l *Listener) quietest() *conn {
	var q *conn
	var since int64
	for c := range l.conns {
		if c.busy.Load() {
			continue
		}
		if t := c.quiet.Load(); q == nil || t < since {
			q, since = c, t
		}
	}
	return q
}

// refuse answers a connection 503 and closes it, without holding up
// Accept: it reads the start of the request (so that the client is
// waiting for an answer), answers, and lingers until the client closes or
// refuseLinger has passed.
func (l *Listener) refuse(nc net.Conn) {
	l.refused.Inc()
	l.mu.Lock()
	if l.closed || l.inRefusal >= maxRefusing {
		l.mu.Unlock()
		nc.Close()
		return
	}
	l.inRefusal++
	l.refusing.Add(1)
	l.mu.Unlock()
	go func() {
		defer func() {
			nc.Close()
			l.mu.Lock()
			l.inRefusal--
			l.mu.Unlock()
			l.refusing.Done()
		}()
		nc.SetDeadline(time.Now().Add(refuseLinger))
		buf := make([]byte, 4<<10)
		if _, err := nc.Read(buf); err != nil {
			return
		}
		body := fmt.Sprintf(`{"error":"the ledger is at its limit of %d connections, each serving a request: retry in a moment"}`+"\n", l.max)
		fmt.Fprintf(nc, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s", len(body), body)
		if cw, ok := nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		// Closing with unread bytes would reset the connection, and the
		// client could lose the answer.
		io.Copy(io.Discard, nc)
	}()
}

// Close closes the listener and waits for the refusals in progress.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.refusing.Wait()
	return err
}

// ConnState tracks which connections are serving a request. Install it as
// the http.Server's ConnState.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch st {
	case http.StateActive, http.StateHijacked:
		c.busy.Store(true)
	case http.StateIdle:
		c.busy.Store(false)
	}
	c.touch()
}

// conn is an admitted connection. It leaves the count on its first Close.
type conn struct {
	net.Conn
	l     *Listener
	busy  atomic.Bool  // serving a request
	quiet atomic.Int64 // when it last showed life, in Unix nanoseconds
	once  sync.Once
}

func (c *conn) touch() { c.quiet.Store(time.Now().UnixNano()) }

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.touch()
	}
	return n, err
}

// CloseWrite lets net/http half-close the connection after an answer, so
// that unread request bytes do not reset it before the client reads the
// answer.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
