package api

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/election-audit/ledger/wire"
)

// HTTP limits: what one client, or many, can hold of the server. Each is
// documented, with the attack it answers, in docs/security.md ("HTTP:
// cannot be held hostage") and docs/api.md ("Limits").
const (
	// DefaultReadHeaderTimeout bounds the wait for a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, headers and
	// body, from its first byte (or from the connection's opening): a body
	// dribbled slower than that is cut off with 408.
	DefaultReadTimeout = 60 * time.Second
	// DefaultWriteTimeout bounds writing an answer, from its first byte:
	// a client that does not read it is disconnected. Change streams set
	// their own deadline per write (SSEWriteTimeout) instead.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = wire.DefaultIdleTimeout
	// DefaultMaxConns caps the open connections (see Listener).
	DefaultMaxConns = 4096
	// DefaultMaxStreams caps the change streams (server-sent events) open
	// at once; more get 503.
	DefaultMaxStreams = 1024
	// DefaultMaxBodyMemory caps the bytes of request bodies held at once
	// by all submissions (32 of the largest, MaxBodySize); past it a
	// submission gets 503.
	DefaultMaxBodyMemory = 32 * MaxBodySize
	// DefaultBodyGrace and DefaultMinBodyRate: after the grace period a
	// request body must have arrived at the minimum rate on average, or it
	// is cut off with 408, long before the read timeout: connections that
	// dribble bodies cannot hold every slot for a whole read timeout. The
	// rate is far below any working uplink; an honest client on a slow line
	// is bounded by the read timeout, not by it.
	DefaultBodyGrace   = 10 * time.Second
	DefaultMinBodyRate = 4 << 10 // bytes per second: 32 kbit/s, below any working uplink
	// FDReserve is how many of the process's file descriptors the
	// connection cap leaves to everything else: Pebble keeps up to 1,000
	// table files open, and JetStream and NATS take their share.
	FDReserve = 1536
)

// Limits bound the time, connections, streams and memory that clients can
// take. Zero fields take the defaults (WithDefaults).
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxConns          int
	MaxStreams        int
	MaxBodyMemory     int64
	BodyGrace         time.Duration
	MinBodyRate       int64 // bytes per second
}

// WithDefaults returns l with every zero field set to its default. It
// lowers MaxConns, if need be, to leave FDReserve of the process's file
// descriptors free (but to no less than a quarter of them), and
// MaxStreams to half of MaxConns, so that streams leave room for
// everything else.
func (l Limits) WithDefaults() Limits {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&l.ReadTimeout, DefaultReadTimeout)
	set(&l.WriteTimeout, DefaultWriteTimeout)
	set(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxConns <= 0 {
		l.MaxConns = DefaultMaxConns
	}
	if fds, ok := fileLimit(); ok && uint64(l.MaxConns)+FDReserve > fds {
		l.MaxConns = int(max(fds/4, fds-min(fds, FDReserve), 1))
	}
	if l.MaxStreams <= 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	l.MaxStreams = max(min(l.MaxStreams, l.MaxConns/2), 1)
	if l.MaxBodyMemory <= 0 {
		l.MaxBodyMemory = DefaultMaxBodyMemory
	}
	set(&l.BodyGrace, DefaultBodyGrace)
	if l.MinBodyRate <= 0 {
		l.MinBodyRate = DefaultMinBodyRate
	}
	return l
}

// writeDeadline gives each answer WriteTimeout from its first byte. The
// handlers that write for longer (the change streams) set their own
// deadlines through http.ResponseController, which reaches the
// connection through Unwrap.
func writeDeadline(h http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, timeout: timeout}, r)
	})
}

type deadlineWriter struct {
	http.ResponseWriter
	timeout time.Duration
	started bool
}

func (d *deadlineWriter) start() {
	if !d.started {
		d.started = true
		// Not supported by every ResponseWriter (httptest's recorder).
		http.NewResponseController(d.ResponseWriter).SetWriteDeadline(time.Now().Add(d.timeout))
	}
}

func (d *deadlineWriter) WriteHeader(status int) {
	d.start()
	d.ResponseWriter.WriteHeader(status)
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.start()
	return d.ResponseWriter.Write(b)
}

func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// errBodyMemory: the submissions in progress hold MaxBodyMemory already.
var errBodyMemory = errors.New("the ledger is holding its limit of request bodies in memory")

// budget counts bytes held against a maximum; it never blocks.
type budget struct {
	max  int64
	used atomic.Int64
}

func (b *budget) take(n int64) bool {
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// A request body's buffer starts at bodyStart and, each time the bytes
// that arrived fill it, grows bodyGrowth times (without a Content-Length,
// twice), so that memory follows what was sent, not what was announced.
// Growing eight times, a body of 1 MB is copied twice on the way (16 KiB
// and 128 KiB): BenchmarkReadBody.
const (
	bodyStart  = 16 << 10
	bodyGrowth = 8
)

// readBody reads a request's body, at most MaxBodySize bytes. The buffer
// grows with the bytes that arrive, never with the Content-Length
// announced, which only caps its last growth (so a body that arrives whole
// is not copied at its end). Its capacity is taken from mem; the caller
// gives back cap of the result when done with it. A body that stops
// arriving is cut off by the server's read timeout.
func readBody(w http.ResponseWriter, r *http.Request, mem *budget, lim Limits) ([]byte, error) {
	if r.ContentLength > MaxBodySize {
		return nil, &http.MaxBytesError{Limit: MaxBodySize}
	}
	// Read up to the Content-Length, or without one until EOF, or one byte
	// past the limit for MaxBytesReader to report it.
	end, growth := int64(MaxBodySize+1), int64(2)
	if r.ContentLength >= 0 {
		end, growth = r.ContentLength, bodyGrowth
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodySize)
	// The read deadline follows the bytes that arrived: the grace period,
	// then the time they take at the minimum rate, never past the read
	// timeout. (Where the writer cannot set deadlines, as in tests, only the
	// server's read timeout applies.)
	rc := http.NewResponseController(w)
	t0, last := time.Now(), time.Time{}
	deadline := func(got int) {
		if lim.MinBodyRate <= 0 {
			return
		}
		wait := lim.BodyGrace + time.Duration(int64(got)*int64(time.Second)/lim.MinBodyRate)
		if lim.ReadTimeout > 0 {
			wait = min(wait, lim.ReadTimeout)
		}
		if d := t0.Add(wait); !d.Equal(last) {
			if rc.SetReadDeadline(d) == nil {
				last = d
			}
		}
	}
	deadline(0)
	var buf []byte
	for int64(len(buf)) < end {
		if len(buf) == cap(buf) {
			n := min(end, max(growth*int64(cap(buf)), bodyStart))
			if !mem.take(n - int64(cap(buf))) {
				mem.give(int64(cap(buf)))
				return nil, errBodyMemory
			}
			grown := make([]byte, len(buf), n)
			copy(grown, buf)
			buf = grown
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		deadline(len(buf))
		if err == io.EOF {
			break
		}
		if err != nil {
			mem.give(int64(cap(buf)))
			return nil, err
		}
	}
	return buf, nil
}
