package api

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/ledger"
)

// Server-sent events.
const (
	// SSEWriteTimeout is how long one write to a subscriber may take; a
	// stuck subscriber is dropped after it, and reconnects with
	// Last-Event-ID.
	SSEWriteTimeout = 10 * time.Second
	// SSEKeepAlive is how often an idle stream gets a comment line, so
	// that proxies keep it open.
	SSEKeepAlive = 15 * time.Second
)

// changes streams an election's log as server-sent events: one event per
// entry ("event: <type>", "id: <index>", data: a feed.Change), and
// "event: checkpoint" (data: a feed.Checkpoint) after each batch. It starts
// after the Last-Event-ID header's index, or at ?from=N, or at 0; ?types=
// narrows the entries to a comma-separated list of event types, and
// ?all_from=N narrows only those before index N: from N on, every entry is
// sent. So one stream can carry a log's past corrections and then all of
// its changes, as the dashboard's page reads it.
func (s *server) changes(w http.ResponseWriter, r *http.Request) {
	election := r.PathValue("election")
	from := uint64(0)
	if v := r.URL.Query().Get("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, "from=%q is not an entry index", v)
			return
		}
		from = n
	}
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, "Last-Event-ID %q is not an entry index", v)
			return
		}
		from = n + 1
	}
	types, err := feed.ParseTypes(r.URL.Query().Get("types"))
	if err != nil {
		fail(w, http.StatusBadRequest, "types: %v", err)
		return
	}
	// With ?all_from=N the hub hands on every entry, and the entries
	// before N are narrowed to the types here.
	var allFrom uint64
	narrowed := func(*feed.Frame) bool { return false }
	if v := r.URL.Query().Get("all_from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, "all_from=%q is not an entry index", v)
			return
		}
		allFrom = n
		if only := types; len(only) > 0 {
			types = nil
			narrowed = func(f *feed.Frame) bool { return f.Index < allFrom && !slices.Contains(only, f.Type) }
		}
	}
	if _, _, _, err := s.Ledger.Committed(election); errors.Is(err, ledger.ErrUnknownElection) {
		fail(w, http.StatusNotFound, "%v", err)
		return
	}
	// Each stream holds a connection, a goroutine and a 64 KiB buffer for
	// as long as its subscriber stays: capped, so that streams cannot take
	// every connection (docs/security.md).
	if s.streams.Add(1) > int64(s.Limits.MaxStreams) {
		s.streams.Add(-1)
		w.Header().Set("Retry-After", "10")
		fail(w, http.StatusServiceUnavailable, "the ledger is serving its limit of %d change streams: retry later, or follow the feed on NATS", s.Limits.MaxStreams)
		return
	}
	defer s.streams.Add(-1)
	// The write timeout of other answers does not apply: every write below
	// has its own deadline, SSEWriteTimeout.
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	// The subscription writes on this goroutine: frames, encoded once by
	// the hub for every subscriber, go into a buffer that is flushed when
	// the subscriber has caught up, so that a step's worth of changes is
	// one write. Every write has a deadline: a stuck subscriber is dropped.
	bw := bufio.NewWriterSize(w, 64<<10)
	deadline := func() { rc.SetWriteDeadline(time.Now().Add(SSEWriteTimeout)) }
	put := func(b []byte) error {
		if bw.Available() < len(b) {
			deadline()
		}
		_, err := bw.Write(b)
		return err
	}
	flush := func() error {
		deadline()
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	if put([]byte(": "+election+"\n\n")) != nil || flush() != nil {
		return
	}
	err = s.hub.Subscribe(r.Context(), election, from, feed.Options{Types: types},
		func(f *feed.Frame) error {
			if narrowed(f) {
				return nil
			}
			return put(f.SSE)
		},
		func(c *feed.CheckpointFrame) error { return put(c.SSE) },
		func(keepAlive bool) error {
			if keepAlive {
				if err := put([]byte(": keep-alive\n\n")); err != nil {
					return err
				}
			}
			return flush()
		}, SSEKeepAlive)
	if err != nil && r.Context().Err() == nil && !isWriteError(err) {
		put([]byte(fmt.Sprintf("event: error\ndata: %q\n\n", err.Error())))
		flush()
		s.Logger.Warn("change stream stopped", "election", election, "err", err)
	}
}

// isWriteError reports whether err came from writing to the subscriber
// (gone, or too slow), which ends its stream quietly.
func isWriteError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, http.ErrHandlerTimeout)
}
