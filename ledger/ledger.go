// Package ledger is the state machine at the heart of the product: it
// consumes the submission stream in order and turns each message into an
// entry of an election's verifiable log, with its Merkle hashes, event-ID
// index, projection update and stream position, in one synced Pebble batch
// per step; then it signs a checkpoint and answers the submitters.
//
// For most uses, call [Open], run [Ledger.Run] in a goroutine, and submit
// with [Ledger.Submit].
//
// # Guarantees
//
//   - A receipt from Submit means the entry is synced to disk; it survives a
//     kill -9 at any moment.
//   - An event ID is logged at most once, whenever it is resubmitted: the
//     event-ID index lives in the same batch as the entry.
//   - Entries depend only on the stream's content and order: the index from
//     the log, the time from the stream, the verdict from the state machine.
//   - The ledger never signs two inconsistent checkpoints of one election:
//     checkpoints are signed by the single state machine, in log order, and
//     stored in the batch that appends their entries.
//   - On start it checks that the stream still holds the message it applied
//     last; if the stream shows a different history it stops with an alarm
//     instead of logging a fork.
//   - No stream message stops it: whatever a message holds, it is logged
//     (accepted, or rejected with the reason) or dropped with the reason in
//     its sequence record, and the step goes on. What a message costs is
//     bounded by what it reports, not by what it declares: a manifest past
//     the limits of package events is dropped, and projections keep only
//     the counts reported.
//   - It checks its own storage before it trusts or signs it: at start, for
//     every election, nothing stored past the tree size, the last entry's
//     leaf hash, and the stored root against the last signed checkpoint;
//     before each signature, that the stored right edge gives the last
//     signed root and the step's entries the root about to be signed. A
//     disagreement is a [StorageAlarm] naming the election and index, and
//     nothing is signed.
//   - A submission is one stream message, signed once: its events are
//     logged in one step, or not at all. Each event's verdict weighs the
//     submission's signature and the signer's role and scope at its place
//     in the log (projections.Decide), and each entry names the submission.
//   - A full disk stalls it, it does not stop it: a step that cannot write
//     leaves nothing on disk or in memory and is retried, with the same
//     messages, until it commits; meanwhile [Ledger.Health] says why and
//     submissions get an [UnavailableError].
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
	"github.com/election-audit/ledger/wire"
)

// DefaultMaxBatch is the most events applied in one step (one
// synced Pebble batch).
const DefaultMaxBatch = 2000

