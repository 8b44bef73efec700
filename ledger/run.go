package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// StreamAlarm is returned by Run when the stream shows a history other than
// the one the ledger already logged: messages lost, or replaced.
type StreamAlarm struct {
	Seq    uint64
	Detail string
}

func (a *StreamAlarm) Error() string {
	return fmt.Sprintf("ALARM: the stream's history differs from the ledger's at stream sequence %d: %s; the ledger stops rather than log a fork", a.Seq, a.Detail)
}

// Run consumes the stream from the position after the last one applied and
// applies it until ctx ends (returning nil) or a step fails (returning the
// error, after which the ledger answers no more submissions).
func (l *Ledger) Run(ctx context.Context) error {
	err := l.run(ctx)
	if err != nil && ctx.Err() == nil {
		l.pub.Lock()
		l.fatal = err
		close(l.notify)
		l.notify = make(chan struct{})
		l.pub.Unlock()
		return err
	}
	return nil
}

func (l *Ledger) run(ctx context.Context) error {
	if err := l.checkStream(ctx); err != nil {
		return err
	}
	b := l.cfg.Broker
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{b.SubmitFilter()}}
	if pos := l.Position(); pos > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = pos + 1
	}
	cons, err := b.JetStream().OrderedConsumer(ctx, b.Stream(), cfg)
	if err != nil {
		return fmt.Errorf("couldn't create ordered consumer on %s: %w", b.Stream(), err)
	}
	// The consumer's goroutine decodes each message, which needs no state,
	// while the state machine applies the previous ones.
	msgs := make(chan message, 2*l.cfg.MaxBatch)
	cc, err := cons.Consume(func(jm jetstream.Msg) {
		m := message{subject: jm.Subject(), data: jm.Data()}
		md, err := jm.Metadata()
		if err != nil {
			m.err = fmt.Errorf("couldn't read stream metadata: %w", err)
		} else {
			m.seq, m.time = md.Sequence.Stream, md.Timestamp
			m.ev, m.canonical, m.decodeErr = events.DecodeCanonical(m.data)
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(l.cfg.MaxBatch))
	if err != nil {
		return fmt.Errorf("couldn't consume %s: %w", b.Stream(), err)
	}
	defer cc.Stop()
	batch := make([]message, 0, l.cfg.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			batch = append(batch, m)
		}
	drain:
		for len(batch) < l.cfg.MaxBatch {
			select {
			case m := <-msgs:
				batch = append(batch, m)
			default:
				break drain
			}
		}
		if err := l.step(batch); err != nil {
			return err
		}
	}
}

// message is one stream message as the state machine sees it.
type message struct {
	seq     uint64    // stream sequence
	time    time.Time // the stream's timestamp
	subject string
	data    []byte
	err     error // the message could not be read at all

	// The decoded event, or why it does not decode, when known in advance;
	// apply decodes otherwise.
	ev        *events.Event
	canonical []byte
	decodeErr error
}

