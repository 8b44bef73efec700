package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Whole-tally documents (the current tally, as JSON or a table; an as-of
// tally; a NIST report; the dashboard's series) are built whole, in
// memory, from the projection or by replaying the log: the largest a
// manifest may declare (events.MaxTallyNumbers) is an 18–40 MB document
// whose build takes about 120 MB of RSS. Reads are public, so every build
// is bounded here:
//
//   - identical requests share one build: those for the same election,
//     kind of document (and query, for the series) and log size wait for
//     the build in progress instead of starting their own; and requests
//     for the current tally or the series, while the log grows, wait for
//     the one build queued for a slot, which reads the log when it starts;
//   - the latest document of each election and kind is kept, up to
//     Limits.TallyCache bytes in all, and answers the next identical
//     request until the log grows;
//   - at most Limits.MaxTallyBuilds replays (as-of, NIST, series) run at
//     once, and one build of a current tally besides, so that replays
//     cannot hold up the current tally; a request that gets no slot within
//     Limits.TallyWait is answered 503 with Retry-After.
//
// So however many reads come at once, at most MaxTallyBuilds + 1 builds
// take memory, besides the documents kept (docs/security.md, "Memory:
// bounded by what was reported").

// Kinds of whole-tally documents.
const (
	docTally  = "tally"  // the current tally, JSON
	docTable  = "table"  // the current tally, a table
	docAsOf   = "as-of"  // audit.TallyDocument
	docNIST   = "nist"   // audit.NISTReport
	docSeries = "series" // the dashboard's series
)

// TallyRetryAfter is the Retry-After, in seconds, of a tally read that got
// no build slot in time.
const TallyRetryAfter = 5

// errTallyBusy: no build slot came free within the wait.
var errTallyBusy = errors.New("the ledger is building its limit of tally documents at once")

// tallyDoc is a built answer: its bytes and what they describe.
type tallyDoc struct {
	size    uint64 // the log size it describes
	variant string // the query it answers (the series'), else ""
	status  int
	header  http.Header // of the answer; never changed once built
	body    []byte
	used    time.Time // last served from the cache; guarded by tallies.mu
}

// flightKey names one build: requests with the same key share it. For the
// documents of the latest log (latest), the key of a build has size 0.
type flightKey struct {
	election, kind, variant string
	size                    uint64
}

type cacheKey struct{ election, kind string }

// latest reports whether a kind of document describes the log as the build
// finds it (the current tally, the series), rather than at a size asked
// for (as-of, NIST).
func latest(kind string) bool { return kind == docTally || kind == docTable || kind == docSeries }

type flight struct {
	done chan struct{} // closed when doc or err is set
	doc  *tallyDoc
	err  error
	// atLeast is the largest committed size that a request waiting on a
	// build of the latest log saw; guarded by tallies.mu, and fixed once the
	// build starts. The build reads the log after every such request saw
	// it, so its document is at least at that size.
	atLeast uint64
}

// tallies shares, caches and bounds the builds of whole-tally documents.
type tallies struct {
	current chan struct{} // a slot for a build of a current tally
	replays chan struct{} // MaxTallyBuilds slots for replays
	wait    time.Duration
	max     int64 // bytes of documents kept

	mu sync.Mutex
	// flights are the builds in progress; queued, the builds of the latest
	// log waiting for a slot, at most one per key.
	flights, queued map[flightKey]*flight
	cache           map[cacheKey]*tallyDoc
	bytes           int64 // of the documents in cache
}

func newTallies(lim Limits) *tallies {
	return &tallies{
		current: make(chan struct{}, 1), replays: make(chan struct{}, lim.MaxTallyBuilds),
		wait: lim.TallyWait, max: lim.TallyCache,
		flights: map[flightKey]*flight{}, queued: map[flightKey]*flight{}, cache: map[cacheKey]*tallyDoc{},
	}
}

// get returns the document that key asks for: of the log at key.size, or
// for a latest kind at key.size or later (key.size is then the committed
// size the request saw). It comes from the cache if the kept document
// will do; else from the build in progress, if that one will do; else,
// for a latest kind, from the build queued for a slot, which reads the log
// only when it starts (so that, while the log grows, requests share one
// build rather than each wanting its own); else from a new build. A build
// runs in its own goroutine, so that requests that leave do not stop it
// for those that wait; build gets the size its document must be at least
// at. get returns errTallyBusy when the build got no slot in time, and
// ctx's error when ctx ends first.
func (ts *tallies) get(ctx context.Context, key flightKey, build func(atLeast uint64) (*tallyDoc, error)) (*tallyDoc, error) {
	ts.mu.Lock()
	if d := ts.cache[cacheKey{key.election, key.kind}]; d != nil && d.variant == key.variant &&
		(d.size == key.size || latest(key.kind) && d.size > key.size) {
		d.used = time.Now()
		ts.mu.Unlock()
		return d, nil
	}
	var f *flight
	if latest(key.kind) {
		k := key
		k.size = 0
		switch r, q := ts.flights[k], ts.queued[k]; {
		case r != nil && r.atLeast >= key.size:
			f = r
		case q != nil:
			f = q
			f.atLeast = max(f.atLeast, key.size)
		default:
			f = &flight{done: make(chan struct{}), atLeast: key.size}
			ts.queued[k] = f
			go ts.run(k, f, build)
		}
	} else if f = ts.flights[key]; f == nil {
		f = &flight{done: make(chan struct{}), atLeast: key.size}
		ts.flights[key] = f
		go ts.run(key, f, build)
	}
	ts.mu.Unlock()
	select {
	case <-f.done:
		return f.doc, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run builds f's document in a slot, keeps it, and ends the flight.
func (ts *tallies) run(key flightKey, f *flight, build func(atLeast uint64) (*tallyDoc, error)) {
	defer close(f.done)
	slots := ts.replays
	if key.kind == docTally || key.kind == docTable {
		slots = ts.current
	}
	// forget removes f from the builds queued or in progress.
	forget := func() {
		if ts.queued[key] == f {
			delete(ts.queued, key)
		}
		if ts.flights[key] == f {
			delete(ts.flights, key)
		}
	}
	t := time.NewTimer(ts.wait)
	select {
	case slots <- struct{}{}:
		t.Stop()
		defer func() { <-slots }()
	case <-t.C:
		ts.mu.Lock()
		forget()
		ts.mu.Unlock()
		f.err = errTallyBusy
		return
	}
	ts.mu.Lock()
	forget()
	ts.flights[key] = f // in progress: its atLeast no longer changes
	atLeast := f.atLeast
	ts.mu.Unlock()
	f.doc, f.err = protect(func() (*tallyDoc, error) { return build(atLeast) })
	ts.mu.Lock()
	defer ts.mu.Unlock()
	forget()
	if f.err == nil && f.doc.status == http.StatusOK {
		ts.keep(cacheKey{key.election, key.kind}, f.doc)
	}
}

// protect calls build, turning a panic into an error: the build runs on a
// goroutine of its own, where net/http's recovery does not reach.
func protect(build func() (*tallyDoc, error)) (d *tallyDoc, err error) {
	defer func() {
		if p := recover(); p != nil {
			d, err = nil, fmt.Errorf("building the document failed: %v", p)
		}
	}()
	return build()
}

// keep puts d in the cache in place of its election and kind's document,
// unless that one describes a larger log, and drops the least recently
// used documents while the cache holds more than its limit.
func (ts *tallies) keep(k cacheKey, d *tallyDoc) {
	if int64(len(d.body)) > ts.max {
		return
	}
	if old := ts.cache[k]; old != nil {
		if old.size > d.size {
			return
		}
		ts.bytes -= int64(len(old.body))
	}
	d.used = time.Now()
	ts.cache[k] = d
	ts.bytes += int64(len(d.body))
	for ts.bytes > ts.max {
		var oldest cacheKey
		var at time.Time
		for ck, cd := range ts.cache {
			if ck != k && (at.IsZero() || cd.used.Before(at)) {
				oldest, at = ck, cd.used
			}
		}
		ts.bytes -= int64(len(ts.cache[oldest].body))
		delete(ts.cache, oldest)
	}
}

// serveDoc answers a request with a built document, or with the error of
// its build: a busy ledger or a request gone (503), or else onErr's answer.
func serveDoc(w http.ResponseWriter, d *tallyDoc, err error, onErr func(error)) {
	switch {
	case errors.Is(err, errTallyBusy):
		w.Header().Set("Retry-After", strconv.Itoa(TallyRetryAfter))
		fail(w, http.StatusServiceUnavailable, "%v: retry in a moment", err)
		return
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		fail(w, http.StatusServiceUnavailable, "the request ended before its document was built: %v", err)
		return
	case err != nil:
		onErr(err)
		return
	}
	for k, v := range d.header {
		w.Header()[k] = v
	}
	w.WriteHeader(d.status)
	w.Write(d.body)
}

// recorder keeps an answer written by a handler, as a document.
type recorder struct {
	header http.Header
	doc    tallyDoc
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.doc.status == 0 {
		r.doc.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.doc.body = append(r.doc.body, b...)
	return len(b), nil
}

// shared serves h's answers through the tally builds, as documents of
// the latest log: requests for the same election and query share one build
// and its kept answer until the log grows, and builds wait for a replay
// slot. For a handler that builds whole tallies by replaying the log (the
// dashboard's series), answering about the log as it finds it.
func (s *server) shared(kind string, h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		election := r.PathValue("election")
		_, size, err := s.Ledger.Checkpoint(election)
		if err != nil {
			s.lookupFailed(w, err)
			return
		}
		key := flightKey{election: election, kind: kind, variant: r.URL.Query().Encode(), size: size}
		// The build may outlive the request: it answers a copy that does
		// not end with it.
		req := r.Clone(context.WithoutCancel(r.Context()))
		d, err := s.tallies.get(r.Context(), key, func(atLeast uint64) (*tallyDoc, error) {
			rec := &recorder{header: http.Header{}}
			h.ServeHTTP(rec, req)
			rec.doc.size, rec.doc.variant, rec.doc.header = atLeast, key.variant, rec.header
			if rec.doc.status == 0 {
				rec.doc.status = http.StatusOK
			}
			return &rec.doc, nil
		})
		serveDoc(w, d, err, func(err error) { fail(w, http.StatusInternalServerError, "%v", err) })
	}
}

// newDoc returns a document of a 200 answer.
func newDoc(size uint64, contentType string, body []byte) *tallyDoc {
	return &tallyDoc{size: size, status: http.StatusOK, header: http.Header{"Content-Type": {contentType}}, body: body}
}
