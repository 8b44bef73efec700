package store

// The database keeps space free on its disk. Pebble cannot survive running
// out of it: a failed write to its write-ahead log or MANIFEST stops the
// process (Logger.Fatalf), and a flush that fails is retried without pause,
// which is how a full disk used to crash the ledger, and then spin at
// start. So every write is refused, before Pebble sees it, while the disk
// has less than MinFree free (docs/security.md, "A full disk").

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/election-audit/ledger/internal/diskspace"
)

// DefaultMinFree is the space the database keeps free by default: room for
// a memtable flush (MemTableSize) and a new write-ahead log, which Pebble
// preallocates at 110% of MemTableSize.
const DefaultMinFree = 2*MemTableSize + MemTableSize/2

// NoSpaceError is returned by Open, by Batch.Commit and by the other
// writes when the disk holding the database has less free space than the
// database keeps: nothing was written. errors.Is(err, syscall.ENOSPC)
// holds for it.
type NoSpaceError = diskspace.NoSpaceError

// pebbleStore names the database in a NoSpaceError.
const pebbleStore = "the ledger database (Pebble)"

// space measures the free space of the database's disk.
type space struct {
	fs      vfs.FS
	dir     string
	minFree uint64 // 0: no check
}

// check returns a *NoSpaceError if writing need more bytes would leave less
// than minFree free. One statfs(2), about a microsecond.
func (s *space) check(need int) error {
	if s.minFree == 0 {
		return nil
	}
	free, err := s.free()
	if err != nil {
		// A disk whose free space cannot be read is not refused: the
		// write says what is wrong with it.
		return nil
	}
	if free < s.minFree+uint64(need) {
		return &NoSpaceError{Store: pebbleStore, Dir: s.dir, Free: free, MinFree: s.minFree, Refused: "writes are refused"}
	}
	return nil
}

func (s *space) free() (uint64, error) { return diskspace.Free(s.fs, s.dir) }

// Space returns nil if the database's disk has at least the space it keeps
// free, and a *NoSpaceError otherwise: a write now would be refused.
func (d *DB) Space() error { return d.space.check(0) }

// limitedLogger writes Pebble's errors to stderr, the first at once and
// then at most one a minute with the number left out: a failing flush is
// retried by Pebble without pause, and each attempt logs an error.
type limitedLogger struct {
	mu      sync.Mutex
	last    time.Time
	dropped int
}

func (l *limitedLogger) Infof(string, ...any) {}

func (l *limitedLogger) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < time.Minute {
		l.dropped++
		return
	}
	l.last = now
	msg := fmt.Sprintf("pebble: "+format, args...)
	if l.dropped > 0 {
		msg += fmt.Sprintf(" (and %d more errors in the last minute)", l.dropped)
		l.dropped = 0
	}
	fmt.Fprintln(os.Stderr, msg)
}

// Fatalf ends the process, as Pebble's own logger does: Pebble calls it
// when it cannot go on (its commit pipeline is broken), and returning
// would let a failed commit look committed.
func (l *limitedLogger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: fatal: "+format+"\n", args...)
	os.Exit(1)
}
