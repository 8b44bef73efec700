package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/semaphore"

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
// applies it until ctx ends (returning nil) or a step fails for good
// (returning the error, after which the ledger answers no more
// submissions).
//
// A step that fails to write (the disk is full: store.NoSpaceError, or any
// failed commit) is not the end: the step's changes to memory are undone,
// and the same messages are applied again after a backoff, until they
// commit, so the entries are those of a run that never failed. Meanwhile
// the ledger is stalled: Health says why, waiting submitters are
// answered with the reason, and new ones are refused. When the embedded
// JetStream is reloaded (broker.Restarted), Run consumes again from its
// position, after the stream history check.
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

// errReloaded stops a consumer when the stream's JetStream was reloaded.
var errReloaded = errors.New("the stream's JetStream was reloaded")

func (l *Ledger) run(ctx context.Context) error {
	for {
		reloaded := l.cfg.Broker.Restarted()
		err := l.consume(ctx, reloaded)
		if !errors.Is(err, errReloaded) {
			return err
		}
		l.cfg.Logger.Info("the embedded JetStream was reloaded: consuming the stream again from the position", "position", l.Position())
	}
}

// consume reads the stream from the position and applies it, step by
// step, until ctx ends (nil), the broker reloads JetStream (errReloaded)
// or a step fails for good.
func (l *Ledger) consume(ctx context.Context, reloaded <-chan struct{}) error {
	if err := l.checkStream(ctx); err != nil {
		return err
	}
	b := l.cfg.Broker
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{b.SubmitFilter()}}
	pos := l.Position()
	if pos > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = pos + 1
	}
	cons, err := b.JetStream().OrderedConsumer(ctx, b.Stream(), cfg)
	if err != nil {
		return fmt.Errorf("couldn't create ordered consumer on %s: %w", b.Stream(), err)
	}
	// The consumer's goroutine opens each submission (decodes its events
	// and checks its signature), which needs no state, while the state
	// machine applies the previous ones. What it holds is bounded in bytes:
	// the client buffers at most pullBytes, and decoded messages wait for
	// a step within bufferBytes.
	msgs := make(chan message, 4*l.cfg.MaxBatch)
	buffered := semaphore.NewWeighted(bufferBytes)
	stop := make(chan struct{}) // this consumer is done with: after a reload, the run goes on
	defer close(stop)
	cc, err := cons.Consume(func(jm jetstream.Msg) {
		m := message{subject: jm.Subject(), data: jm.Data()}
		md, err := jm.Metadata()
		if err != nil {
			m.err = fmt.Errorf("couldn't read stream metadata: %w", err)
		} else {
			m.seq, m.time = md.Sequence.Stream, md.Timestamp
			if sub := l.openedBy(jm.Headers().Get(jetstream.MsgIDHeader), m.data); sub != nil {
				m.sub = sub
				l.metrics.opened.WithLabelValues("edge").Inc()
			} else {
				m.sub, m.openErr = events.OpenSubmission(m.data)
				l.metrics.opened.WithLabelValues("consumer").Inc()
			}
		}
		m.cost = min(int64(len(m.data))+1, bufferBytes)
		if buffered.Acquire(ctx, m.cost) != nil {
			return
		}
		select {
		case msgs <- m:
		case <-ctx.Done():
			buffered.Release(m.cost)
		case <-stop:
			buffered.Release(m.cost)
		}
	}, jetstream.PullMaxBytes(pullBytes))
	if err != nil {
		return fmt.Errorf("couldn't consume %s: %w", b.Stream(), err)
	}
	defer cc.Stop()
	// ready holds what the next step applies: whole submissions, up to
	// MaxBatch events or stepBytes, and at least one submission.
	ready := make([]message, 0, l.cfg.MaxBatch)
	var readyEvents int
	var readyBytes int64
	last := pos // the last stream sequence taken
	take := func(m message) {
		if m.err == nil && m.seq <= last {
			buffered.Release(m.cost)
			return // redelivered after a consumer reset
		}
		if m.err == nil {
			last = m.seq
		}
		ready = append(ready, m)
		readyEvents += m.events()
		readyBytes += m.cost
	}
	full := func() bool { return readyEvents >= l.cfg.MaxBatch || readyBytes >= stepBytes }
	for {
		for len(ready) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-reloaded:
				return errReloaded
			case m := <-msgs:
				take(m)
			}
		}
	drain:
		for !full() {
			select {
			case m := <-msgs:
				take(m)
			default:
				break drain
			}
		}
		switch err := l.stepUntilWritten(ctx, ready, reloaded); {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		buffered.Release(readyBytes)
		clear(ready) // let the submissions' bytes go
		ready, readyEvents, readyBytes = ready[:0], 0, 0
	}
}

