// Package store is the ledger's system of record: one Pebble database that
// holds every election's log (entries, Merkle hashes, signed checkpoints),
// the event-ID index, the projections and the stream position.
//
// # Guarantees
//
// Everything one ingest step changes goes into one [Batch], committed with
// [Batch.Commit], which syncs to disk before it returns. A crash leaves the
// database as of the last committed batch: never half a step.
//
// Writes are refused, with a [NoSpaceError] and before Pebble sees them,
// while the disk has less than [Options].MinFree free: Pebble ends the
// process on a failed log write (space.go).
//
// # Format
//
// Keys start with a one-byte table tag; election IDs never contain 0x00, so
// "tag, election, 0x00, big-endian number" keys sort in log order. See
// docs/storage.md.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Table tags.
const (
	tagEntry      = 'e' // e election 0 index(8)        → entry bytes
	tagHash       = 'h' // h election 0 storageIndex(8) → 32-byte tlog hash
	tagCheckpoint = 'c' // c election 0 size(8)         → signed checkpoint note
	tagElection   = 'x' // x election                   → tree size(8)
	tagEvent      = 'i' // i uuid(16)                   → election 0 index(8) verdict(1)
	tagSeq        = 'q' // q seq(8)                     → what the stream message became
	tagProjection = 'p' // p election 0 cell key        → cell bytes (package projections)
	tagMeta       = 'm' // m name                       → value
	tagSnapshot   = 's' // s election 0 size(8)         → projection snapshot (package projections)
	tagTime       = 't' // t election 0 size(8)         → latest recorded time of entries [0, size): unix s(8) ns(4)
	tagSubmission = 'u' // u election 0 sha256(32)      → a signed submission that entries came from
)

// Memory bounds: the block cache and the memtable size. With Pebble's
// default of two memtables, the database uses about CacheSize+2×MemTableSize
// whatever the length of the log.
const (
	CacheSize    = 256 << 20
	MemTableSize = 64 << 20
	BlockSize    = 32 << 10 // data blocks of the sstables
)

// ErrNotFound is returned when a key is absent.
var ErrNotFound = errors.New("not found")

// ErrInUse is returned (wrapped) by Open when another process, or another
// Open in this one, has the database open: Pebble holds a lock on its LOCK
// file while it is open.
var ErrInUse = errors.New("another process has it open (a ledger serve, rebuild or audit of the same data directory?)")

// lockHeld reports whether pebble.Open failed because the database's lock
// is held: by another process, the lock call's own error (EAGAIN or EACCES
// from fcntl, not a path error of creating the file); by this one, Pebble's
// own message.
func lockHeld(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

// DB is an open ledger database. Its methods are safe for concurrent use;
// reads see the last committed batch.
type DB struct {
	pdb   *pebble.DB
	space *space
}

// Options configure OpenWith. Zero values take the defaults.
type Options struct {
	// FS is the filesystem the database is stored on; nil means the
	// operating system's (vfs.Default). Tests inject faults through it.
	FS vfs.FS
	// MinFree is the space, in bytes, the database keeps free on its disk:
	// a write that would leave less is refused with a *NoSpaceError, and
	// so is opening with less. 0 means DefaultMinFree; negative, no check.
	MinFree int64
}

// Open opens (creating if needed) the database in dir, with the default
// Options.
func Open(dir string) (*DB, error) { return OpenWith(dir, Options{}) }

// OpenWith opens (creating if needed) the database in dir.
//
// It refuses, with a *NoSpaceError, to open on a disk with less than
// opts.MinFree free: Pebble writes as it opens (its write-ahead log into a
// new table, a new MANIFEST), and on a full disk it retried the table
// without end.
func OpenWith(dir string, opts Options) (*DB, error) {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	sp := &space{fs: opts.FS, dir: dir}
	switch {
	case opts.MinFree == 0:
		sp.minFree = DefaultMinFree
	case opts.MinFree > 0:
		sp.minFree = uint64(opts.MinFree)
	}
	if err := sp.check(0); err != nil {
		var nse *NoSpaceError
		if errors.As(err, &nse) {
			nse.Refused = "it does not open (it writes as it opens); free space and start again"
		}
		return nil, fmt.Errorf("couldn't open Pebble database in %s: %w", dir, err)
	}
	cache := pebble.NewCache(CacheSize)
	defer cache.Unref()
	po := &pebble.Options{FS: opts.FS, Cache: cache, MemTableSize: MemTableSize, Logger: &limitedLogger{}}
	for i := range po.Levels {
		// Most event-ID lookups are for IDs not yet logged: bloom filters
		// answer those without reading data blocks.
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// Audits read the log from end to end, and paid per block (a
		// cache miss, a read, a checksum, a decompression) for five
		// entries in Pebble's default 4 KiB: 32 KiB blocks read it about
		// four times as fast (docs/performance.md).
		po.Levels[i].BlockSize = BlockSize
	}
	pdb, err := pebble.Open(dir, po)
	if err != nil {
		if lockHeld(err) {
			return nil, fmt.Errorf("couldn't open Pebble database in %s: %w (its lock: %w)", dir, ErrInUse, err)
		}
		return nil, fmt.Errorf("couldn't open Pebble database in %s: %w", dir, err)
	}
	return &DB{pdb: pdb, space: sp}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.pdb.Close() }

// Pebble returns the underlying database, for benchmarks and tools.
func (d *DB) Pebble() *pebble.DB { return d.pdb }

// Batch is one atomic, durable step.
type Batch struct {
	b     *pebble.Batch
	space *space
}

// NewBatch starts a write batch.
func (d *DB) NewBatch() *Batch { return &Batch{b: d.pdb.NewBatch(), space: d.space} }

// Commit writes the batch and syncs it to disk before returning. If the
// disk has less free space than the database keeps, it writes nothing and
// returns a *NoSpaceError; the batch can be committed later.
func (b *Batch) Commit() error {
	if err := b.space.check(b.b.Len()); err != nil {
		return fmt.Errorf("couldn't commit batch: %w", err)
	}
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("couldn't commit batch: %w", err)
	}
	pb := b.b
	b.b = nil // Close after Commit must not release the pooled batch twice
	return pb.Close()
}

// Close releases an uncommitted batch, discarding it. After Commit it does
// nothing.
func (b *Batch) Close() error {
	if b.b == nil {
		return nil
	}
	return b.b.Close()
}

// Len is the number of bytes in the batch so far.
func (b *Batch) Len() int { return b.b.Len() }

func (b *Batch) set(k, v []byte) {
	// Set on an uncommitted batch only fails if the batch is closed or too
	// large (4 GiB), both programming errors.
	if err := b.b.Set(k, v, nil); err != nil {
		panic(fmt.Sprintf("store: batch set: %v", err))
	}
}

func (b *Batch) del(k []byte) {
	if err := b.b.Delete(k, nil); err != nil {
		panic(fmt.Sprintf("store: batch delete: %v", err))
	}
}

func electionKey(tag byte, election string, n uint64) []byte {
	k := make([]byte, 0, 2+len(election)+8)
	k = append(k, tag)
	k = append(k, election...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, n)
}

func electionPrefix(tag byte, election string) []byte {
	k := append([]byte{tag}, election...)
	return append(k, 0)
}

// prefixEnd returns the first key after every key with the prefix.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func (d *DB) get(k []byte) ([]byte, error) {
	v, closer, err := d.pdb.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}

// scan calls fn for each key in [lo, hi) in order; fn's slices are valid
// only during the call.
func (d *DB) scan(lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := d.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}
