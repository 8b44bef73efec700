package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/election-audit/ledger/events"
)

// Hub serves many subscribers of the same elections from one reader per
// election: each new entry is read, decoded and encoded once, into a ring
// of recent frames bounded in bytes, and every subscriber copies the
// frames it has not sent yet. A subscriber that starts before the ring, or
// falls so far behind that the ring has moved on, reads those entries from
// the database itself, at its own pace, then joins the ring. So the cost
// of a subscriber that keeps up is one write of bytes already encoded, and
// the server's memory does not grow with slow or stuck subscribers.
//
// A reader runs while its election has subscribers.
type Hub struct {
	src      Source
	maxBytes int

	mu    sync.Mutex
	rings map[string]*ring
}

// DefaultHubBytes bounds each election's ring of recent frames.
const DefaultHubBytes = 16 << 20

// NewHub returns a hub over src whose rings hold at most maxBytes of frames
// each (DefaultHubBytes if 0).
func NewHub(src Source, maxBytes int) *Hub {
	if maxBytes <= 0 {
		maxBytes = DefaultHubBytes
	}
	return &Hub{src: src, maxBytes: maxBytes, rings: map[string]*ring{}}
}

// Frame is one change, encoded: its JSON (a [Change]) and the same as one
// server-sent event.
type Frame struct {
	Index uint64
	Type  events.Type
	JSON  []byte
	SSE   []byte // "id: …\nevent: …\ndata: …\n\n"
}

// CheckpointFrame is a checkpoint, encoded likewise.
type CheckpointFrame struct {
	TreeSize uint64
	JSON     []byte
	SSE      []byte // "event: checkpoint\ndata: …\n\n"
}

type ring struct {
	mu     sync.Mutex
	frames []Frame // frames[i] has index start+i
	start  uint64
	bytes  int
	cp     *CheckpointFrame
	err    error         // the reader's, once it stopped
	notify chan struct{} // closed and replaced on every change

	users  int
	cancel context.CancelFunc
}

func (r *ring) wake() {
	close(r.notify)
	r.notify = make(chan struct{})
}

// join returns the election's ring, starting its reader if it has none.
func (h *Hub) join(election string) (*ring, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rings[election]; r != nil {
		r.users++
		return r, nil
	}
	size, _, _, err := h.src.Committed(election)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &ring{start: size, notify: make(chan struct{}), users: 1, cancel: cancel}
	h.rings[election] = r
	go h.read(ctx, election, r)
	return r, nil
}

func (h *Hub) leave(election string, r *ring) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.users--; r.users == 0 {
		r.cancel()
		delete(h.rings, election)
	}
}

// read fills the ring from the log's end as it grows. It wakes the
// subscribers once per round of new entries (with the round's checkpoint),
// or every BatchEntries frames of a long one, not once per frame: a woken
// subscriber writes what it has, and a write per frame per subscriber
// would cost more than the frames' bytes.
func (h *Hub) read(ctx context.Context, election string, r *ring) {
	var cps cpCache
	unsent := 0 // frames appended since the last wake
	err := Follow(ctx, h.src, election, r.start, Options{},
		func(c *Change) error {
			f, err := encodeFrame(c, &cps)
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.frames = append(r.frames, f)
			r.bytes += len(f.JSON) + len(f.SSE)
			for r.bytes > h.maxBytes && len(r.frames) > 1 {
				r.bytes -= len(r.frames[0].JSON) + len(r.frames[0].SSE)
				r.frames[0] = Frame{}
				r.frames = r.frames[1:]
				r.start++
			}
			if unsent++; unsent >= BatchEntries {
				r.wake()
				unsent = 0
			}
			r.mu.Unlock()
			return nil
		},
		func(c *Checkpoint) error {
			f, err := encodeCheckpoint(c)
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.cp = f
			r.wake()
			unsent = 0
			r.mu.Unlock()
			return nil
		})
	r.mu.Lock()
	r.err = err
	r.wake()
	r.mu.Unlock()
}

