package ledger

// Atomic batches. broker.Publish sends a submission (up to
// broker.MaxAtomicBatch events) as one JetStream atomic batch: each message
// carries the batch's ID and its place in it (Nats-Batch-Id,
// Nats-Batch-Sequence from 1), and the last one Nats-Batch-Commit. The
// stream can nevertheless hold a batch without its end: an R1 stream
// (nats-server 2.15) stores a batch's messages one at a time, and a full
// disk cut one after 99 of its 100 messages, which the state machine then
// logged. The server completes a cut batch from its staging copy when it
// loads the stream again, if it still can.
//
// So the state machine applies an atomic batch whole, in one step, once
// it has read its commit; a batch that another message interrupts before
// its commit is dropped, each of its messages with the reason in its
// sequence record. What is logged or dropped depends only on the stream,
// and a submission is in the log whole or not at all.

import (
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// readBatch fills a message's atomic-batch fields from its headers.
func (m *message) readBatch(h nats.Header) {
	id := h.Get(jetstreamext.BatchIDHeader)
	if id == "" {
		return
	}
	m.batch = id
	// An unreadable place (0) never follows another: the batch is dropped.
	m.batchSeq, _ = strconv.ParseUint(h.Get(jetstreamext.BatchSeqHeader), 10, 64)
	m.commit = h.Get(jetstreamext.BatchCommitHeader) != ""
}

// batcher turns stream messages, in order, into messages ready to apply:
// a message alone, or a committed atomic batch whole, or the messages of a
// batch cut before its commit, marked to be dropped.
type batcher struct {
	open []message // a batch whose commit has not come yet, in order
}

// add takes the next stream message and appends to ready what can be
// applied now, in stream order.
func (b *batcher) add(ready []message, m message) []message {
	if n := len(b.open); n > 0 {
		if last := b.open[n-1]; m.batch == last.batch && m.batchSeq == last.batchSeq+1 {
			b.open = append(b.open, m)
			if m.commit {
				ready = append(ready, b.open...)
				b.open = b.open[:0]
			}
			return ready
		}
		ready = b.cut(ready, m.seq)
	}
	if m.batch == "" || m.commit {
		return append(ready, m) // alone, or a batch of one message
	}
	// A batch starts: usually at its message 1, but a ledger that split a
	// batch between steps (before this rule) resumes inside one.
	b.open = append(b.open, m)
	return ready
}

// cut marks the open batch's messages to be dropped, since stream message
// next follows them and is not their batch's next, and appends them to
// ready.
func (b *batcher) cut(ready []message, next uint64) []message {
	for _, m := range b.open {
		m.drop = fmt.Sprintf("message %d of atomic batch %s, which the stream holds without its commit (stream message %d follows it): the batch is not logged",
			m.batchSeq, m.batch, next)
		ready = append(ready, m)
	}
	b.open = b.open[:0]
	return ready
}

// waiting is the number of messages held for a batch's commit.
func (b *batcher) waiting() int { return len(b.open) }
