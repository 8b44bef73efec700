package audit

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// Source yields the stored entries [start, end) of an election in order;
// fn's data is valid only during the call. *store.DB is a Source, and so
// is anything that fetches entries from a ledger's HTTP API: the audit
// functions recompute everything from the entry bytes, so they need not
// trust where the entries came from.
type Source interface {
	Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error
}

var _ Source = (*store.DB)(nil)

// Replay folds entries [0, size) of an election's log into a fresh
// projection, re-reading and decoding every stored entry: the projection
// is a pure function of the log. Each entry is checked as [ProjectionAt]
// checks it; its memory holds every event ID, to find one logged twice
// (about 27 to 38 bytes an entry). progress, if not nil, is called with
// the number of entries done.
func Replay(src Source, election string, size uint64, progress func(done uint64)) (*projections.Election, error) {
	var proj *projections.Election
	err := fold(src, election, 0, size, &proj, func(en *events.Entry) error {
		if progress != nil && (en.Index+1)%4096 == 0 {
			progress(en.Index + 1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("couldn't replay %s: %w", election, err)
	}
	if progress != nil {
		progress(size)
	}
	return proj, nil
}

// ReplayEach is [Replay] that also calls each with the projection as it
// stands after every entry, and the latest recorded time of the entries so
// far, and lets it stop the replay with an error. each must not keep or
// modify the projection; it may read it (Snapshot, Tally). Rebuilding a
// ledger's projection snapshots uses it.
func ReplayEach(src Source, election string, size uint64, each func(p *projections.Election, maxRecorded time.Time) error) (*projections.Election, error) {
	var proj *projections.Election
	var max time.Time
	err := fold(src, election, 0, size, &proj, func(en *events.Entry) error {
		var err error
		if en.Index > 0 {
			err = each(proj, max)
		}
		if en.Recorded.After(max) {
			max = en.Recorded
		}
		return err
	})
	if err == nil && proj != nil {
		err = each(proj, max)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't replay %s: %w", election, err)
	}
	return proj, nil
}

// fold applies entries [start, end) to *proj (created from the manifest at
// entry 0 when start is 0), checking each as folder.apply does and calling
// before, if not nil, for each entry before it is applied.
//
// Entries are read and decoded ahead of the fold, in batches, by
// goroutines that fold owns and waits for: decoding is most of a replay's
// work and every entry decodes on its own, while folding must go in log
// order. A decode error is reported only when the fold reaches that entry,
// so the first fault in log order is the one named.
func fold(src Source, election string, start, end uint64, proj **projections.Election, before func(*events.Entry) error) error {
	return foldRaw(src, election, start, end, proj, nil, before)
}

// foldRaw is fold that also calls raw, if not nil, with each entry's
// stored bytes, in log order, before the entry is checked and applied: so
// that a check of the bytes (the origin check) shares the replay's one
// pass over the log.
func foldRaw(src Source, election string, start, end uint64, proj **projections.Election, raw func(index uint64, data []byte) error, before func(*events.Entry) error) error {
	f := folder{election: election, proj: *proj, start: start, next: start}
	live := func(en *events.Entry) error {
		*proj = f.proj // callers look at the projection as it goes
		if before != nil {
			return before(en)
		}
		return nil
	}
	p := newPipeline(src, election, start, end, decodeWorker)
	var err error
	for b := range p.order {
		<-b.done
		if err != nil {
			continue // drain, so that the producer and decoders stop
		}
		f.ids.prepare(b.items)
		for i := range b.items {
			it := &b.items[i]
			if raw != nil && it.index == f.next {
				if err = raw(it.index, b.entry(i)); err != nil {
					p.cancel()
					break
				}
			}
			if err = f.apply(it.index, it.en, it.idHash, it.err, live); err != nil {
				p.cancel()
				break
			}
		}
		p.release(b)
	}
	p.wait()
	*proj = f.proj
	if err != nil {
		return err
	}
	if p.srcErr != nil {
		return p.srcErr
	}
	if f.next != end {
		return &MismatchError{Election: election, Index: f.next, What: fmt.Sprintf("the log ends at size %d, want %d", f.next, end)}
	}
	if f.proj == nil && end > 0 {
		n := f.head.Want()
		return fmt.Errorf("%w: size %d of %s, whose manifest is in entries 0 to %d: the election is defined at size %d", ErrInsideManifest, end, election, n-1, n)
	}
	return nil
}

// ErrInsideManifest is the error for a tally or replay asked for at a size
// that ends inside a manifest in parts, before the election is defined.
var ErrInsideManifest = errors.New("the size ends inside the election's manifest")

// batchEntries is how many entries a batch holds.
const batchEntries = 512

// entryBatch is a run of consecutive entries as read, and what a worker
// made of them: decoded entries (decodeWorker) or leaf hashes (leafWorker).
type entryBatch struct {
	raw    []byte        // the entries' bytes, back to back
	ends   []int         // end offset of each entry in raw
	items  []decoded     // each entry's index; with decodeWorker, the entry
	leaves []tlog.Hash   // with leafWorker: each entry's Merkle leaf hash
	done   chan struct{} // closed once the worker is done with the batch
}

// entry returns the bytes of the batch's i-th entry.
func (b *entryBatch) entry(i int) []byte {
	from := 0
	if i > 0 {
		from = b.ends[i-1]
	}
	return b.raw[from:b.ends[i]]
}

// decodeWorker decodes the entries of each batch into its items, and
// checks that each is in canonical form around its event (envelopeFault):
// a decoded entry that is not comes with an error.
func decodeWorker() func(*entryBatch) {
	var d events.Decoder
	var plain plainStrings
	return func(b *entryBatch) {
		for i := range b.items {
			it := &b.items[i]
			data := b.entry(i)
			if it.en, it.err = d.DecodeEntry(data); it.err != nil {
				continue
			}
			if fault := envelopeFault(data, it.en, &plain); fault != "" {
				it.en, it.err = nil, errors.New(fault)
			}
		}
	}
}

// leafWorker computes the Merkle leaf hash of each entry of a batch,
// without decoding it.
func leafWorker() func(*entryBatch) {
	return func(b *entryBatch) {
		b.leaves = b.leaves[:0]
		for i := range b.items {
			b.leaves = append(b.leaves, tlog.RecordHash(b.entry(i)))
		}
	}
}

type decoded struct {
	index  uint64
	en     *events.Entry
	err    error
	idHash uint64 // of en's event ID, for the fold's idSet (prepare)
}

// pipeline reads entries in batches (one goroutine, as sources want) and
// processes the batches in parallel (a worker made by newWorker per
// goroutine); order yields them in log order.
type pipeline struct {
	order  chan *entryBatch
	free   chan *entryBatch // batches done with, for the reader to fill again
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	srcErr error // set by the reader before order is closed
}

func newPipeline(src Source, election string, start, end uint64, newWorker func() func(*entryBatch)) *pipeline {
	workers := max(1, runtime.GOMAXPROCS(0))
	p := &pipeline{order: make(chan *entryBatch, 2*workers+2), free: make(chan *entryBatch, 2*workers+4), stop: make(chan struct{})}
	work := make(chan *entryBatch, 2*workers+2)
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			process := newWorker()
			for b := range work {
				process(b)
				close(b.done)
			}
		}()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(work)
		defer close(p.order)
		b := p.newBatch()
		send := func() bool {
			select {
			case p.order <- b:
			case <-p.stop:
				return false
			}
			work <- b // never blocks for long: workers drain it until it is closed
			b = p.newBatch()
			return true
		}
		err := src.Entries(election, start, end, func(index uint64, data []byte) error {
			b.raw = append(b.raw, data...)
			b.ends = append(b.ends, len(b.raw))
			b.items = append(b.items, decoded{index: index})
			if len(b.items) == batchEntries && !send() {
				return errStop
			}
			return nil
		})
		// A source error comes after the entries read before it: they are
		// folded, so that a fault among them is the one named first.
		if err != errStop && len(b.items) > 0 {
			send()
		}
		if err != errStop {
			p.srcErr = err
		}
	}()
	return p
}

// newBatch returns an empty batch, reusing one the fold is done with when
// there is one: growing a fresh buffer for every batch cost a replay more
// than decoding did.
func (p *pipeline) newBatch() *entryBatch {
	select {
	case b := <-p.free:
		clear(b.items) // let the decoded entries go
		b.raw, b.ends, b.items = b.raw[:0], b.ends[:0], b.items[:0]
		b.done = make(chan struct{})
		return b
	default:
		return &entryBatch{ends: make([]int, 0, batchEntries), items: make([]decoded, 0, batchEntries), done: make(chan struct{})}
	}
}

// release hands a batch whose items the fold has applied back to the
// reader. Decoded entries share no memory with raw, so it may be refilled.
func (p *pipeline) release(b *entryBatch) {
	select {
	case p.free <- b:
	default:
	}
}

func (p *pipeline) cancel() { p.once.Do(func() { close(p.stop) }) }

// wait stops the pipeline's goroutines and waits for them.
func (p *pipeline) wait() {
	p.cancel()
	for b := range p.order {
		<-b.done
	}
	p.wg.Wait()
}
