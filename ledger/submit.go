package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
	"github.com/election-audit/ledger/wire"
)

// Receipt is the answer to one submitted event, given once its entry is
// synced to disk (package wire, which clients share).
type Receipt = wire.Receipt

// RefusedError is a submission refused at the edge: nothing was published
// and nothing logged.
type RefusedError struct {
	Item    int    // position of the event in the submission, from 0; -1 for the whole submission
	ID      string // its event ID, if known
	Field   string // the JSON path at fault, if known
	Problem string
	// NotFound is set when the event names an election, contest, unit,
	// choice or event that does not exist.
	NotFound bool
	// Unsigned is set when the submission's signature does not verify by
	// the key it names (HTTP 401).
	Unsigned bool
	// Forbidden is set when the signer may not make the event (HTTP 403).
	Forbidden bool
	// TooLarge is set when the submission is past events.MaxSubmissionSize.
	TooLarge bool
}

func (e *RefusedError) Error() string {
	var b strings.Builder
	if e.Item < 0 {
		b.WriteString("submission: " + e.Problem)
		return b.String()
	}
	if strings.HasPrefix(e.Problem, "events[") || strings.HasPrefix(e.Problem, "line ") {
		return e.Problem // it names the event already
	}
	fmt.Fprintf(&b, "event #%d", e.Item+1)
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	b.WriteString(": " + e.Problem)
	return b.String()
}

// UnavailableError is returned by Submit when the ledger cannot log
// submissions now: it cannot write (its disk, or the stream's, is short of
// space), or the stream cannot take messages. It is an outage, not a
// verdict: the same submission can be sent again later.
type UnavailableError struct {
	// Published is set when the events were published before the ledger
	// found it could not write: they stay in the stream and are logged
	// once it can, and resubmitting them then gets their receipts.
	Published bool
	Err       error
}

func (e *UnavailableError) Error() string {
	if e.Published {
		return "the submission was published, but the ledger cannot write now; it is logged once the ledger can (resubmit it then for the receipts): " + e.Err.Error()
	}
	return "the ledger cannot log submissions now, and nothing was published: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// writable returns an *UnavailableError if a submission published now
// could not be logged: the state machine is stalled on a failed write, or
// the database's disk is short of space; or the ledger stopped.
func (l *Ledger) writable() error {
	l.pub.RLock()
	fatal, stall := l.fatal, l.stall
	l.pub.RUnlock()
	switch {
	case fatal != nil:
		return fmt.Errorf("ledger stopped: %w", fatal)
	case stall != nil:
		return &UnavailableError{Err: fmt.Errorf("the state machine cannot write, and retries: %w", stall)}
	}
	if err := l.db.Space(); err != nil {
		return &UnavailableError{Err: err}
	}
	return nil
}

// submission is what the edge knows of a submission's earlier events.
type submission struct {
	elections map[string]*projections.Election // defined earlier in it
	events    map[uuid.UUID]string             // event ID → election, earlier in it
}

// precheck refuses an event that names things its election does not have,
// or that is for an unknown election. Rule violations that depend on the
// order of events (certification, stale versions) pass: the state machine
// decides them, and logs the rejection.
//
// The caller holds l.pub for reading. Only the manifest of the election is
// read (CheckReferences), so no step holds this up.
func (l *Ledger) precheck(ev *events.Event, sub *submission) error {
	var proj *projections.Election
	if el := l.elections[ev.Election]; el != nil {
		proj = el.proj
	} else {
		proj = sub.elections[ev.Election]
	}
	if proj == nil {
		if ev.Type() == events.TypeElectionDefined {
			return nil
		}
		return &RefusedError{NotFound: true, Problem: fmt.Sprintf("election %q is not defined: submit its %s event first", ev.Election, events.TypeElectionDefined)}
	}
	if rj := proj.CheckReferences(ev); rj != nil {
		return &RefusedError{NotFound: true, Problem: rj.Reason}
	}
	var target uuid.UUID
	var field string
	switch b := ev.Body.(type) {
	case *events.Correction:
		target, field = b.Corrects, "corrects"
	case *events.Retraction:
		target, field = b.Retracts, "retracts"
	default:
		return nil
	}
	if sub.events[target] == ev.Election {
		return nil // named earlier in this submission: the state machine decides
	}
	rec, err := l.db.Event(target)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && rec.Election != ev.Election):
		return &RefusedError{NotFound: true, Problem: fmt.Sprintf("data.%s: event %s is not in the log of election %q", field, target, ev.Election)}
	case err != nil:
		return fmt.Errorf("couldn't look up event %s: %w", target, err)
	}
	return nil
}

