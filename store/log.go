package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
)

// PutEntry stores entry index of an election's log.
func (b *Batch) PutEntry(election string, index uint64, data []byte) {
	b.set(electionKey(tagEntry, election, index), data)
}

// Entry returns the stored bytes of one entry.
func (d *DB) Entry(election string, index uint64) ([]byte, error) {
	return d.get(electionKey(tagEntry, election, index))
}

// Entries calls fn for entries [start, end) of an election's log in order.
// fn's data is valid only during the call.
func (d *DB) Entries(election string, start, end uint64, fn func(index uint64, data []byte) error) error {
	if start >= end {
		return nil
	}
	return d.scan(electionKey(tagEntry, election, start), electionKey(tagEntry, election, end), func(k, v []byte) error {
		return fn(binary.BigEndian.Uint64(k[len(k)-8:]), v)
	})
}

// PutHashes stores Merkle tree hashes at consecutive storage indexes (see
// tlog.StoredHashIndex) from first.
func (b *Batch) PutHashes(election string, first int64, hashes []tlog.Hash) {
	for i, h := range hashes {
		b.set(electionKey(tagHash, election, uint64(first)+uint64(i)), h[:])
	}
}

// ReadHashes returns stored hashes by storage index, as tlog.HashReader does.
func (d *DB) ReadHashes(election string, indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		v, err := d.get(electionKey(tagHash, election, uint64(idx)))
		if err != nil {
			return nil, fmt.Errorf("couldn't read hash %d of %s: %w", idx, election, err)
		}
		if len(v) != tlog.HashSize {
			return nil, fmt.Errorf("hash %d of %s is %d bytes, want %d", idx, election, len(v), tlog.HashSize)
		}
		copy(out[i][:], v)
	}
	return out, nil
}

// HashReader returns a tlog.HashReader over an election's stored hashes.
func (d *DB) HashReader(election string) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return d.ReadHashes(election, idx) })
}

// PutCheckpoint stores the signed checkpoint of an election's tree at size.
func (b *Batch) PutCheckpoint(election string, size uint64, signed []byte) {
	b.set(electionKey(tagCheckpoint, election, size), signed)
}

// Checkpoint returns the signed checkpoint issued at a tree size.
func (d *DB) Checkpoint(election string, size uint64) ([]byte, error) {
	return d.get(electionKey(tagCheckpoint, election, size))
}

// Checkpoints calls fn for every checkpoint of an election, by size.
func (d *DB) Checkpoints(election string, fn func(size uint64, signed []byte) error) error {
	p := electionPrefix(tagCheckpoint, election)
	return d.scan(p, prefixEnd(p), func(k, v []byte) error {
		return fn(binary.BigEndian.Uint64(k[len(k)-8:]), v)
	})
}

// PutTreeSize records an election's log size; it also registers the election.
func (b *Batch) PutTreeSize(election string, size uint64) {
	b.set(append([]byte{tagElection}, election...), binary.BigEndian.AppendUint64(nil, size))
}

// TreeSize returns an election's log size, and false if the database does
// not hold the election.
func (d *DB) TreeSize(election string) (uint64, bool, error) {
	v, err := d.get(append([]byte{tagElection}, election...))
	switch {
	case errors.Is(err, ErrNotFound):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	case len(v) != 8:
		return 0, false, fmt.Errorf("election record %q is corrupt", election)
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// Elections calls fn for every election with its log size, in ID order.
func (d *DB) Elections(fn func(election string, size uint64) error) error {
	lo := []byte{tagElection}
	return d.scan(lo, prefixEnd(lo), func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("election record %q is corrupt", k[1:])
		}
		return fn(string(k[1:]), binary.BigEndian.Uint64(v))
	})
}

// EventRecord says where an event ID was logged.
type EventRecord struct {
	Election string
	Index    uint64
	Accepted bool
}

func eventKey(id uuid.UUID) []byte { return append([]byte{tagEvent}, id[:]...) }

// PutEvent indexes an event ID.
func (b *Batch) PutEvent(id uuid.UUID, r EventRecord) {
	v := append([]byte(r.Election), 0)
	v = binary.BigEndian.AppendUint64(v, r.Index)
	if r.Accepted {
		v = append(v, 1)
	} else {
		v = append(v, 0)
	}
	b.set(eventKey(id), v)
}

// Event looks up an event ID; ErrNotFound if it was never logged.
func (d *DB) Event(id uuid.UUID) (EventRecord, error) {
	v, err := d.get(eventKey(id))
	if err != nil {
		return EventRecord{}, err
	}
	return decodeEventRecord(id, v)
}

func decodeEventRecord(id uuid.UUID, v []byte) (EventRecord, error) {
	n := len(v) - 10
	if n < 0 || v[n] != 0 {
		return EventRecord{}, fmt.Errorf("event index record for %s is corrupt", id)
	}
	return EventRecord{Election: string(v[:n]), Index: binary.BigEndian.Uint64(v[n+1:]), Accepted: v[len(v)-1] == 1}, nil
}

// LoggedEvents looks up many event IDs at once, in ID order through one
// iterator, which costs much less than an Event call each when the IDs are
// new. It returns the records of those that are logged.
func (d *DB) LoggedEvents(ids []uuid.UUID) (map[uuid.UUID]EventRecord, error) {
	sorted := slices.Clone(ids)
	slices.SortFunc(sorted, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	it, err := d.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{tagEvent}, UpperBound: []byte{tagEvent + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out map[uuid.UUID]EventRecord
	for i, id := range sorted {
		if i > 0 && id == sorted[i-1] {
			continue
		}
		key := eventKey(id)
		if !it.SeekPrefixGE(key) || !bytes.Equal(it.Key(), key) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		rec, err := decodeEventRecord(id, v)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = map[uuid.UUID]EventRecord{}
		}
		out[id] = rec
	}
	return out, it.Error()
}

// SeqRecord is what one stream message, a signed submission, became:
// entries, duplicates of earlier events, or nothing (with the reason).
type SeqRecord struct {
	ID      uuid.UUID // the submission's ID (its Nats-Msg-Id); Nil if it did not open
	Outcome string    // "logged N" or "logged N, duplicate M" (events), or "dropped: <reason>"
}

// PutSeq records what stream message seq became.
func (b *Batch) PutSeq(seq uint64, r SeqRecord) {
	v := append(r.ID[:], r.Outcome...)
	b.set(binary.BigEndian.AppendUint64([]byte{tagSeq}, seq), v)
}

// PutPosition records the last stream sequence applied.
func (b *Batch) PutPosition(seq uint64) {
	b.set([]byte{tagMeta, 'p', 'o', 's'}, binary.BigEndian.AppendUint64(nil, seq))
}

// Seq returns the record of one stream message.
func (d *DB) Seq(seq uint64) (SeqRecord, error) {
	v, err := d.get(binary.BigEndian.AppendUint64([]byte{tagSeq}, seq))
	if err != nil {
		return SeqRecord{}, err
	}
	if len(v) < 16 {
		return SeqRecord{}, fmt.Errorf("stream record %d is corrupt", seq)
	}
	var r SeqRecord
	copy(r.ID[:], v)
	r.Outcome = string(v[16:])
	return r, nil
}

// Position returns the last stream sequence applied, 0 if none.
func (d *DB) Position() (uint64, error) {
	v, err := d.get([]byte{tagMeta, 'p', 'o', 's'})
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, errors.New("stream position record is corrupt")
	}
	return binary.BigEndian.Uint64(v), nil
}
