package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
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
	// submission gets 503. A body is charged what arrived of it (rounded
	// up to bodyChunk), never what its Content-Length announced.
	DefaultMaxBodyMemory = 32 * MaxBodySize
	// DefaultBodyGrace and DefaultMinBodyRate: after the grace period a
	// request body must have arrived at the minimum rate on average, and
	// no pause between its bytes may last longer than the grace period, or
	// it is cut off with 408, long before the read timeout: connections
	// that dribble bodies, or send part of one and stall, cannot hold
	// every slot, or the memory of bodies, for a whole read timeout. The
	// rate is far below any working uplink; an honest client on a slow
	// line is bounded by the read timeout, not by it.
	DefaultBodyGrace   = 10 * time.Second
	DefaultMinBodyRate = 4 << 10 // bytes per second: 32 kbit/s, below any working uplink
	// DefaultMaxTallyBuilds caps the documents replayed from the log (an
	// as-of tally, a NIST report, the dashboard's series) built at once;
	// the current tally is built one at a time besides, so that replays
	// cannot hold it up. Each build of the largest tally a manifest may
	// declare takes about 120 MB of RSS for a moment (docs/security.md),
	// and reads are public: without the cap, 40 concurrent reads of one
	// took a ledger to 5.4 GB.
	DefaultMaxTallyBuilds = 2
	// DefaultTallyWait is how long a tally read waits for a build slot
	// before it gets 503 with Retry-After.
	DefaultTallyWait = 10 * time.Second
	// DefaultTallyCache caps the bytes of built documents kept to answer
	// the next identical read: the latest of each election and kind, the
	// least recently read dropped first.
	DefaultTallyCache = 128 << 20
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
	// MaxTallyBuilds, TallyWait and TallyCache bound the whole-tally
	// documents built at once, the wait for a build, and the documents
	// kept (see tallies.go).
	MaxTallyBuilds int
	TallyWait      time.Duration
	TallyCache     int64 // bytes
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
	if l.MaxTallyBuilds <= 0 {
		l.MaxTallyBuilds = DefaultMaxTallyBuilds
	}
	set(&l.TallyWait, DefaultTallyWait)
	if l.TallyCache <= 0 {
		l.TallyCache = DefaultTallyCache
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

// A request body is read into chunks: the first of bodyStart bytes (or of
// its Content-Length, if smaller), then of bodyChunk, each allocated and
// taken from the budget only when the bytes received have filled the one
// before. So a body holds at most bodyChunk bytes more than what arrived of
// it, whatever it announced: 32 connections that announce 8 MiB, send
// 1 MiB and stall hold 32.5 MiB, not the 256 MiB of the budget. Once
// whole, a body longer than its first chunk is copied into one buffer of
// its exact length (taken from the budget too, for that moment), and its
// chunks go back to a pool for the next bodies: a body of 1,000 events
// (1 MB) costs about what it did when the buffer grew eightfold
// (BenchmarkReadBody).
const (
	bodyStart = 16 << 10
	bodyChunk = 64 << 10
)

// chunks keeps the chunks of bodyChunk bytes of bodies read, for the next
// ones: a body's chunks are garbage once it is whole.
var chunks = sync.Pool{New: func() any { return new([bodyChunk]byte) }}

// chunk returns a chunk of n bytes, empty: from the pool when n is
// bodyChunk (its bytes are not cleared; only what is read into it is
// ever used).
func chunk(n int64) []byte {
	if n == bodyChunk {
		return chunks.Get().(*[bodyChunk]byte)[:0]
	}
	return make([]byte, 0, n)
}

// recycle gives chunks of bodyChunk bytes back to the pool.
func recycle(cs [][]byte) {
	for _, c := range cs {
		if cap(c) == bodyChunk {
			chunks.Put((*[bodyChunk]byte)(c[:bodyChunk]))
		}
	}
}

// readBody reads a request's body, at most MaxBodySize bytes. Memory
// follows the bytes that arrive, never the Content-Length announced, which
// only sizes the last chunk. What it holds is taken from mem; the caller
// gives back cap of the result when done with it. A body is cut off when
// it arrives slower than lim allows: below MinBodyRate on average after
// BodyGrace, with a pause longer than BodyGrace, or not whole within the
// read timeout.
func readBody(w http.ResponseWriter, r *http.Request, mem *budget, lim Limits) ([]byte, error) {
	if r.ContentLength > MaxBodySize {
		return nil, &http.MaxBytesError{Limit: MaxBodySize}
	}
	// Read up to the Content-Length, or without one until EOF, or one byte
	// past the limit for MaxBytesReader to report it.
	end := int64(MaxBodySize + 1)
	if r.ContentLength >= 0 {
		end = r.ContentLength
	}
	body := http.MaxBytesReader(w, r.Body, MaxBodySize)
	// The read deadline follows the bytes that arrived: the grace period,
	// then the time they take at the minimum rate, but never more than the
	// grace period after the last of them, nor past the read timeout. (Where
	// the writer cannot set deadlines, as in tests, only the server's read
	// timeout applies.)
	rc := http.NewResponseController(w)
	t0, last := time.Now(), time.Time{}
	got := int64(0)
	deadline := func(arrived time.Time) {
		if lim.MinBodyRate <= 0 {
			return
		}
		d := t0.Add(lim.BodyGrace + time.Duration(got*int64(time.Second)/lim.MinBodyRate))
		if stall := arrived.Add(lim.BodyGrace); stall.Before(d) {
			d = stall
		}
		if lim.ReadTimeout > 0 {
			if whole := t0.Add(lim.ReadTimeout); whole.Before(d) {
				d = whole
			}
		}
		if !d.Equal(last) && rc.SetReadDeadline(d) == nil {
			last = d
		}
	}
	deadline(t0)
	var (
		full [][]byte // chunks filled
		cur  []byte   // the chunk being filled
		held int64    // taken from mem
	)
	for got < end {
		if len(cur) == cap(cur) {
			n := int64(bodyChunk)
			if cur == nil {
				n = bodyStart
			} else {
				full = append(full, cur)
			}
			n = min(n, end-got)
			if !mem.take(n) {
				mem.give(held)
				recycle(full)
				return nil, errBodyMemory
			}
			held += n
			cur = chunk(n)
		}
		n, err := body.Read(cur[len(cur):cap(cur)])
		cur = cur[:len(cur)+n]
		if n > 0 {
			got += int64(n)
			deadline(time.Now())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			mem.give(held)
			recycle(append(full, cur))
			return nil, err
		}
	}
	// The body is whole: what comes next on the connection (the next
	// request) is the server's to time, and a deadline left in force would
	// cancel the request's context while it waits for the log.
	if !last.IsZero() {
		rc.SetReadDeadline(time.Time{})
	}
	if len(full) == 0 {
		return cur, nil // held == cap(cur)
	}
	if !mem.take(got) {
		mem.give(held)
		recycle(append(full, cur))
		return nil, errBodyMemory
	}
	// bytes.Join allocates its result without zeroing it first.
	full = append(full, cur)
	whole := bytes.Join(full, nil)
	recycle(full)
	mem.give(held)
	return whole, nil
}
