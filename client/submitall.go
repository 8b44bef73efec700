package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/ledger"
)

// SubmitOptions shape a large submission.
type SubmitOptions struct {
	Chunk int // events per request; default DefaultChunk
	// Parallel is how many requests may be in flight after the first one;
	// default 1. Use more only for events whose order does not matter
	// (no two reports for the same unit and contest).
	Parallel int
	// Progress, if not nil, is called with the number of events answered
	// after each request (from one goroutine at a time).
	Progress func(done int)
}

// DefaultChunk is how many events go in one request by default: the most
// one JetStream atomic batch holds (broker.MaxAtomicBatch), so that a
// request is published whole or not at all.
const DefaultChunk = broker.MaxAtomicBatch

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

// SubmitAll submits encoded events in requests of opts.Chunk, and returns
// the receipts in the events' order. The first request goes alone, so that
// a manifest at the head is logged before the reports that need it: with
// opts.Parallel above 1 it is the first event alone, and the others follow
// up to opts.Parallel at a time. On an error it stops sending and returns
// the first failed request as a *ChunkError; requests already answered
// stay logged, and submitting everything again logs only what is missing.
func (c *Client) SubmitAll(ctx context.Context, evs [][]byte, opts SubmitOptions) ([]ledger.Receipt, error) {
	if opts.Chunk <= 0 {
		opts.Chunk = DefaultChunk
	}
	opts.Parallel = max(opts.Parallel, 1)
	out := make([]ledger.Receipt, len(evs))
	var mu sync.Mutex
	var first *ChunkError
	done := 0
	submit := func(start, end int) bool {
		rs, err := c.Submit(ctx, evs[start:end])
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
	// the first event alone, so that the others start as soon as it is in.
	head := min(opts.Chunk, len(evs))
	if opts.Parallel > 1 {
		head = 1
	}
	if !submit(0, head) {
		return nil, first
	}
	next := make(chan int)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var once sync.Once
	for range opts.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range next {
				if !submit(start, min(start+opts.Chunk, len(evs))) {
					once.Do(func() { close(stop) })
				}
			}
		}()
	}
feed:
	for start := head; start < len(evs); start += opts.Chunk {
		select {
		case next <- start:
		case <-stop:
			break feed
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
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