// What the consumer holds: the NATS client buffers at most pullBytes of
// messages, decoded submissions wait for a step within bufferBytes, and a
// step takes up to stepBytes of them (and at least one submission, which
// is at most events.MaxSubmissionSize).
const (
	pullBytes   = 32 << 20
	bufferBytes = 64 << 20
	stepBytes   = 16 << 20
)

// Step retries. A step that cannot write is retried after a backoff that
// doubles from minRetry to maxRetry; the first failure is logged at once,
// then at most one line per stallLogEvery while it lasts.
const (
	minRetry      = 250 * time.Millisecond
	maxRetry      = 5 * time.Second
	stallLogEvery = time.Minute
)

// writeError is a step that failed to write: nothing of it is on disk or
// in memory, and it can be applied again.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// stepUntilWritten applies msgs in one step, retrying while it fails to
// write. It returns nil once committed, ctx's error, errReloaded, or an
// error that stops the state machine.
func (l *Ledger) stepUntilWritten(ctx context.Context, msgs []message, reloaded <-chan struct{}) error {
	wait := minRetry
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		err := l.step(msgs)
		var we *writeError
		if !errors.As(err, &we) {
			if err == nil {
				l.unstall()
			}
			return err
		}
		l.stalled(we.err, msgs)
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-reloaded:
			// The stream's messages come again from the position, after
			// the history check.
			return errReloaded
		case <-timer.C:
		}
		wait = min(2*wait, maxRetry)
	}
}

// stalled records that a step failed to write, for Health, the metrics,
// the log and the submitters waiting for the step, whom it wakes.
func (l *Ledger) stalled(err error, msgs []message) {
	now := time.Now()
	l.pub.Lock()
	first := l.stall == nil
	if first {
		l.stallSince = now
		l.stallAttempts = 0
	}
	l.stall = err
	l.stallAttempts++
	attempts, since := l.stallAttempts, l.stallSince
	logNow := first || now.Sub(l.stallLogged) >= stallLogEvery
	if logNow {
		l.stallLogged = now
	}
	close(l.notify)
	l.notify = make(chan struct{})
	l.pub.Unlock()
	l.metrics.stepFailures.Inc()
	l.metrics.stalled.Set(1)
	switch {
	case first:
		l.cfg.Logger.Error("the ledger cannot write: it logs nothing, and retries the step until it can",
			"err", err, "messages", len(msgs), "first_seq", msgs[0].seq)
	case logNow:
		l.cfg.Logger.Warn("the ledger still cannot write", "err", err,
			"for", now.Sub(since).Round(time.Second), "attempts", attempts)
	}
}

// unstall records that a step committed after failures.
func (l *Ledger) unstall() {
	l.pub.Lock()
	if l.stall == nil {
		l.pub.Unlock()
		return
	}
	since, attempts := l.stallSince, l.stallAttempts
	l.stall = nil
	l.pub.Unlock()
	l.metrics.stalled.Set(0)
	l.cfg.Logger.Info("the ledger writes again", "after", time.Since(since).Round(time.Millisecond), "failed_attempts", attempts)
}

// openedBy returns the submission this node's edge opened and published
// under the message ID id (the submission's ID), if the message's data
// are its bytes: the same submission, since OpenSubmission is a function
// of the bytes. Otherwise nil, and the consumer opens the message.
func (l *Ledger) openedBy(id string, data []byte) *events.Submission {
	sid, err := uuid.Parse(id)
	if err != nil {
		return nil
	}
	v, ok := l.opened.Load(sid)
	if !ok {
		return nil
	}
	if sub := v.(*events.Submission); bytes.Equal(sub.Bytes, data) {
		return sub
	}
	return nil
}

// message is one stream message as the state machine sees it.
type message struct {
	seq     uint64    // stream sequence
	time    time.Time // the stream's timestamp
	subject string
	data    []byte
	err     error // the message could not be read at all
	cost    int64 // what it holds of the consumer's buffer, in bytes

	// The opened submission, or why it does not open, when known in
	// advance; apply opens it otherwise.
	sub     *events.Submission
	openErr error
}