// Config configures a Ledger.
type Config struct {
	DB     *store.DB
	Broker *broker.Broker
	// Signer is the ledger's key: it signs each election's checkpoints
	// under the log's own key name, its origin "<ledger name>/<election>"
	// (checkpoint.Key.LogSigner); its name is the ledger name.
	Signer *checkpoint.Key
	// Authorities are the verifier keys of the election authorities whose
	// manifests this ledger logs: the operator's choice. Without any, it
	// defines no election.
	Authorities []string
	// MaxBatch is the most events per step; 0 means DefaultMaxBatch. A
	// step takes whole submissions: at least one, however large.
	MaxBatch int
	Logger   *slog.Logger
	// Registerer receives the ledger's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Ledger is the running state machine.
type Ledger struct {
	cfg     Config
	db      *store.DB
	name    string
	metrics *metrics
	health  healthCache
	// authorities is Config.Authorities as a set.
	authorities map[string]bool

	// mu guards the projections. The state machine holds it for writing
	// while it applies and commits a step, so that a tally never shows
	// state that is not on disk.
	mu sync.RWMutex
	// pub guards what has been committed: the elections map, each
	// election's committed size and checkpoint, the position, notify and
	// fatal. It is held only briefly, never across a disk sync, so that
	// submissions are not held up by a step. Lock order: mu, then pub.
	pub       sync.RWMutex
	elections map[string]*election
	position  uint64        // last stream sequence applied
	notify    chan struct{} // closed and replaced after each commit, and when a step fails to write
	fatal     error         // set when Run stops on an error
	// stall is why the last step failed to write, while Run retries it
	// (nil once a step commits); since when, after how many attempts, and
	// when that was last logged.
	stall         error
	stallSince    time.Time
	stallAttempts int
	stallLogged   time.Time
	// recent holds what the last steps logged, so that most receipts are
	// answered without a database read.
	recent     [8]map[uuid.UUID]store.EventRecord
	recentNext int
	// opened holds the submissions this node's edge opened and published
	// and still waits for, by submission ID (their messages' Nats-Msg-Id),
	// so that the state machine takes the edge's opened copy of a stream
	// message with the same bytes instead of opening it again (decoding
	// every event, checking the signature). A message from elsewhere
	// (another node's edge, anything that bypassed the edge) is opened as
	// always.
	opened sync.Map // uuid.UUID → *events.Submission
}

type election struct {
	proj    *projections.Election // guarded by mu
	size    uint64                // working size: the state machine's own
	pending map[int64]tlog.Hash   // hashes of the step not yet committed

	// snapAt and snapLen are the size and length of the newest stored
	// projection snapshot; only the step reads and writes them.
	snapAt  uint64
	snapLen int
	// maxRecorded is the latest recorded time of the log (the step's),
	// stored beside each snapshot as an index for as-of queries by time.
	maxRecorded time.Time

	committed  uint64               // guarded by pub: size of the log on disk
	checkpoint []byte               // guarded by pub: latest signed checkpoint on disk
	signers    *projections.Signers // guarded by pub: who may sign, as of committed
}

// Open loads the ledger's state from the database, rebuilding any
// projection that is missing or outdated.
func Open(cfg Config) (*Ledger, error) {
	if cfg.DB == nil || cfg.Broker == nil || cfg.Signer == nil {
		return nil, errors.New("ledger: Config needs DB, Broker and Signer")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Ledger{
		cfg: cfg, db: cfg.DB, name: cfg.Signer.Name(),
		elections: map[string]*election{}, notify: make(chan struct{}),
		metrics: newMetrics(cfg.Registerer), authorities: map[string]bool{},
	}
	for _, a := range cfg.Authorities {
		if _, err := events.ParseKey(a); err != nil {
			return nil, fmt.Errorf("authority: %w", err)
		}
		l.authorities[a] = true
	}
	var err error
	if l.position, err = l.db.Position(); err != nil {
		return nil, fmt.Errorf("couldn't read stream position: %w", err)
	}
	if err := l.checkAllStored(); err != nil {
		return nil, err
	}
	err = l.db.Elections(func(id string, size uint64) error {
		el, err := l.loadElection(id, size, true)
		if err != nil {
			return err
		}
		l.elections[id] = el
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.metrics.position.Set(float64(l.position))
	return l, nil
}

// loadElection loads an election's state as of its committed size from
// the database. With rebuild, a projection that is missing or outdated is
// rebuilt from the log (which writes); without, it is an error.
func (l *Ledger) loadElection(id string, size uint64, rebuild bool) (*election, error) {
	proj, err := projections.Load(id, func(fn func(string, []byte) error) error { return l.db.Cells(id, fn) })
	stale := errors.Is(err, projections.ErrOutdated) || (err == nil && proj.Size() != size)
	switch {
	case stale && rebuild:
		l.cfg.Logger.Info("rebuilding projection from the log", "election", id, "entries", size)
		proj, err = Rebuild(l.db, id, size, nil)
	case stale && err == nil:
		err = fmt.Errorf("the stored projection of %s is at size %d, its log at %d", id, proj.Size(), size)
	}
	if err != nil {
		return nil, err
	}
	el := &election{proj: proj, size: size, committed: size, signers: proj.Signers()}
	at, snap, err := l.db.Snapshot(id, size)
	if err != nil {
		return nil, fmt.Errorf("couldn't read the newest snapshot of %s: %w", id, err)
	}
	el.snapAt, el.snapLen = at, len(snap)
	if el.maxRecorded, err = audit.MaxRecordedAt(l.db, id, size); err != nil {
		return nil, fmt.Errorf("couldn't read the latest recorded time of %s: %w", id, err)
	}
	if size > 0 {
		if el.checkpoint, err = l.db.Checkpoint(id, size); err != nil {
			return nil, fmt.Errorf("couldn't read checkpoint of %s at size %d: %w", id, size, err)
		}
	}
	return el, nil
}

// Name is the ledger's name: the name of its ledger key, and the prefix of
// checkpoint origins.
func (l *Ledger) Name() string { return l.name }

// Origin returns the checkpoint origin of an election's log: also the name
// of the log's key.
func (l *Ledger) Origin(election string) string { return checkpoint.Origin(l.name, election) }

// LogKey returns the verifier key of an election's log, named by its
// origin (checkpoint.Key.LogKey), for an election the ledger has.
func (l *Ledger) LogKey(election string) (string, error) {
	if _, err := l.size(election); err != nil {
		return "", err
	}
	return l.cfg.Signer.LogKey(election), nil
}

// Position returns the last stream sequence applied.
func (l *Ledger) Position() uint64 {
	l.pub.RLock()
	defer l.pub.RUnlock()
	return l.position
}

// Err returns the error Run stopped with, if any.
func (l *Ledger) Err() error {
	l.pub.RLock()
	defer l.pub.RUnlock()
	return l.fatal
}

// WaitApplied blocks until the stream position reaches seq, ctx ends, the
// state machine stops on an error, or it fails to write a step (then the
// message stays in the stream, and is logged once the ledger can write).
func (l *Ledger) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		l.pub.RLock()
		pos, ch, fatal, stall := l.position, l.notify, l.fatal, l.stall
		l.pub.RUnlock()
		switch {
		case pos >= seq:
			return nil
		case fatal != nil:
			return fmt.Errorf("ledger stopped: %w", fatal)
		case stall != nil:
			return &UnavailableError{Published: true, Err: stall}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for stream message %d to be logged (at %d): %w", seq, pos, ctx.Err())
		}
	}
}

// Committed returns an election's committed log size and the signed
// checkpoint at that size, and a channel that is closed at the ledger's
// next commit (of any election), for followers that wait for the log to
// grow.
func (l *Ledger) Committed(election string) (size uint64, checkpoint []byte, changed <-chan struct{}, err error) {
	l.pub.RLock()
	defer l.pub.RUnlock()
	el, ok := l.elections[election]
	if !ok {
		return 0, nil, l.notify, fmt.Errorf("%w %q", ErrUnknownElection, election)
	}
	return el.committed, el.checkpoint, l.notify, nil
}

// ErrUnknownElection is returned for an election the ledger does not have.
var ErrUnknownElection = errors.New("unknown election")

// Elections lists the elections with their log sizes, by ID.
func (l *Ledger) Elections() []ElectionInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	l.pub.RLock()
	defer l.pub.RUnlock()
	out := make([]ElectionInfo, 0, len(l.elections))
	for id, el := range l.elections {
		out = append(out, ElectionInfo{ID: id, Name: el.proj.Manifest().Name, Size: el.committed, Status: el.proj.Status()})
	}
	slices.SortFunc(out, func(a, b ElectionInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ElectionInfo summarises one election.
type ElectionInfo = wire.ElectionInfo

// Tally returns an election's current totals.
func (l *Ledger) Tally(election string) (*projections.Tally, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	el := l.lookup(election)
	if el == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownElection, election)
	}
	return el.proj.Tally(), nil
}

// Checkpoint returns an election's latest signed checkpoint and its size.
func (l *Ledger) Checkpoint(election string) ([]byte, uint64, error) {
	l.pub.RLock()
	defer l.pub.RUnlock()
	el, ok := l.elections[election]
	if !ok {
		return nil, 0, fmt.Errorf("%w %q", ErrUnknownElection, election)
	}
	return el.checkpoint, el.committed, nil
}

// Entry returns the stored bytes of an election's entry.
func (l *Ledger) Entry(election string, index uint64) ([]byte, error) {
	size, err := l.size(election)
	if err != nil {
		return nil, err
	}
	if index >= size {
		return nil, fmt.Errorf("%w: entry %d is past the end of %s's log (size %d)", ErrOutOfRange, index, election, size)
	}
	return l.db.Entry(election, index)
}

// StoredEntry returns an entry as stored, without checking it against the
// published size: for an index read from the event-ID index, which is
// committed with its entry.
func (l *Ledger) StoredEntry(election string, index uint64) ([]byte, error) {
	return l.db.Entry(election, index)
}

// ErrOutOfRange is returned for an index past the end of a log.
var ErrOutOfRange = errors.New("out of range")

// Entries calls fn for entries [start, end) of an election's log; end is
// clipped to the log's size.
func (l *Ledger) Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error {
	size, err := l.size(election)
	if err != nil {
		return err
	}
	if start > size {
		return fmt.Errorf("%w: start %d is past the end of %s's log (size %d)", ErrOutOfRange, start, election, size)
	}
	return l.db.Entries(election, start, min(end, size), fn)
}

// Snapshot returns the newest projection snapshot of an election at a
// committed size of at most n (see audit.Snapshots).
func (l *Ledger) Snapshot(election string, n uint64) (uint64, []byte, error) {
	size, err := l.size(election)
	if err != nil {
		return 0, nil, err
	}
	return l.db.Snapshot(election, min(n, size))
}

// MaxRecorded calls fn for the stored latest-recorded times of an
// election's committed log (see audit.TimeIndex).
func (l *Ledger) MaxRecorded(election string, fn func(size uint64, max time.Time) error) error {
	size, err := l.size(election)
	if err != nil {
		return err
	}
	return l.db.MaxRecorded(election, func(n uint64, max time.Time) error {
		if n > size {
			return nil
		}
		return fn(n, max)
	})
}

// ReadHashes returns stored Merkle hashes of an election by storage index.
// Callers ask only for hashes of committed trees.
func (l *Ledger) ReadHashes(election string, indexes []int64) ([]tlog.Hash, error) {
	return l.db.ReadHashes(election, indexes)
}

func (l *Ledger) size(election string) (uint64, error) {
	l.pub.RLock()
	defer l.pub.RUnlock()
	el, ok := l.elections[election]
	if !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownElection, election)
	}
	return el.committed, nil
}

// lookup returns a committed election, or nil.
func (l *Ledger) lookup(id string) *election {
	l.pub.RLock()
	defer l.pub.RUnlock()
	return l.elections[id]
}

// LookupEvent says where an event ID was logged; store.ErrNotFound if not.
func (l *Ledger) LookupEvent(id uuid.UUID) (store.EventRecord, error) {
	return l.db.Event(id)
}
