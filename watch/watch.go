// Package watch follows one election's log as a monitor: it prints every
// change as it is logged (corrections with what changed, from what to
// what, and why) and verifies every checkpoint the ledger presents against
// the last one it accepted, which it keeps on disk between runs. If the
// ledger ever shows a history that is not an extension of what the
// watcher saw before, the watcher raises an alarm, keeps both checkpoints
// as evidence, and stops.
//
// For most uses, call [New] and [Watcher.Run]; `ledger watch` does.
//
// # Guarantees
//
// For every checkpoint the ledger presents (with a change, as a checkpoint
// event, or as its latest over HTTP at start), the watcher checks:
//
//   - its signature, with the election's log key (named by the origin
//     "<ledger name>/<election>"), the one the caller gave or the one derived
//     from the ledger key the caller gave (never one fetched from the ledger
//     unless the caller chose to);
//   - against the last accepted checkpoint: a larger one must come with a
//     consistency proof from the accepted one (fetched over HTTP, checked
//     with tlog.CheckTree); one of the same size must have the same root; a
//     smaller one must be provably a prefix of the accepted one.
//
// For every entry, in log order with none missing: that it decodes, has
// its index and election; that it is held by the signed submission it
// names (logcheck.OriginChecker: the submission's bytes, fetched over HTTP,
// hash to the SHA-256 the entry names, are of its ID and election, hold
// its event byte for byte at its place, and carry a valid signature by the
// key the entry names, or none if it names none); that its verdict is the
// one the election's rules give, the signer's role and scope included (a
// replay, as `ledger audit verify` does); and, each time the entries
// received reach the size of the accepted checkpoint, that their RFC 6962
// Merkle root is its root. So every line printed is of an entry under a
// verified signature, made by the office it names, and every accepted
// checkpoint extends all the ones before it, across runs.
//
// A failure of any of these is an [AlarmError]. So is a ledger that no
// longer signs with the key the state was kept with ([KindKeyChanged]),
// unless the caller names the new key (Config.AcceptNewKey): a new key can
// sign any history, so trusting it on first use would trust a rewritten
// one. Even then, the new key's checkpoints must extend the one accepted
// under the old key.
//
// Network failures are not alarms: the watcher reconnects with backoff;
// with Once, it gives up after Config.Timeout without progress, with an
// error wrapping [ErrTimeout].
//
// Memory is bounded by the election's manifest (the current report of
// each unit and contest, a projections.Election) and one submission (the
// one the current entry came in, at most events.MaxSubmissionSize), not by
// the log. At start it replays the entries it printed before, fetched over
// HTTP, to rebuild them, and holds them to their submissions again: O(log)
// once per run.
//
// A program that uses this package stays light: it links neither the
// ledger's database (Pebble) nor its broker (nats-server, as opposed to
// the nats.go client); the checks it shares with package audit are in
// audit/logcheck.
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/feed"
	"github.com/election-audit/ledger/projections"
)

// Defaults of [Config].
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	// DefaultTimeout is how long a watcher with Once waits without
	// progress before it gives up.
	DefaultTimeout = 30 * time.Second
)

// ErrTimeout is wrapped by the error of a watcher with Once that gave up:
// it could not check the ledger (down, unreachable, or not answering)
// within Config.Timeout. Nothing was verified past what it printed.
var ErrTimeout = errors.New("could not check the ledger")