// Submit checks a signed submission (events.OpenSubmission) at the edge,
// publishes it as one stream message, waits until its entries are logged,
// and returns one receipt per event, in order. A submission refused at the
// edge (unreadable, a signature that does not verify, a signer that may
// not make one of its events, an event naming what its election does not
// have) is a *RefusedError, and nothing is published. Events already
// logged are answered from the log; if all are, nothing is published.
func (l *Ledger) Submit(ctx context.Context, signed []byte) ([]Receipt, error) {
	sub, err := events.OpenSubmission(signed)
	if err != nil {
		re := &RefusedError{Item: -1, Problem: err.Error(), TooLarge: len(signed) > events.MaxSubmissionSize}
		if t := bytes.TrimLeft(signed, " \t\r\n"); !re.TooLarge && len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			// Bare events, as the ledger took them before writes were
			// signed: a write without a signature (401), not unreadable.
			re.Unsigned = true
			re.Problem = "unsigned: bare events, not a signed submission: every write is signed by the office that makes it, " +
				"and its first line is " + events.SubmissionDomain + " (sign events with `ledger submit --key` or the Go client)"
			return nil, re
		}
		var ee *events.Error
		if errors.As(err, &ee) {
			re.Field = ee.Field
			// "events[N]…" names the event at fault, and so does "line N"
			// from line 5 on (the first event's).
			if rest, ok := strings.CutPrefix(ee.Field, "events["); ok {
				if n, _, ok := strings.Cut(rest, "]"); ok {
					if i, err := strconv.Atoi(n); err == nil {
						re.Item = i
					}
				}
			} else if n, ok := strings.CutPrefix(ee.Field, "line "); ok {
				if i, err := strconv.Atoi(n); err == nil && i >= 5 {
					re.Item = i - 5
				}
			}
		}
		return nil, re
	}
	return l.SubmitOpened(ctx, sub)
}

// SubmitOpened is Submit for a submission the caller opened.
func (l *Ledger) SubmitOpened(ctx context.Context, sub *events.Submission) ([]Receipt, error) {
	if sub.SignatureErr != nil {
		return nil, &RefusedError{Item: -1, Unsigned: true, Problem: fmt.Sprintf("signature of submission %s: %v", sub.ID, sub.SignatureErr)}
	}
	publish, logged, err := l.prepare(sub)
	if err != nil {
		return nil, err
	}
	if publish {
		if err := l.writable(); err != nil {
			return nil, err
		}
		// Until it is answered, the state machine may take this opened
		// copy instead of opening the message again.
		l.opened.Store(sub.ID, sub)
		defer l.opened.CompareAndDelete(sub.ID, sub)
		seq, err := l.cfg.Broker.Publish(ctx, broker.Message{Election: sub.Election, ID: sub.ID.String(), Data: sub.Bytes})
		var space *broker.NoSpaceError
		var stream *broker.StreamError
		if errors.As(err, &space) || errors.As(err, &stream) {
			return nil, &UnavailableError{Err: err}
		}
		if err != nil {
			return nil, err
		}
		if err := l.WaitApplied(ctx, seq); err != nil {
			return nil, err
		}
	}
	for {
		out, wait, err := l.receipts(sub.Events, logged)
		if wait == nil {
			return out, err
		}
		// An entry is in the database but its step has not published its
		// checkpoint yet (a resubmission raced the step): wait for it.
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the checkpoint of a logged event: %w", ctx.Err())
		}
	}
}

// receipts answers for logged events, or returns a channel to wait on when
// one of them is committed but not yet covered by a published checkpoint.
// logged holds the events logged before the submission was published.
func (l *Ledger) receipts(evs []*events.Event, logged map[uuid.UUID]store.EventRecord) ([]Receipt, <-chan struct{}, error) {
	out := make([]Receipt, len(evs))
	l.pub.RLock()
	defer l.pub.RUnlock()
	for i, ev := range evs {
		r, err := l.receipt(ev.ID)
		if err != nil {
			return nil, nil, err
		}
		if r.Index >= r.TreeSize {
			if l.fatal != nil {
				return nil, nil, fmt.Errorf("ledger stopped: %w", l.fatal)
			}
			return nil, l.notify, nil
		}
		_, r.Duplicate = logged[ev.ID]
		out[i] = r
	}
	return out, nil, nil
}

// prepare checks a submission at the edge, under one read lock, and says
// whether it must be published (some event is not logged yet), with the
// events logged before.
func (l *Ledger) prepare(sub *events.Submission) (bool, map[uuid.UUID]store.EventRecord, error) {
	ids := make([]uuid.UUID, len(sub.Events))
	for i, ev := range sub.Events {
		ids[i] = ev.ID
	}
	// Which were logged before, all looked up at once.
	logged, err := l.db.LoggedEvents(ids)
	if err != nil {
		return false, nil, fmt.Errorf("couldn't look up the submission's event IDs: %w", err)
	}
	l.pub.RLock()
	defer l.pub.RUnlock()
	st := &submission{elections: map[string]*projections.Election{}, events: make(map[uuid.UUID]string, len(sub.Events))}
	var signers *projections.Signers
	if el := l.elections[sub.Election]; el != nil {
		signers = el.signers
	}
	publish := false
	for i, ev := range sub.Events {
		refuse := func(err error) error {
			var re *RefusedError
			if errors.As(err, &re) {
				re.Item, re.ID = i, ev.ID.String()
			}
			return err
		}
		if err := l.precheck(ev, st); err != nil {
			return false, nil, refuse(err)
		}
		st.events[ev.ID] = ev.Election
		if _, ok := ev.Body.(*events.Manifest); ok && signers == nil && i == 0 {
			m := sub.Manifest // whole, when it comes in parts
			if err := l.mayDefine(sub, m); err != nil {
				return false, nil, refuse(err)
			}
			if p, err := projections.New(ev.Election, m); err == nil {
				st.elections[ev.Election] = p
			}
		} else if signers != nil {
			if rj := signers.Authorize(ev, sub.Signer, l.unitOf); rj != nil {
				return false, nil, refuse(&RefusedError{Forbidden: true, Problem: rj.Reason})
			}
		}
		// else: defined by this submission's manifest, signed by the
		// authority it names, which may sign anything.
		if rec, ok := logged[ev.ID]; ok {
			// Already logged: answered below, if it is the same event.
			if err := l.sameEvent(rec, sub.Canonical[i]); err != nil {
				return false, nil, refuse(&RefusedError{Problem: err.Error(), NotFound: true})
			}
			continue
		}
		publish = true
	}
	return publish, logged, nil
}

