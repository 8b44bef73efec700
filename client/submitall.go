package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/wire"
)

// SubmitOptions shape a large submission.
type SubmitOptions struct {
	// Chunk is the most events per submission (one request); default
	// DefaultChunk. A submission also ends where the election changes and
	// before it would pass MaxChunkBytes.
	Chunk int
	// Parallel is how many requests may be in flight after the first one;
	// default 1. Use more only for events whose order does not matter
	// (no two reports for the same unit and contest).
	Parallel int
	// Progress, if not nil, is called with the number of events answered
	// after each request (from one goroutine at a time).
	Progress func(done int)
}

// DefaultChunk is how many events go in one submission by default: each
// submission is one signature, one request and one stream message, and at
// a thousand events of a few hundred bytes those costs are a small part of
// the events'.
const DefaultChunk = 1000

// MaxChunkBytes is where SubmitAll ends a submission, in bytes of its
// events' canonical encodings: below events.MaxSubmissionSize, with room
// for the header and the signature.
const MaxChunkBytes = events.MaxSubmissionSize - 64<<10

// ChunkError is a request of SubmitAll that failed: its events [Start,
// End) were not logged (if the ledger refused them) or may not have been.
type ChunkError struct {
	Start, End int
	Err        error
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("events %d–%d: %v", e.Start+1, e.End, e.Err)
}

func (e *ChunkError) Unwrap() error { return e.Err }

// SubmitAll signs encoded events into submissions of up to opts.Chunk
// events of one election each, sends them, and returns the receipts in the
// events' order. A manifest in parts (events.SplitManifest) goes whole in
// one submission. The first submission goes alone, so that a manifest at
// the head is logged before the reports that need it: with opts.Parallel
// above 1 it is the first event alone (with its parts), and the others
// follow up to
// opts.Parallel at a time. On an error it stops sending and returns the
// first failed submission as a *ChunkError, with the receipts of the events
// before it (all answered: submissions go in order); submissions already
// answered stay logged, and submitting everything again logs only what is
// missing.
func (c *Client) SubmitAll(ctx context.Context, evs [][]byte, opts SubmitOptions) ([]wire.Receipt, error) {
	if opts.Chunk <= 0 {
		opts.Chunk = DefaultChunk
	}
	if c.key == nil {
		return nil, ErrNoKey
	}
	opts.Parallel = max(opts.Parallel, 1)
	canonical, decoded, bad, err := canonicalize(evs)
	if err != nil {
		return nil, &ChunkError{bad, bad + 1, err}
	}
	// run is how many events from i a submission must carry together: a
	// manifest in parts (events.SplitManifest) and its parts, else 1.
	run := func(i int) int {
		if m, ok := decoded[i].Body.(*events.Manifest); ok {
			return min(events.ManifestEvents(m), len(evs)-i)
		}
		return 1
	}
	// where the submissions end: a manifest in parts is never cut, and
	// starts a submission of its own
	next := func(start, most int) int {
		end, n := start, 0
		for k := run(start); end < start+k; end++ {
			n += len(canonical[end]) + 1
		}
		for end < len(evs) && end-start < most && decoded[end].Election == decoded[start].Election && n+len(canonical[end])+1 <= MaxChunkBytes && run(end) == 1 {
			n += len(canonical[end]) + 1
			end++
		}
		return end
	}
	out := make([]wire.Receipt, len(evs))
	var mu sync.Mutex
	var first *ChunkError
	done := 0
	submit := func(start, end int) bool {
		signed, err := c.key.SignSubmission(decoded[start].Election, canonical[start:end])
		var rs []wire.Receipt
		if err == nil {
			rs, err = c.SubmitSigned(ctx, signed)
		}
		if err == nil && len(rs) != end-start {
			err = fmt.Errorf("%d receipts for %d events", len(rs), end-start)
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if first == nil || start < first.Start {
				first = &ChunkError{start, end, err}
			}
			return false
		}
		copy(out[start:end], rs)
		done += len(rs)
		if opts.Progress != nil {
			opts.Progress(done)
		}
		return true
	}
	if len(evs) == 0 {
		return out, nil
	}
	// The first request: a whole chunk when they go one at a time, else
	// the first event alone (a manifest with its parts), so that the
	// others start as soon as it is in.
	head := next(0, opts.Chunk)
	if opts.Parallel > 1 {
		head = run(0)
	}
	if !submit(0, head) {
		return out[:first.Start], first
	}
	starts := make(chan [2]int)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var once sync.Once
	for range opts.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range starts {
				if !submit(r[0], r[1]) {
					once.Do(func() { close(stop) })
				}
			}
		}()
	}
feed:
	for start, end := head, 0; start < len(evs); start = end {
		end = next(start, opts.Chunk)
		select {
		case starts <- [2]int{start, end}:
		case <-stop:
			break feed
		case <-ctx.Done():
			break feed
		}
	}
	close(starts)
	wg.Wait()
	if first != nil {
		return out[:first.Start], first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// IsRefused reports whether err is the ledger refusing a request (4xx):
// sending it again unchanged cannot help.
func IsRefused(err error) bool {
	var ce *Error
	return errors.As(err, &ce) && ce.IsClientError()
}