// checkStream compares the stream with what the ledger logged last.
func (l *Ledger) checkStream(ctx context.Context) error {
	pos := l.Position()
	if pos == 0 {
		return nil
	}
	s, err := l.cfg.Broker.JetStream().Stream(ctx, l.cfg.Broker.Stream())
	if err != nil {
		return fmt.Errorf("couldn't read stream %s: %w", l.cfg.Broker.Stream(), err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("couldn't read stream %s: %w", l.cfg.Broker.Stream(), err)
	}
	if info.State.LastSeq < pos {
		return &StreamAlarm{Seq: pos, Detail: fmt.Sprintf("the ledger applied up to %d but the stream ends at %d: acknowledged messages were lost", pos, info.State.LastSeq)}
	}
	rec, err := l.db.Seq(pos)
	if err != nil {
		return fmt.Errorf("couldn't read the record of stream message %d: %w", pos, err)
	}
	msg, err := s.GetMsg(ctx, pos)
	if err != nil {
		return &StreamAlarm{Seq: pos, Detail: fmt.Sprintf("the stream no longer has the message the ledger applied last: %v", err)}
	}
	if rec.ID != uuid.Nil && msg.Header.Get(jetstream.MsgIDHeader) != rec.ID.String() {
		return &StreamAlarm{Seq: pos, Detail: fmt.Sprintf("the ledger logged event %s there, the stream now holds %q", rec.ID, msg.Header.Get(jetstream.MsgIDHeader))}
	}
	return nil
}

// stepState is the work of one step not yet committed.
type stepState struct {
	batch   *store.Batch
	touched []string                        // elections appended to, in first-touch order
	logged  map[uuid.UUID]store.EventRecord // event IDs logged in this step
	created map[string]*election            // elections defined in this step
	// before holds the IDs of the step's decoded events that were logged
	// before the step, looked up all at once (store.LoggedEvents); looked
	// is the set of IDs it answers for.
	before map[uuid.UUID]store.EventRecord
	looked map[uuid.UUID]bool
}

// lookUp looks up, in one pass, the IDs of the messages already decoded.
func (st *stepState) lookUp(db *store.DB, msgs []message) error {
	ids := make([]uuid.UUID, 0, len(msgs))
	st.looked = make(map[uuid.UUID]bool, len(msgs))
	for _, m := range msgs {
		if m.ev != nil {
			ids = append(ids, m.ev.ID)
			st.looked[m.ev.ID] = true
		}
	}
	var err error
	st.before, err = db.LoggedEvents(ids)
	return err
}

// loggedBefore says whether an event ID was logged before the step.
func (st *stepState) loggedBefore(db *store.DB, id uuid.UUID) (bool, error) {
	if st.looked[id] {
		_, ok := st.before[id]
		return ok, nil
	}
	switch _, err := db.Event(id); {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	default:
		return false, err
	}
}

// step applies messages in one synced batch, then signs the checkpoints.
func (l *Ledger) step(msgs []message) error {
	start := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := &stepState{batch: l.db.NewBatch(), created: map[string]*election{},
		logged: make(map[uuid.UUID]store.EventRecord, len(msgs))}
	defer st.batch.Close()
	if err := st.lookUp(l.db, msgs); err != nil {
		return fmt.Errorf("couldn't look up the step's event IDs: %w", err)
	}
	pos := l.Position()
	for _, m := range msgs {
		if m.err != nil {
			return m.err
		}
		if m.seq <= pos {
			continue // redelivered after a consumer reset
		}
		if err := l.apply(st, m); err != nil {
			return fmt.Errorf("couldn't apply stream message %d: %w", m.seq, err)
		}
		pos = m.seq
	}
	if pos == l.Position() {
		return nil
	}
	st.batch.PutPosition(pos)
	signed := make(map[string][]byte, len(st.touched))
	for _, id := range st.touched {
		el := l.working(st, id)
		root, err := tlog.TreeHash(int64(el.size), l.hashReader(id, el))
		if err != nil {
			return fmt.Errorf("couldn't compute the root of %s at size %d: %w", id, el.size, err)
		}
		if err := l.checkBeforeSigning(id, el, root); err != nil {
			return err
		}
		cp, err := checkpoint.Sign(l.cfg.Signer, l.Origin(id), el.size, root)
		if err != nil {
			return err
		}
		st.batch.PutCheckpoint(id, el.size, cp)
		st.batch.PutTreeSize(id, el.size)
		if err := el.proj.Flush(func(k string, v []byte) { st.batch.PutCell(id, k, v) }); err != nil {
			return err
		}
		if projections.SnapshotDue(el.size, el.snapAt, el.snapLen) {
			snap := el.proj.Snapshot()
			st.batch.PutSnapshot(id, el.size, snap)
			st.batch.PutMaxRecorded(id, el.size, el.maxRecorded)
			el.snapAt, el.snapLen = el.size, len(snap)
		}
		signed[id] = cp
	}
	if err := st.batch.Commit(); err != nil {
		return err
	}
	l.pub.Lock()
	for id, el := range st.created {
		l.elections[id] = el
	}
	for id, cp := range signed {
		el := l.elections[id]
		el.checkpoint, el.committed = cp, el.size
		clear(el.pending)
	}
	l.position = pos
	l.recent[l.recentNext%len(l.recent)] = st.logged
	l.recentNext++
	close(l.notify)
	l.notify = make(chan struct{})
	l.pub.Unlock()
	l.metrics.messages.Add(float64(len(msgs)))
	l.metrics.batchSize.Observe(float64(len(msgs)))
	l.metrics.stepSeconds.Observe(time.Since(start).Seconds())
	l.metrics.position.Set(float64(pos))
	return nil
}

// working returns an election as the state machine sees it in a step,
// including one defined earlier in the step; nil if there is none. Only
// the state machine writes l.elections, so it reads it without pub.
func (l *Ledger) working(st *stepState, id string) *election {
	if el := st.created[id]; el != nil {
		return el
	}
	return l.elections[id]
}

// apply turns one stream message into an entry, a duplicate or a drop.
func (l *Ledger) apply(st *stepState, m message) error {
	seq, ts := m.seq, m.time
	ev, canonical, err := m.ev, m.canonical, m.decodeErr
	if ev == nil && err == nil {
		ev, canonical, err = events.DecodeCanonical(m.data)
	}
	if err != nil {
		// Only something bypassing the ledger's edge publishes such a message.
		l.drop(st, seq, uuid.Nil, "undecodable: "+err.Error())
		return nil
	}
	if want := l.cfg.Broker.SubmitSubject(ev.Election); m.subject != want {
		l.drop(st, seq, ev.ID, fmt.Sprintf("published on %q, but election %q submits on %q", m.subject, ev.Election, want))
		return nil
	}
	if _, dup := st.logged[ev.ID]; dup {
		st.batch.PutSeq(seq, store.SeqRecord{ID: ev.ID, Outcome: "duplicate"})
		l.metrics.outcomes.WithLabelValues("duplicate").Inc()
		return nil
	}
	switch logged, err := st.loggedBefore(l.db, ev.ID); {
	case err != nil:
		return fmt.Errorf("couldn't look up event %s: %w", ev.ID, err)
	case logged:
		st.batch.PutSeq(seq, store.SeqRecord{ID: ev.ID, Outcome: "duplicate"})
		l.metrics.outcomes.WithLabelValues("duplicate").Inc()
		return nil
	}
	el := l.working(st, ev.Election)
	verdict, reason := events.Accepted, ""
	if el == nil {
		m, ok := ev.Body.(*events.Manifest)
		if !ok {
			l.drop(st, seq, ev.ID, fmt.Sprintf("election %q is not defined", ev.Election))
			return nil
		}
		proj, err := projections.New(ev.Election, m)
		if err != nil {
			l.drop(st, seq, ev.ID, err.Error())
			return nil
		}
		el = &election{proj: proj}
		st.created[ev.Election] = el
	} else if rj := el.proj.Check(ev); rj != nil {
		verdict, reason = events.Rejected, rj.Reason
	}
	if !slices.Contains(st.touched, ev.Election) {
		st.touched = append(st.touched, ev.Election)
	}
	en := &events.Entry{Index: el.size, Recorded: ts.UTC(), Verdict: verdict, Reason: reason, Event: ev}
	b, err := en.EncodeWith(canonical)
	if err != nil {
		return fmt.Errorf("couldn't encode entry %d of %s: %w", en.Index, ev.Election, err)
	}
	hashes, err := tlog.StoredHashes(int64(en.Index), b, l.hashReader(ev.Election, el))
	if err != nil {
		return fmt.Errorf("couldn't hash entry %d of %s: %w", en.Index, ev.Election, err)
	}
	first := tlog.StoredHashIndex(0, int64(en.Index))
	if el.pending == nil {
		el.pending = map[int64]tlog.Hash{}
	}
	for i, h := range hashes {
		el.pending[first+int64(i)] = h
	}
	if err := el.proj.Apply(en); err != nil {
		return err
	}
	st.batch.PutEntry(ev.Election, en.Index, b)
	st.batch.PutHashes(ev.Election, first, hashes)
	rec := store.EventRecord{Election: ev.Election, Index: en.Index, Accepted: verdict == events.Accepted}
	st.batch.PutEvent(ev.ID, rec)
	st.logged[ev.ID] = rec
	st.batch.PutSeq(seq, store.SeqRecord{ID: ev.ID, Outcome: "logged"})
	el.size++
	if en.Recorded.After(el.maxRecorded) {
		el.maxRecorded = en.Recorded
	}
	l.metrics.outcomes.WithLabelValues(string(verdict)).Inc()
	return nil
}

func (l *Ledger) drop(st *stepState, seq uint64, id uuid.UUID, reason string) {
	l.cfg.Logger.Warn("stream message not logged", "seq", seq, "id", id, "reason", reason)
	st.batch.PutSeq(seq, store.SeqRecord{ID: id, Outcome: "dropped: " + reason})
	l.metrics.outcomes.WithLabelValues("dropped").Inc()
}

// hashReader reads an election's hashes from this step's pending ones, then
// from the database.
func (l *Ledger) hashReader(id string, el *election) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		var missing []int64
		for i, x := range idx {
			if h, ok := el.pending[x]; ok {
				out[i] = h
			} else {
				missing = append(missing, x)
			}
		}
		if len(missing) == 0 {
			return out, nil
		}
		got, err := l.db.ReadHashes(id, missing)
		if err != nil {
			return nil, err
		}
		j := 0
		for i, x := range idx {
			if _, ok := el.pending[x]; !ok {
				out[i] = got[j]
				j++
			}
		}
		return out, nil
	})
}