// Config configures a [Watcher].
type Config struct {
	// Election is the election ID to follow. Required.
	Election string
	// Key is the checkpoint verifier key (name+hash+base64) the caller
	// trusts: the ledger key, named by the ledger name, or the election's
	// log key, named by the log's origin "<ledger name>/<election>"
	// (checkpoint.LogVerifier). Required: the watcher verifies against
	// this key, as the log key of the election, and nothing else; the
	// state keeps the log key.
	Key string
	// AcceptNewKey lets Key replace another key that the state was kept
	// with: the ledger changed its key, and the caller names the new one.
	// The checkpoints signed with it must still extend the one accepted
	// under the old key; once one does, the state keeps the new key.
	// Without it, a ledger that no longer signs with the state's key raises
	// a [KindKeyChanged] alarm.
	AcceptNewKey bool
	// Client is the ledger's HTTP API, for consistency proofs, entries the
	// feed skipped, and the latest checkpoint. Required.
	Client *client.Client
	// Feed delivers the changes; default SSE over Client.
	Feed Feed
	// StateDir holds the state file (<election>.state.json) and the
	// evidence of alarms; created if missing. Required.
	StateDir string
	// Out gets the readable lines, or JSON lines if JSON; default stdout.
	Out  io.Writer
	JSON bool
	// Alarm gets the loud alarm text; default stderr.
	Alarm io.Writer
	// Once makes Run return nil once it has verified the checkpoint the
	// ledger presented at start and printed the entries it covers.
	Once bool
	// Timeout, with Once: Run gives up, with an error wrapping
	// [ErrTimeout], after this long without progress (no checkpoint, proof,
	// entry or submission received: the ledger is down, unreachable or
	// does not answer). Zero means DefaultTimeout; negative, never. Without
	// Once the watcher keeps reconnecting until ctx ends.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the pause before reconnecting.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Watcher follows one election. It is not safe for concurrent use. It
// holds a lock on its state file from New to Close: a second watcher of
// the same election and state directory is refused.
type Watcher struct {
	cfg    Config
	lock   *os.File
	v      note.Verifier
	origin string
	path   string
	hasher *compact.RangeFactory

	acc       checkpoint.Checkpoint // the last accepted checkpoint
	accSigned []byte                // nil until one is accepted
	// The key acc was verified with, its verifier and origin: cfg.Key's,
	// unless the state was kept with another key (see Config.AcceptNewKey).
	accKey    string
	accV      note.Verifier
	accOrigin string
	previous  uint64                   // the accepted size acc was proven to extend
	rng       *compact.Range           // leaf hashes of entries [0, next)
	proj      *projections.Election    // nil until entry 0 (and its manifest's last part)
	head      projections.ManifestHead // the manifest's entries, until its last
	origins   *logcheck.OriginChecker  // set by Run
	fetched   []byte                   // the bytes origins fetched last (nil on an error), for evidence
	verified  uint64                   // the largest size whose entries were checked
	lastSeen  string                   // the last checkpoint text handled
	target    uint64                   // with Once: the size to reach
	ready     bool                     // state loaded and entries replayed
	stall     *time.Timer              // with Once: fires after cfg.Timeout without progress
	labels    logcheck.Labels          // the manifest's names, for readable lines
}

// errDone ends Run when Once is set and the work is done.
var errDone = errors.New("caught up")

// New checks the configuration and loads the watcher's state.
func New(cfg Config) (*Watcher, error) {
	switch {
	case cfg.Election == "":
		return nil, errors.New("watch: no election given")
	case cfg.Key == "":
		return nil, errors.New("watch: no verifier key given: the watcher verifies checkpoints with a key you trust")
	case cfg.Client == nil:
		return nil, errors.New("watch: no ledger HTTP API given: proofs and entries come from it")
	case cfg.StateDir == "":
		return nil, errors.New("watch: no state directory given")
	}
	logKey, err := checkpoint.LogKey(cfg.Key, cfg.Election)
	if err != nil {
		return nil, fmt.Errorf("watch: the key: %w", err)
	}
	cfg.Key = logKey
	v, origin, err := checkpoint.LogVerifier(cfg.Key, cfg.Election)
	if err != nil {
		return nil, fmt.Errorf("watch: the key: %w", err)
	}
	if cfg.Feed == nil {
		cfg.Feed = SSE{Client: cfg.Client}
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Alarm == nil {
		cfg.Alarm = os.Stderr
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if err := os.MkdirAll(cfg.StateDir, 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create the state directory: %w", err)
	}
	w := &Watcher{cfg: cfg, v: v, origin: origin,
		path: StatePath(cfg.StateDir, cfg.Election), hasher: &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}}
	if w.lock, err = lockState(w.path); err != nil {
		return nil, err
	}
	w, err = w.load(cfg, v)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Close releases the watcher's lock on its state.
func (w *Watcher) Close() error {
	if w.lock == nil {
		return nil
	}
	err := w.lock.Close()
	w.lock = nil
	return err
}

// load reads the state into w; on an error it releases the lock.
func (w *Watcher) load(cfg Config, v note.Verifier) (_ *Watcher, err error) {
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	st, err := loadState(w.path)
	if err != nil {
		return nil, err
	}
	if st.Checkpoint == "" {
		w.rng = w.hasher.NewEmptyRange(0)
		return w, nil
	}
	// A state kept with another key is opened with that key: whether the
	// ledger changed its key, and whether the caller named the new one, is
	// decided against the ledger (start).
	//
	// A state kept by a version before log keys holds the ledger key, and
	// a checkpoint signed under the ledger name: the log key is derived
	// from the former, and the latter opened with the ledger key.
	accV, accOrigin := v, w.origin
	stKey, err := checkpoint.LogKey(st.Key, cfg.Election)
	if err != nil {
		return nil, fmt.Errorf("the state %s names a key that is not a verifier key of this election's log (%v): it was altered, or it is not this election's state", w.path, err)
	}
	if stKey != cfg.Key {
		if accV, accOrigin, err = checkpoint.LogVerifier(stKey, cfg.Election); err != nil {
			return nil, fmt.Errorf("the state %s names a key that is not a verifier key (%v): it was altered", w.path, err)
		}
	}
	if st.Election != cfg.Election || st.Origin != accOrigin {
		return nil, fmt.Errorf("the state %s was kept for %s (election %s); this run is for %s: it is not this election's state", w.path, st.Origin, st.Election, accOrigin)
	}
	cp, err := openKept([]byte(st.Checkpoint), accOrigin, accV, stKey)
	if err != nil || cp.Size != st.Size || cp.Root != st.Root {
		return nil, fmt.Errorf("the state %s holds a checkpoint that does not verify or does not match its size and root (%v): it was altered", w.path, err)
	}
	if w.rng, err = w.hasher.NewRange(0, st.Next, st.Range); err != nil {
		return nil, fmt.Errorf("the state %s holds a bad Merkle range: %w", w.path, err)
	}
	w.acc, w.accSigned, w.lastSeen, w.previous = cp, []byte(st.Checkpoint), st.Checkpoint, st.Previous
	w.accKey, w.accV, w.accOrigin = stKey, accV, accOrigin
	return w, nil
}

// openKept opens the checkpoint a state kept: signed by the log key, or,
// if a version of the ledger before log keys signed it, by the same key
// under the ledger name. Only the state's own checkpoint, accepted before,
// is taken under the ledger name; every checkpoint the ledger presents
// must be signed by the log key.
func openKept(signed []byte, origin string, v note.Verifier, logKey string) (checkpoint.Checkpoint, error) {
	cp, err := checkpoint.Open(signed, origin, v)
	if err == nil {
		return cp, nil
	}
	lk, lerr := checkpoint.LedgerKey(logKey)
	if lerr != nil {
		return cp, err
	}
	lv, lerr := note.NewVerifier(lk)
	if lerr != nil {
		return cp, err
	}
	if old, oerr := checkpoint.Open(signed, origin, lv); oerr == nil {
		return old, nil
	}
	return cp, err
}

// Next returns the index of the next entry to print.
func (w *Watcher) Next() uint64 { return w.rng.End() }

// Accepted returns the last accepted checkpoint (signed note), nil if none.
func (w *Watcher) Accepted() []byte { return w.accSigned }

// errStalled is the cause of the context of a watcher with Once that made
// no progress for cfg.Timeout.
var errStalled = errors.New("no progress")

// Run follows the election until ctx ends (then it saves its state and
// returns nil), an alarm (an *AlarmError), or an error that reconnecting
// cannot fix. With Once, it returns nil once caught up, and an error
// wrapping ErrTimeout if it makes no progress for Config.Timeout.
func (w *Watcher) Run(ctx context.Context) error {
	if w.cfg.Once && w.cfg.Timeout > 0 {
		// A deadline on progress rather than on the run: catching up with
		// a long log may take longer than the ledger may take to answer.
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		w.stall = time.AfterFunc(w.cfg.Timeout, func() { cancel(errStalled) })
		defer func() { w.stall.Stop(); w.stall = nil }()
	}
	src := client.Source{Client: w.cfg.Client, Ctx: ctx}
	w.origins = logcheck.NewOriginChecker(w.cfg.Election, func(sum [32]byte) ([]byte, error) {
		// A 404 wraps fs.ErrNotExist (client.Source): the checker reports
		// the submission missing. Other errors are the network's: reconnect.
		b, err := src.Submission(w.cfg.Election, sum)
		w.fetched = b // nil after an error: no evidence rather than another submission's
		if err == nil {
			w.progress()
		}
		return b, err
	})
	defer func() { w.origins, w.fetched = nil, nil }()
	backoff := w.cfg.MinBackoff
	var last error // the last error of a round, for a watcher that gives up
	for {
		before := w.Next()
		err := w.round(ctx)
		switch {
		case errors.Is(err, errDone):
			return w.save()
		case ctx.Err() != nil:
			return w.stopped(ctx, last)
		case isFatal(err):
			return err
		}
		last = err
		if w.Next() > before {
			backoff = w.cfg.MinBackoff
		}
		w.cfg.Logger.Warn("watch: following stopped; reconnecting", "election", w.cfg.Election, "next", w.Next(), "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return w.stopped(ctx, last)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

// stopped saves the state once ctx has ended; it returns the ErrTimeout
// error if the watcher gave up, nil if it was stopped.
func (w *Watcher) stopped(ctx context.Context, last error) error {
	if err := w.save(); err != nil {
		return err
	}
	if !errors.Is(context.Cause(ctx), errStalled) {
		return nil
	}
	why := "the ledger did not answer"
	if last != nil {
		why = "the last error: " + last.Error()
	}
	done := "nothing was verified"
	if w.accSigned != nil {
		done = fmt.Sprintf("%d of the %d entries of the signed checkpoint accepted were checked", w.Next(), w.acc.Size)
	}
	return fatal(fmt.Errorf("%w: no progress with %s in %s (%s); %s", ErrTimeout, w.cfg.Election, w.cfg.Timeout, why, done))
}

// progress pushes back the deadline of a watcher with Once.
func (w *Watcher) progress() {
	if w.stall != nil {
		w.stall.Reset(w.cfg.Timeout)
	}
}

func (w *Watcher) round(ctx context.Context) error {
	if !w.ready {
		if err := w.start(ctx); err != nil {
			return err
		}
		w.ready = true
		if w.cfg.Once && w.verified >= w.target {
			return errDone
		}
	}
	// Catch up with the accepted checkpoint over HTTP: a durable consumer
	// may be past these entries, and they are known to be there.
	for w.Next() < w.acc.Size {
		if err := w.fetch(ctx, w.Next(), w.acc.Size); err != nil {
			return err
		}
	}
	return w.cfg.Feed.Follow(ctx, w.cfg.Election, w.Next(),
		func(c *feed.Change) error { return w.change(ctx, c) },
		func(c *feed.Checkpoint) error {
			if err := w.presented(ctx, []byte(c.Checkpoint)); err != nil {
				return err
			}
			return w.check()
		})
}

// start checks the ledger's latest checkpoint against the accepted one,
// then replays the entries printed by earlier runs.
func (w *Watcher) start(ctx context.Context) error {
	latest, err := w.cfg.Client.Checkpoint(ctx, w.cfg.Election)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
			err = w.unknownElection(ctx, err)
		}
		if w.cfg.Once && errors.As(err, &ce) && ce.IsClientError() {
			return fatal(err)
		}
		return fmt.Errorf("couldn't fetch the latest checkpoint of %s: %w", w.cfg.Election, err)
	}
	w.progress()
	if w.accKey != "" && w.accKey != w.cfg.Key {
		if err := w.keyChanged(latest); err != nil {
			return err
		}
	}
	if err := w.presented(ctx, latest); err != nil {
		return err
	}
	w.target = w.acc.Size
	next := w.Next()
	if next == 0 {
		return nil
	}
	// The entries printed before, to rebuild the current reports; they
	// must be the ones whose hashes the state kept.
	saved := w.rng
	w.rng, w.proj, w.head = w.hasher.NewEmptyRange(0), nil, projections.ManifestHead{}
	src := client.Source{Client: w.cfg.Client, Ctx: ctx}
	err = src.Entries(w.cfg.Election, 0, next, func(i uint64, data []byte) error {
		_, err := w.apply(i, data)
		return err
	})
	if err != nil {
		if !isFatal(err) {
			w.rng = saved
		}
		return err
	}
	got, err1 := w.rng.GetRootHash(nil)
	want, err2 := saved.GetRootHash(nil)
	if err := errors.Join(err1, err2); err != nil {
		return fatal(err)
	}
	if string(got) != string(want) {
		return w.alarm(KindEntries, nil, fmt.Sprintf("entries [0, %d) fetched now hash to %x, the entries printed before to %x", next, got, want), evidence{})
	}
	if next == w.acc.Size {
		if err := w.rootMatches(); err != nil {
			return err
		}
		w.verified = next
	}
	return nil
}

// change handles one change from the feed.
func (w *Watcher) change(ctx context.Context, c *feed.Change) error {
	if c.Index < w.Next() {
		return nil // a repeat
	}
	if c.Checkpoint != "" {
		if err := w.presented(ctx, []byte(c.Checkpoint)); err != nil {
			return err
		}
	}
	if c.Index >= w.acc.Size {
		// No accepted checkpoint covers it (a stale one came with it).
		latest, err := w.cfg.Client.Checkpoint(ctx, w.cfg.Election)
		if err != nil {
			return fmt.Errorf("couldn't fetch the latest checkpoint of %s: %w", w.cfg.Election, err)
		}
		if err := w.presented(ctx, latest); err != nil {
			return err
		}
		if c.Index >= w.acc.Size {
			return fmt.Errorf("entry %d came before any checkpoint that covers it (accepted size %d)", c.Index, w.acc.Size)
		}
	}
	for w.Next() < c.Index { // the feed skipped these
		if err := w.fetch(ctx, w.Next(), c.Index); err != nil {
			return err
		}
	}
	data := []byte(c.Entry)
	if c.EntryOmitted || len(data) == 0 {
		es, err := w.cfg.Client.Entries(ctx, w.cfg.Election, c.Index, 1)
		if err != nil {
			return fmt.Errorf("couldn't fetch entry %d of %s: %w", c.Index, w.cfg.Election, err)
		}
		if len(es) != 1 {
			return fmt.Errorf("couldn't fetch entry %d of %s: %d entries returned", c.Index, w.cfg.Election, len(es))
		}
		data = es[0]
	}
	if err := w.print(c.Index, data); err != nil {
		return err
	}
	return w.check()
}

// fetch prints entries [start, end) fetched over HTTP, at most one page.
func (w *Watcher) fetch(ctx context.Context, start, end uint64) error {
	es, err := w.cfg.Client.Entries(ctx, w.cfg.Election, start, min(end-start, 1000))
	if err != nil {
		return fmt.Errorf("couldn't fetch entries [%d, %d) of %s: %w", start, end, w.cfg.Election, err)
	}
	w.progress()
	if len(es) == 0 {
		return fmt.Errorf("couldn't fetch entry %d of %s: none returned", start, w.cfg.Election)
	}
	for i, data := range es {
		if start+uint64(i) >= end {
			break
		}
		if err := w.print(start+uint64(i), data); err != nil {
			return err
		}
	}
	return w.check()
}

func (w *Watcher) print(index uint64, data []byte) error {
	c, err := w.apply(index, data)
	if err != nil {
		return err
	}
	if w.cfg.JSON {
		err = writeJSON(w.cfg.Out, ChangeRecord{Kind: RecordChange, Election: w.cfg.Election, Change: *c.Change})
	} else {
		err = writeChange(w.cfg.Out, c.Change, c.entry, w.labels.Use(w.manifest()))
	}
	if err != nil {
		return fatal(fmt.Errorf("couldn't print entry %d: %w", index, err))
	}
	return nil
}

// manifest returns the election's manifest as far as the watcher has it:
// the first event's part until its last part is in.
func (w *Watcher) manifest() *events.Manifest {
	if w.proj != nil {
		return w.proj.Manifest()
	}
	return w.head.First()
}

type applied struct {
	*logcheck.Change
	entry *events.Entry
}

// apply checks entry index and folds it into the current reports and the
// Merkle range.
func (w *Watcher) apply(index uint64, data []byte) (*applied, error) {
	if index != w.Next() {
		return nil, fatal(fmt.Errorf("entry %d handed on when %d is next", index, w.Next()))
	}
	invalid := func(format string, args ...any) error {
		return w.alarm(KindInvalidEntry, nil, fmt.Sprintf("entry %d: ", index)+fmt.Sprintf(format, args...),
			evidence{fmt.Sprintf("entry-%d.json", index): data})
	}
	en, err := events.DecodeEntry(data)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if en.Index != index {
		return nil, invalid("it says it is entry %d", en.Index)
	}
	if en.Event.Election != w.cfg.Election {
		return nil, invalid("it is for election %q", en.Event.Election)
	}
	if err := w.origins.Check(index, data); err != nil {
		var me *logcheck.MismatchError
		if !errors.As(err, &me) {
			return nil, err // couldn't fetch the submission: retry
		}
		files := evidence{fmt.Sprintf("entry-%d.json", index): data}
		if w.fetched != nil {
			files[fmt.Sprintf("entry-%d.submission", index)] = w.fetched
		}
		return nil, w.alarm(KindInvalidEntry, nil, fmt.Sprintf("entry %d: %s", index, me.What), files)
	}
	before := w.proj // the projection of the entries before this one
	if w.proj == nil {
		// The manifest: entry 0, and its parts in the entries after it
		// when it is in several (projections.ManifestHead). The
		// projection is made from the whole; this entry is applied below.
		proj, err := w.head.Add(w.cfg.Election, en)
		if err != nil {
			return nil, invalid("%v", err)
		}
		if proj != nil {
			for _, h := range w.head.Entries()[:w.head.Want()-1] {
				if err := proj.Apply(h); err != nil {
					return nil, invalid("%v", err)
				}
			}
			w.proj = proj
		}
	} else {
		switch rj := w.proj.Decide(en.Event, en.Submission.Signer); {
		case rj == nil && en.Verdict != events.Accepted:
			return nil, invalid("it is rejected but the election's rules accept it")
		case rj != nil && en.Verdict == events.Accepted:
			return nil, invalid("it is accepted but the election's rules reject it: %s", rj.Reason)
		}
	}
	c, old := logcheck.NewChange(en, before)
	if w.proj != nil { // nil until the manifest's last part
		if err := w.proj.Apply(en); err != nil {
			return nil, invalid("%v", err)
		}
	}
	c.Finish(w.proj, old)
	leaf := tlog.RecordHash(data)
	if err := w.rng.Append(leaf[:], nil); err != nil {
		return nil, fatal(err)
	}
	w.progress()
	return &applied{c, en}, nil
}

// presented checks a checkpoint the ledger presented against the accepted
// one, and accepts it if it extends it.
func (w *Watcher) presented(ctx context.Context, signed []byte) error {
	if string(signed) == w.lastSeen {
		return nil
	}
	cp, err := checkpoint.Open(signed, w.origin, w.v)
	if err != nil {
		if w.accSigned != nil && w.accKey == w.cfg.Key {
			// Does the ledger sign with another key now? Then say so.
			if k, kerr := w.cfg.Client.Key(ctx); kerr == nil {
				if lk, lerr := checkpoint.LogKey(k, w.cfg.Election); lerr == nil && lk != w.cfg.Key {
					if nv, norigin, verr := checkpoint.LogVerifier(lk, w.cfg.Election); verr == nil {
						if _, oerr := checkpoint.Open(signed, norigin, nv); oerr == nil {
							return w.keyAlarm(signed, lk, fmt.Sprintf("the ledger's checkpoint does not verify with %s, the key this watcher accepted size %d under; it verifies with %s, the log key of the key the ledger serves now (GET /v1/key: %s)",
								w.accKey, w.acc.Size, lk, k))
						}
					}
				}
			}
		}
		return w.alarm(KindSignature, unverified(signed), err.Error(), evidence{"presented.checkpoint": signed})
	}
	switch {
	case w.accSigned == nil:
		// The first checkpoint this state ever sees: trusted because of
		// its signature alone, and the entries are checked against it.
	case cp.Size == w.acc.Size:
		if cp.Root != w.acc.Root {
			return w.alarm(KindFork, &cp, fmt.Sprintf("two signed checkpoints of size %d with different roots", cp.Size),
				evidence{"presented.checkpoint": signed})
		}
		w.lastSeen = string(signed)
		if w.accKey != w.cfg.Key {
			// The accepted tree, signed with the new key: keep that.
			w.acceptKey(cp)
			w.acc, w.accSigned = cp, signed
			return w.save()
		}
		return nil
	case cp.Size > w.acc.Size:
		p, err := w.cfg.Client.ConsistencyProof(ctx, w.cfg.Election, w.acc.Size, cp.Size)
		if err != nil {
			return fmt.Errorf("couldn't fetch the consistency proof of %s from %d to %d: %w", w.cfg.Election, w.acc.Size, cp.Size, err)
		}
		w.progress()
		if err := logcheck.CheckConsistency(&p.ConsistencyProof, w.acc, cp); err != nil {
			return w.alarm(KindFork, &cp, err.Error(), evidence{"presented.checkpoint": signed, "proof.json": proofJSON(p)})
		}
	default: // smaller: stale, or the log went back
		p, err := w.cfg.Client.ConsistencyProof(ctx, w.cfg.Election, cp.Size, w.acc.Size)
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status == 404 {
			return w.alarm(KindRollback, &cp, fmt.Sprintf("the ledger presented size %d after size %d was accepted, and cannot prove it a prefix: %s", cp.Size, w.acc.Size, ce.Problem.Error),
				evidence{"presented.checkpoint": signed})
		}
		if err != nil {
			return fmt.Errorf("couldn't fetch the consistency proof of %s from %d to %d: %w", w.cfg.Election, cp.Size, w.acc.Size, err)
		}
		if err := logcheck.CheckConsistency(&p.ConsistencyProof, cp, w.acc); err != nil {
			return w.alarm(KindFork, &cp, err.Error(), evidence{"presented.checkpoint": signed, "proof.json": proofJSON(p)})
		}
		w.lastSeen = string(signed)
		return nil // an older checkpoint of the same history
	}
	w.previous = w.acc.Size
	if w.accSigned != nil && w.accKey != w.cfg.Key {
		w.acceptKey(cp)
	}
	w.acc, w.accSigned, w.lastSeen = cp, signed, string(signed)
	w.accKey, w.accV, w.accOrigin = w.cfg.Key, w.v, w.origin
	w.progress()
	if err := w.save(); err != nil {
		return err
	}
	return w.check()
}

// check compares the entries' root with the accepted checkpoint once they
// reach its size, and reports the checkpoint verified.
func (w *Watcher) check() error {
	if w.Next() != w.acc.Size || w.acc.Size <= w.verified {
		return nil
	}
	if err := w.rootMatches(); err != nil {
		return err
	}
	r := &CheckpointRecord{Kind: RecordCheckpoint, Election: w.cfg.Election, Size: w.acc.Size, Root: w.acc.Root,
		Previous: w.previous, Checkpoint: string(w.accSigned)}
	w.verified = w.acc.Size
	if err := w.save(); err != nil {
		return err
	}
	var err error
	if w.cfg.JSON {
		err = writeJSON(w.cfg.Out, r)
	} else {
		err = writeVerified(w.cfg.Out, r)
	}
	if err != nil {
		return fatal(fmt.Errorf("couldn't print checkpoint %d: %w", r.Size, err))
	}
	if w.cfg.Once && w.verified >= w.target {
		return errDone
	}
	return nil
}

func (w *Watcher) rootMatches() error {
	root, err := w.rng.GetRootHash(nil)
	if err != nil {
		return fatal(err)
	}
	if string(root) != string(w.acc.Root[:]) {
		return w.alarm(KindEntries, nil, fmt.Sprintf("entries [0, %d) hash to %x, the signed checkpoint of that size has root %s", w.Next(), root, w.acc.Root), evidence{})
	}
	return nil
}

// save writes the state: the accepted checkpoint and the entries printed.
func (w *Watcher) save() error {
	if w.accSigned == nil {
		return nil
	}
	st := &State{V: stateVersion, Election: w.cfg.Election, Origin: w.accOrigin, Key: w.accKey,
		Checkpoint: string(w.accSigned), Size: w.acc.Size, Root: w.acc.Root, Previous: w.previous, Next: w.Next(), Range: w.rng.Hashes()}
	if err := saveState(w.path, st); err != nil {
		return fatal(err)
	}
	return nil
}

// alarm keeps the evidence, prints the alarm and returns it.
func (w *Watcher) alarm(kind Kind, presented *checkpoint.Checkpoint, detail string, files evidence) error {
	a := &AlarmError{Kind: kind, Election: w.cfg.Election, Origin: w.origin, Detail: detail}
	if w.accSigned != nil {
		a.Accepted = Tree{w.acc.Size, w.acc.Root}
		files["accepted.checkpoint"] = w.accSigned
	}
	if presented != nil {
		a.Presented = &Tree{presented.Size, presented.Root}
	}
	names := make([]string, 0, len(files)+1)
	for n := range files {
		names = append(names, n)
	}
	names = append(names, "alarm.json")
	sort.Strings(names)
	_, a.EvidenceErr = keepEvidence(w.cfg.StateDir, a, files, time.Now())
	writeAlarm(w.cfg.Alarm, a, names)
	if w.cfg.JSON {
		writeJSON(w.cfg.Out, AlarmRecord{Kind: RecordAlarm, AlarmError: a})
	}
	return a
}

// keyChanged decides a run whose key is not the one the state was kept
// with, from the latest checkpoint: an alarm if the ledger no longer signs
// with the state's key and the caller did not name the new key; an error
// if it still does (the caller gave the wrong key); nil if the caller
// named the new key (presented then holds its checkpoint to the accepted
// one).
func (w *Watcher) keyChanged(latest []byte) error {
	if w.cfg.AcceptNewKey {
		return nil
	}
	if _, err := checkpoint.Open(latest, w.accOrigin, w.accV); err == nil {
		return fatal(fmt.Errorf("the state %s was kept with the key %s, and the ledger still signs with it; this run's key is %s: pass the state's key (--key), "+
			"or, if the ledger has changed its key to this one, say so (--accept-key)", w.path, w.accKey, w.cfg.Key))
	}
	verifies := "and it does not verify with that key either"
	if _, err := checkpoint.Open(latest, w.origin, w.v); err == nil {
		verifies = "with which it verifies"
	}
	return w.keyAlarm(latest, w.cfg.Key, fmt.Sprintf("the ledger's checkpoint does not verify with %s, the key this watcher accepted size %d under; this run's key is %s, %s",
		w.accKey, w.acc.Size, w.cfg.Key, verifies))
}

// keyAlarm raises the alarm of a ledger that signs with another key.
func (w *Watcher) keyAlarm(signed []byte, newKey, detail string) error {
	return w.alarm(KindKeyChanged, unverified(signed),
		detail+fmt.Sprintf(". A new key can sign any history: it is trusted only if you name it (--accept-key KEY, after checking it with the ledger's operator), and its checkpoints must still extend size %d", w.acc.Size),
		evidence{"presented.checkpoint": signed, "accepted-key.pub": []byte(w.accKey + "\n"), "new-key.pub": []byte(newKey + "\n")})
}

// acceptKey reports that the state now keeps the new key: cp, verified with
// it, extends (or is) the checkpoint accepted under the old one.
func (w *Watcher) acceptKey(cp checkpoint.Checkpoint) {
	w.cfg.Logger.Warn("watch: the ledger's new key is accepted: its checkpoint extends the one accepted under the old key",
		"election", w.cfg.Election, "old_key", w.accKey, "new_key", w.cfg.Key, "accepted_size", w.acc.Size, "size", cp.Size)
	w.accKey, w.accV, w.accOrigin = w.cfg.Key, w.v, w.origin
}

// unknownElection adds the elections the ledger has to its 404 for the
// election.
func (w *Watcher) unknownElection(ctx context.Context, err error) error {
	list, lerr := w.cfg.Client.Elections(ctx)
	if lerr != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("%w; the ledger has no elections yet", err)
	}
	names := make([]string, 0, len(list))
	for i, e := range list {
		if i == 50 {
			names = append(names, fmt.Sprintf("and %d more (GET /v1/elections)", len(list)-i))
			break
		}
		if e.Name != "" {
			names = append(names, fmt.Sprintf("%s (%s)", e.ID, e.Name))
		} else {
			names = append(names, e.ID)
		}
	}
	return fmt.Errorf("%w; the elections it has: %s", err, strings.Join(names, ", "))
}

func proofJSON(p any) []byte {
	b, _ := json.MarshalIndent(p, "", "  ")
	return append(b, '\n')
}

// unverified reads the size and root of a checkpoint that did not verify,
// for the alarm's report only; nil if it does not parse.
func unverified(signed []byte) *checkpoint.Checkpoint {
	lines := strings.SplitN(string(signed), "\n", 4)
	if len(lines) < 4 {
		return nil
	}
	size, err1 := strconv.ParseUint(lines[1], 10, 64)
	h, err2 := tlog.ParseHash(lines[2])
	if err1 != nil || err2 != nil {
		return nil
	}
	return &checkpoint.Checkpoint{Origin: lines[0], Size: size, Root: h}
}
