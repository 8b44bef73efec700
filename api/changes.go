package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
// narrows the entries to a comma-separated list of event types.
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
	if _, _, _, err := s.Ledger.Committed(election); errors.Is(err, ledger.ErrUnknownElection) {
		fail(w, http.StatusNotFound, "%v", err)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	// Writes come from the subscription's goroutine and from the
	// keep-alive ticker. The frames are the hub's, encoded once for every
	// subscriber; they are written before the next one is taken.
	writes := make(chan []byte)
	done := make(chan error, 1)
	written := make(chan struct{})
	pass := func(b []byte) error {
		select {
		case writes <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-written:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	go func() {
		done <- s.hub.Subscribe(ctx, election, from, feed.Options{Types: types},
			func(f *feed.Frame) error { return pass(f.SSE) },
			func(c *feed.CheckpointFrame) error { return pass(c.SSE) })
	}()
	tick := time.NewTicker(SSEKeepAlive)
	defer tick.Stop()
	write := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(SSEWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write([]byte(": " + election + "\n\n")) {
		return
	}
	for {
		select {
		case b := <-writes:
			ok := write(b)
			select {
			case written <- struct{}{}:
			case <-ctx.Done():
			}
			if !ok {
				return
			}
		case <-tick.C:
			if !write([]byte(": keep-alive\n\n")) {
				return
			}
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				write([]byte(fmt.Sprintf("event: error\ndata: %q\n\n", err.Error())))
				s.Logger.Warn("change stream stopped", "election", election, "err", err)
			}
			return
		}
	}
}
