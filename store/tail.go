package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"
)

// Beyond is what is stored of an election's log past a tree size N. The
// ledger stores nothing there: an entry, a hash or a checkpoint beyond N
// means the tree size was rewritten, or the log written behind the
// ledger's back. The ledger's self-check and the audit read it by key,
// not through the tree size.
type Beyond struct {
	Entry         uint64 // the first entry index ≥ N, if HasEntry
	Hash          int64  // the first hash storage index ≥ tlog.StoredHashCount(N), if HasHash
	Checkpoint    uint64 // the first checkpoint size > N, if HasCheckpoint
	HasEntry      bool
	HasHash       bool
	HasCheckpoint bool
}

// Beyond looks for entries, hashes and checkpoints of an election stored
// past a tree size: three seeks of one iterator, whatever the length of
// the log.
func (d *DB) Beyond(election string, size uint64) (Beyond, error) {
	var out Beyond
	it, err := d.pdb.NewIter(nil)
	if err != nil {
		return out, err
	}
	defer it.Close()
	seek := func(tag byte, from uint64) (uint64, bool, error) {
		p := electionPrefix(tag, election)
		it.SetBounds(electionKey(tag, election, from), prefixEnd(p))
		if !it.First() {
			return 0, false, it.Error()
		}
		k := it.Key()
		if len(k) != len(p)+8 || !bytes.HasPrefix(k, p) {
			return 0, false, fmt.Errorf("key %q of %s is corrupt", k, election)
		}
		return binary.BigEndian.Uint64(k[len(p):]), true, nil
	}
	if out.Entry, out.HasEntry, err = seek(tagEntry, size); err != nil {
		return out, err
	}
	var h uint64
	if h, out.HasHash, err = seek(tagHash, uint64(tlog.StoredHashCount(int64(size)))); err != nil {
		return out, err
	}
	out.Hash = int64(min(h, math.MaxInt64))
	if size < math.MaxUint64 {
		if out.Checkpoint, out.HasCheckpoint, err = seek(tagCheckpoint, size+1); err != nil {
			return out, err
		}
	}
	return out, nil
}

// LatestCheckpoint returns the stored checkpoint of the largest tree size
// and that size, and false if the election has none.
func (d *DB) LatestCheckpoint(election string) (uint64, []byte, bool, error) {
	p := electionPrefix(tagCheckpoint, election)
	it, err := d.pdb.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, nil, false, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, nil, false, it.Error()
	}
	k := it.Key()
	if len(k) != len(p)+8 {
		return 0, nil, false, fmt.Errorf("checkpoint key %q of %s is corrupt", k, election)
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return 0, nil, false, err
	}
	return binary.BigEndian.Uint64(k[len(p):]), bytes.Clone(v), true, nil
}