// Subscribe hands onFrame every change of an election's log from index
// from on, in order, each once (only those of opts.Types, if given), and
// onCheckpoint each newer checkpoint once the changes it covers are
// handed on. It returns when ctx ends or a callback fails. The callbacks
// must not keep or modify the frames' bytes.
//
// onIdle, if not nil, is called each time the subscriber has caught up,
// before it waits for more (a writer flushes there, so that many frames go
// out in one write), and every idle interval while it waits, with
// keepAlive set.
func (h *Hub) Subscribe(ctx context.Context, election string, from uint64, opts Options, onFrame func(*Frame) error, onCheckpoint func(*CheckpointFrame) error, onIdle func(keepAlive bool) error, idle time.Duration) error {
	r, err := h.join(election)
	if err != nil {
		return err
	}
	defer h.leave(election, r)
	want := func(t events.Type) bool { return len(opts.Types) == 0 || slices.Contains(opts.Types, t) }
	var sent uint64 // size of the last checkpoint handed on
	var batch []Frame
	for {
		r.mu.Lock()
		start, end, cp, rerr, notify := r.start, r.start+uint64(len(r.frames)), r.cp, r.err, r.notify
		if from >= start && from < end {
			batch = append(batch[:0], r.frames[from-start:]...)
		} else {
			batch = batch[:0]
		}
		r.mu.Unlock()
		switch {
		case rerr != nil:
			return fmt.Errorf("the reader of %s stopped: %w", election, rerr)
		case from < start:
			// Before the ring: read from the database, then look again.
			next, err := h.history(ctx, election, from, start, opts, onFrame)
			if err != nil {
				return err
			}
			from = next
			continue
		}
		for i := range batch {
			if want(batch[i].Type) {
				if err := onFrame(&batch[i]); err != nil {
					return err
				}
			}
			from = batch[i].Index + 1
		}
		if cp != nil && cp.TreeSize > sent && cp.TreeSize <= from && onCheckpoint != nil {
			if err := onCheckpoint(cp); err != nil {
				return err
			}
			sent = cp.TreeSize
		}
		if len(batch) > 0 {
			continue // the ring may have grown meanwhile
		}
		if onIdle != nil {
			if err := onIdle(false); err != nil {
				return err
			}
		}
		if err := wait(ctx, notify, idle, onIdle); err != nil {
			return err
		}
	}
}

// wait blocks until notify is closed or ctx ends, calling onIdle(true)
// every idle interval meanwhile.
func wait(ctx context.Context, notify <-chan struct{}, idle time.Duration, onIdle func(bool) error) error {
	var tick <-chan time.Time
	if idle > 0 && onIdle != nil {
		t := time.NewTicker(idle)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-notify:
			return nil
		case <-tick:
			if err := onIdle(true); err != nil {
				return err
			}
		}
	}
}

// history hands on the frames of entries [from, to), read from the
// database in batches, and returns where it stopped.
func (h *Hub) history(ctx context.Context, election string, from, to uint64, opts Options, onFrame func(*Frame) error) (uint64, error) {
	size, cp, _, err := h.src.Committed(election)
	if err != nil {
		return from, err
	}
	to = min(to, size)
	var cps cpCache
	err = changes(ctx, h.src, election, from, to, size, cp, opts, func(c *Change) error {
		f, err := encodeFrame(c, &cps)
		if err != nil {
			return err
		}
		return onFrame(&f)
	})
	return max(from, to), err
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // entry bytes go out exactly as stored
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// encodeFrame encodes a change; cps remembers the JSON of the last
// checkpoint string, which a batch of changes shares.
func encodeFrame(c *Change, cps *cpCache) (Frame, error) {
	cpJSON, err := cps.json(c.Checkpoint)
	if err != nil {
		return Frame{}, err
	}
	j := c.AppendJSON(nil, cpJSON)
	sse := make([]byte, 0, len(j)+64)
	sse = append(sse, "id: "...)
	sse = strconv.AppendUint(sse, c.Index, 10)
	sse = append(sse, "\nevent: "...)
	sse = append(sse, c.Type...)
	sse = append(sse, "\ndata: "...)
	sse = append(sse, j...)
	sse = append(sse, "\n\n"...)
	return Frame{Index: c.Index, Type: c.Type, JSON: j, SSE: sse}, nil
}

// cpCache holds the JSON encoding of the last checkpoint string seen.
type cpCache struct {
	text    string
	encoded []byte
}

func (k *cpCache) json(cp string) ([]byte, error) {
	if k.encoded == nil || k.text != cp {
		j, err := json.Marshal(cp)
		if err != nil {
			return nil, err
		}
		k.text, k.encoded = cp, j
	}
	return k.encoded, nil
}

func encodeCheckpoint(c *Checkpoint) (*CheckpointFrame, error) {
	j, err := encodeJSON(c)
	if err != nil {
		return nil, err
	}
	sse := append(append([]byte("event: checkpoint\ndata: "), j...), "\n\n"...)
	return &CheckpointFrame{TreeSize: c.TreeSize, JSON: j, SSE: sse}, nil
}
