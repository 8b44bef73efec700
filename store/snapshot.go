package store

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PutSnapshot stores a projection snapshot of an election at a log size.
func (b *Batch) PutSnapshot(election string, size uint64, snap []byte) {
	b.set(electionKey(tagSnapshot, election, size), snap)
}

// Snapshot returns the newest snapshot of an election taken at a size of at
// most n, and that size; size 0 and nil when there is none.
func (d *DB) Snapshot(election string, n uint64) (size uint64, snap []byte, err error) {
	it, err := d.pdb.NewIter(nil)
	if err != nil {
		return 0, nil, err
	}
	defer it.Close()
	lo := electionPrefix(tagSnapshot, election)
	if n < math.MaxUint64 {
		n++
	}
	if !it.SeekLT(electionKey(tagSnapshot, election, n)) || len(it.Key()) != len(lo)+8 || string(it.Key()[:len(lo)]) != string(lo) {
		return 0, nil, it.Error()
	}
	size = binary.BigEndian.Uint64(it.Key()[len(lo):])
	v, err := it.ValueAndErr()
	if err != nil {
		return 0, nil, err
	}
	return size, append([]byte(nil), v...), nil
}

// Snapshots calls fn for every snapshot of an election, by size; snap is
// valid only during the call.
func (d *DB) Snapshots(election string, fn func(size uint64, snap []byte) error) error {
	p := electionPrefix(tagSnapshot, election)
	return d.scan(p, prefixEnd(p), func(k, v []byte) error {
		return fn(binary.BigEndian.Uint64(k[len(k)-8:]), v)
	})
}

// DeleteSnapshots deletes every snapshot of an election.
func (b *Batch) DeleteSnapshots(election string) {
	p := electionPrefix(tagSnapshot, election)
	if err := b.b.DeleteRange(p, prefixEnd(p), nil); err != nil {
		panic(fmt.Sprintf("store: batch delete range: %v", err))
	}
}