// events is the number of events the message carries, for the size of a
// step.
func (m *message) events() int {
	if m.sub == nil {
		return 1
	}
	return len(m.sub.Events)
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
	// The record names the submission the ledger opened there: compare it
	// with the message's own (its Nats-Msg-Id is the publisher's word).
	held := msg.Header.Get(jetstream.MsgIDHeader)
	if sub, err := events.OpenSubmission(msg.Data); err == nil {
		held = sub.ID.String()
	}
	if rec.ID != uuid.Nil && held != rec.ID.String() {
		return &StreamAlarm{Seq: pos, Detail: fmt.Sprintf("the ledger applied submission %s there, the stream now holds %q", rec.ID, held)}
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
	// What the step did, counted and logged once it is committed.
	outcomes map[string]int
	drops    []droppedMsg
}

type droppedMsg struct {
	seq    uint64
	id     uuid.UUID
	reason string
}

// lookUp looks up, in one pass, the IDs of the messages already decoded.
func (st *stepState) lookUp(db *store.DB, msgs []message) error {
	ids := make([]uuid.UUID, 0, len(msgs))
	st.looked = make(map[uuid.UUID]bool, len(msgs))
	for _, m := range msgs {
		if m.sub != nil {
			for _, ev := range m.sub.Events {
				ids = append(ids, ev.ID)
				st.looked[ev.ID] = true
			}
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
// If it fails, memory is left as of the last commit: the projections,
// sizes and hashes of the elections it touched are loaded again from the
// database. It fails with a *writeError, to be retried, if the batch
// could not be written (or the disk is short of space before it starts).
func (l *Ledger) step(msgs []message) (err error) {
	if err := l.db.Space(); err != nil {
		return &writeError{err} // nothing applied yet
	}
	start := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := &stepState{batch: l.db.NewBatch(), created: map[string]*election{},
		logged: make(map[uuid.UUID]store.EventRecord, len(msgs)), outcomes: map[string]int{}}
	defer st.batch.Close()
	defer func() {
		if err == nil {
			return
		}
		if rerr := l.rollback(st); rerr != nil {
			// Memory cannot be made to match the disk: stop, rather than
			// retry the step over another state (%v: no longer a
			// writeError); an alarm keeps its type.
			if we := (*writeError)(nil); errors.As(err, &we) {
				err = fmt.Errorf("a step failed to write (%v), and loading the state of the last commit again failed: %w", err, rerr)
			} else {
				err = fmt.Errorf("%w (and loading the state of the last commit again failed: %v)", err, rerr)
			}
		}
	}()
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
		return &writeError{fmt.Errorf("couldn't commit stream messages %d to %d: %w", msgs[0].seq, pos, err)}
	}
	l.pub.Lock()
	for id, el := range st.created {
		l.elections[id] = el
	}
	for id, cp := range signed {
		el := l.elections[id]
		el.checkpoint, el.committed = cp, el.size
		el.signers = el.proj.Signers()
		clear(el.pending)
	}
	l.position = pos
	l.recent[l.recentNext%len(l.recent)] = st.logged
	l.recentNext++
	close(l.notify)
	l.notify = make(chan struct{})
	l.pub.Unlock()
	for _, d := range st.drops {
		l.cfg.Logger.Warn("stream message not logged", "seq", d.seq, "id", d.id, "reason", d.reason)
	}
	for outcome, n := range st.outcomes {
		l.metrics.outcomes.WithLabelValues(outcome).Add(float64(n))
	}
	l.metrics.messages.Add(float64(len(msgs)))
	l.metrics.batchSize.Observe(float64(len(msgs)))
	l.metrics.stepSeconds.Observe(time.Since(start).Seconds())
	l.metrics.position.Set(float64(pos))
	return nil
}

// rollback undoes a failed step in memory: each election it appended to
// is loaded again as of its last commit (those it defined are dropped
// with st). It only reads, so it works on a full disk. The caller holds
// mu.
func (l *Ledger) rollback(st *stepState) error {
	for _, id := range st.touched {
		el := l.elections[id]
		if el == nil {
			continue // defined in the step
		}
		fresh, err := l.loadElection(id, el.committed, false)
		if err != nil {
			return err
		}
		l.pub.Lock() // precheck reads proj under pub only
		el.proj, el.size, el.pending, el.signers = fresh.proj, fresh.size, nil, fresh.signers
		el.snapAt, el.snapLen, el.maxRecorded = fresh.snapAt, fresh.snapLen, fresh.maxRecorded
		l.pub.Unlock()
	}
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

// apply turns one stream message, a signed submission, into entries (one
// for each of its events not logged before), or a drop.
func (l *Ledger) apply(st *stepState, m message) error {
	seq := m.seq
	sub, err := m.sub, m.openErr
	if sub == nil && err == nil {
		sub, err = events.OpenSubmission(m.data)
	}
	if err != nil {
		// Only something bypassing the ledger's edge publishes such a message.
		l.drop(st, seq, uuid.Nil, "not a submission the ledger can read: "+err.Error())
		return nil
	}
	if want := l.cfg.Broker.SubmitSubject(sub.Election); m.subject != want {
		l.drop(st, seq, sub.ID, fmt.Sprintf("published on %q, but election %q submits on %q", m.subject, sub.Election, want))
		return nil
	}
	el := l.working(st, sub.Election)
	defining := el == nil
	if defining {
		proj, reason := l.define(sub)
		if proj == nil {
			l.drop(st, seq, sub.ID, reason)
			return nil
		}
		// The manifest's events must all be logged, as its first entries.
		for _, ev := range sub.Events[:events.ManifestEvents(sub.Manifest)] {
			_, dup := st.logged[ev.ID]
			if !dup {
				if dup, err = st.loggedBefore(l.db, ev.ID); err != nil {
					return fmt.Errorf("couldn't look up event %s: %w", ev.ID, err)
				}
			}
			if dup {
				l.drop(st, seq, sub.ID, fmt.Sprintf("the manifest of election %q has event ID %s, which is logged already", sub.Election, ev.ID))
				return nil
			}
		}
		el = &election{proj: proj}
		st.created[sub.Election] = el
	}
	signer := sub.Signer
	if sub.SignatureErr != nil {
		signer = ""
	}
	logged, dups := 0, 0
	for i, ev := range sub.Events {
		if _, dup := st.logged[ev.ID]; dup {
			dups++
			continue
		}
		switch before, err := st.loggedBefore(l.db, ev.ID); {
		case err != nil:
			return fmt.Errorf("couldn't look up event %s: %w", ev.ID, err)
		case before:
			dups++
			continue
		}
		verdict, reason := events.Accepted, ""
		switch {
		case defining && i < events.ManifestEvents(sub.Manifest):
			// The manifest that defines the election, and its parts:
			// define checked the whole.
		case signer == "":
			verdict, reason = events.Rejected, projections.SignaturePrefix+" "+sub.SignatureErr.Error()
		default:
			if rj := el.proj.Decide(ev, signer); rj != nil {
				verdict, reason = events.Rejected, rj.Reason
			}
		}
		ref := &events.SubmissionRef{ID: sub.ID, SHA256: sub.SHA256, Item: i, Signer: signer}
		if err := l.appendEntry(st, el, ev, sub.Canonical[i], ref, m.time, verdict, reason); err != nil {
			return err
		}
		logged++
	}
	if logged > 0 {
		st.batch.PutSubmission(sub.Election, sub.SHA256, sub.Bytes)
	}
	outcome := "logged " + strconv.Itoa(logged)
	if dups > 0 {
		outcome += ", duplicate " + strconv.Itoa(dups)
		st.outcomes["duplicate"] += dups
	}
	st.batch.PutSeq(seq, store.SeqRecord{ID: sub.ID, Outcome: outcome})
	return nil
}

// define decides whether a submission for an election that does not exist
// yet defines it: its first event must be the election's manifest, the
// manifest must name its authority, the submission must carry that
// authority's valid signature, and the authority must be one this ledger
// accepts (Config.Authorities). It returns the new projection, or why the
// submission is dropped.
func (l *Ledger) define(sub *events.Submission) (*projections.Election, string) {
	m := sub.Manifest // whole, when it comes in parts
	switch {
	case m == nil:
		return nil, fmt.Sprintf("election %q is not defined", sub.Election)
	case m.Authority == "":
		return nil, fmt.Sprintf("the manifest of election %q names no authority", sub.Election)
	case sub.Signer != m.Authority:
		return nil, fmt.Sprintf("the manifest of election %q is signed by %s, not by the authority it names", sub.Election, events.KeyName(sub.Signer))
	case sub.SignatureErr != nil:
		return nil, fmt.Sprintf("the manifest of election %q: %v", sub.Election, sub.SignatureErr)
	case !l.authorities[m.Authority]:
		return nil, fmt.Sprintf("the manifest of election %q names authority %s, which this ledger does not accept (ledger serve --authority)", sub.Election, events.KeyName(m.Authority))
	}
	proj, err := projections.New(sub.Election, m)
	if err != nil {
		return nil, err.Error()
	}
	return proj, ""
}

// appendEntry logs an event as the next entry of an election.
func (l *Ledger) appendEntry(st *stepState, el *election, ev *events.Event, canonical []byte, ref *events.SubmissionRef, ts time.Time, verdict events.Verdict, reason string) error {
	if !slices.Contains(st.touched, ev.Election) {
		st.touched = append(st.touched, ev.Election)
	}
	en := &events.Entry{Index: el.size, Recorded: ts.UTC(), Verdict: verdict, Reason: events.ClipReason(reason), Submission: ref, Event: ev}
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
	el.size++
	if en.Recorded.After(el.maxRecorded) {
		el.maxRecorded = en.Recorded
	}
	st.outcomes[string(verdict)]++
	return nil
}

func (l *Ledger) drop(st *stepState, seq uint64, id uuid.UUID, reason string) {
	st.batch.PutSeq(seq, store.SeqRecord{ID: id, Outcome: "dropped: " + reason})
	st.drops = append(st.drops, droppedMsg{seq, id, reason})
	st.outcomes["dropped"]++
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