// mayDefine refuses a manifest that this ledger would not log: one that
// names no authority, is not signed by the authority it names, or names
// an authority the operator has not accepted.
func (l *Ledger) mayDefine(sub *events.Submission, m *events.Manifest) error {
	switch {
	case m.Authority == "":
		return &RefusedError{Forbidden: true, Field: "data.authority", Problem: "the manifest names no authority: set \"authority\" to the verifier key of the election office that signs it"}
	case sub.Signer != m.Authority:
		return &RefusedError{Forbidden: true, Problem: fmt.Sprintf("the manifest names authority %s but the submission is signed by %s: the authority signs its election's manifest", events.KeyName(m.Authority), events.KeyName(sub.Signer))}
	case len(l.authorities) == 0:
		return &RefusedError{Forbidden: true, Problem: "this ledger accepts no election authority yet: its operator names the authorities that may define elections with `ledger serve --authority VKEY` (or one key per line in <data>/authorities)"}
	case !l.authorities[m.Authority]:
		return &RefusedError{Forbidden: true, Problem: fmt.Sprintf("authority %s is not one this ledger accepts: its operator adds it with `ledger serve --authority %s`", events.KeyName(m.Authority), m.Authority)}
	}
	return nil
}

// unitOf returns the unit of a logged count report or correction, for the
// scope of a retraction at the edge.
func (l *Ledger) unitOf(id uuid.UUID) (string, bool) {
	rec, err := l.lookupRecent(id)
	if err != nil {
		return "", false
	}
	data, err := l.db.Entry(rec.Election, rec.Index)
	if err != nil {
		return "", false
	}
	en, err := events.DecodeEntry(data)
	if err != nil {
		return "", false
	}
	if r := en.Event.Counts(); r != nil {
		return r.Unit, true
	}
	return "", false
}

// lookupRecent finds where an event was logged, in what the last steps
// logged or else in the database. The caller holds l.pub for reading.
func (l *Ledger) lookupRecent(id uuid.UUID) (store.EventRecord, error) {
	for _, m := range l.recent {
		if rec, ok := m[id]; ok {
			return rec, nil
		}
	}
	return l.db.Event(id)
}

// sameEvent checks that a resubmitted event is the one logged under its ID.
func (l *Ledger) sameEvent(rec store.EventRecord, canonical []byte) error {
	data, err := l.db.Entry(rec.Election, rec.Index)
	if err != nil {
		return fmt.Errorf("couldn't read entry %d of %s: %w", rec.Index, rec.Election, err)
	}
	en, err := events.DecodeEntry(data)
	if err != nil {
		return err
	}
	logged, err := en.Event.Encode()
	if err != nil {
		return err
	}
	if !bytes.Equal(logged, canonical) {
		return fmt.Errorf("event ID is already logged (election %q, index %d) with different content: a new event needs a new ID", rec.Election, rec.Index)
	}
	return nil
}

// receipt answers for a logged event ID. The caller holds l.pub for reading.
func (l *Ledger) receipt(id uuid.UUID) (Receipt, error) {
	rec, err := l.lookupRecent(id)
	if err != nil {
		return Receipt{}, fmt.Errorf("event %s was sequenced but not logged (see the ledger's log for why): %w", id, err)
	}
	r := Receipt{ID: id, Election: rec.Election, Index: rec.Index, Verdict: events.Accepted}
	if !rec.Accepted {
		data, err := l.db.Entry(rec.Election, rec.Index)
		if err != nil {
			return Receipt{}, fmt.Errorf("couldn't read entry %d of %s: %w", rec.Index, rec.Election, err)
		}
		en, err := events.DecodeEntry(data)
		if err != nil {
			return Receipt{}, err
		}
		r.Verdict, r.Reason = en.Verdict, en.Reason
	}
	if el, ok := l.elections[rec.Election]; ok {
		r.TreeSize, r.Checkpoint = el.committed, string(el.checkpoint)
	} // else: defined in a step not yet published; TreeSize 0 makes the caller wait
	return r, nil
}
