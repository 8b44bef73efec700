package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
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

// PutMaxRecorded stores, beside a snapshot, the latest recorded time of
// entries [0, size) of an election: an index for as-of queries by time.
func (b *Batch) PutMaxRecorded(election string, size uint64, max time.Time) {
	v := binary.BigEndian.AppendUint64(nil, uint64(max.Unix()))
	b.set(electionKey(tagTime, election, size), binary.BigEndian.AppendUint32(v, uint32(max.Nanosecond())))
}

// MaxRecorded calls fn for every stored latest-recorded time of an
// election, by size.
func (d *DB) MaxRecorded(election string, fn func(size uint64, max time.Time) error) error {
	p := electionPrefix(tagTime, election)
	return d.scan(p, prefixEnd(p), func(k, v []byte) error {
		if len(v) != 12 {
			return fmt.Errorf("time index of %s at %d is corrupt", election, binary.BigEndian.Uint64(k[len(k)-8:]))
		}
		t := time.Unix(int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint32(v[8:]))).UTC()
		return fn(binary.BigEndian.Uint64(k[len(k)-8:]), t)
	})
}

// DeleteMaxRecorded deletes an election's time index.
func (b *Batch) DeleteMaxRecorded(election string) {
	p := electionPrefix(tagTime, election)
	if err := b.b.DeleteRange(p, prefixEnd(p), nil); err != nil {
		panic(fmt.Sprintf("store: batch delete range: %v", err))
	}
}
