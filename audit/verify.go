// Package audit checks a ledger's logs without trusting anything the ledger
// computed: it re-reads every stored entry, re-hashes it, rebuilds the
// Merkle tree, checks it against every signed checkpoint, and replays the
// tally.
//
// For most uses, call [Verify] on an open database.
//
// # Guarantees
//
// Verify never trusts a stored root, and never hashes anything but stored
// entry bytes: every hash it compares is computed from them. (It encodes
// an entry only to check that its bytes are its canonical encoding.) It
// also looks past the stored tree size: an entry, a Merkle hash or a
// signed checkpoint stored beyond it means the size was rewritten (or
// entries lost). It reports the first mismatch as a *[MismatchError]
// naming the election and the index. A compact range holds the tree's
// right edge; the one thing its memory holds per entry is the event ID,
// to find one logged twice: about 27 to 38 bytes an entry while the
// replay runs (270 to 380 MB for 10,000,000 entries).
package audit

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit/logcheck"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
	"github.com/election-audit/ledger/store"
)

// MismatchError is a verification failure at one place of one log
// (Election, Index, What): the type of package logcheck, which checks a
// log one entry at a time without a store.
type MismatchError = logcheck.MismatchError

// Result summarises a verified log.
type Result struct {
	Election    string
	Size        uint64
	Root        tlog.Hash
	Checkpoints int // signed checkpoints checked
	Submissions int // signed submissions the entries were held to
}

// Verify checks one election's log in db: each entry decodes and carries
// its index; each stored Merkle hash equals the one recomputed from the
// entries; every stored checkpoint is signed by the election's log key,
// under its origin (key is the ledger key or that log key:
// checkpoint.LogVerifier), and its root equals the recomputed root at its size (so all checkpoints
// are consistent with each other); the latest checkpoint covers the whole
// log; nothing (no entry, no Merkle hash, no checkpoint) is stored past the
// tree size, so a rewritten size is caught; every entry is the event of
// the signed submission it names, signed as it says (VerifyOrigins); the
// replay holds every entry to its canonical encoding and refuses an event
// ID logged twice, and re-decides every verdict, the signer's right to
// make each event included; and the stored projection, and every
// projection snapshot, equal a fresh replay at their sizes.
func Verify(db *store.DB, election string, key string) (*Result, error) {
	size, err := treeSize(db, election)
	if err != nil {
		return nil, err
	}
	var cps []Checkpoint
	err = db.Checkpoints(election, func(n uint64, signed []byte) error {
		cps = append(cps, Checkpoint{Size: n, Signed: bytes.Clone(signed)}) // signed is only valid during the call
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := checkEnds(db, election, size); err != nil {
		return nil, err
	}
	stored := func(idx int64) (tlog.Hash, error) {
		h, err := db.ReadHashes(election, []int64{idx})
		if err != nil {
			return tlog.Hash{}, err
		}
		return h[0], nil
	}
	res, err := VerifyLog(db, election, size, cps, key, stored)
	if err != nil {
		return nil, err
	}
	if size > 0 && (len(cps) == 0 || cps[len(cps)-1].Size != size) {
		return nil, &MismatchError{Election: election, Index: size, What: "no signed checkpoint covers the whole log"}
	}
	// The origin check (VerifyOrigins) shares the replay's pass.
	org := originsOf(election, db)
	if err := checkProjection(db, election, size, org.Check); err != nil {
		return nil, err
	}
	res.Submissions = org.Opened()
	return res, nil
}

// Checkpoint is a signed checkpoint and the tree size it was issued at.
type Checkpoint struct {
	Size   uint64
	Signed []byte
}

// VerifyLog checks entries [0, size) from src against signed checkpoints
// (in increasing size, each at most size): every checkpoint must be signed
// by the election's log key for its origin (key is the ledger key or that
// log key: checkpoint.LogVerifier), and its root must equal the root
// recomputed from the entry bytes at its size, and entries must be dense
// from 0. It hashes the bytes without decoding them: decoding, with each
// entry's index and verdict, is Replay's check. If stored is not nil, every Merkle hash the ledger
// stored (by tlog storage index) must also equal the recomputed one.
func VerifyLog(src Source, election string, size uint64, cps []Checkpoint, key string, stored func(idx int64) (tlog.Hash, error)) (*Result, error) {
	v, origin, kerr := checkpoint.LogVerifier(key, election)
	if kerr != nil {
		return nil, kerr
	}
	type cp struct {
		size uint64
		root tlog.Hash
	}
	var opened []cp
	for _, c := range cps {
		o, err := checkpoint.Open(c.Signed, origin, v)
		if err != nil {
			return nil, &MismatchError{Election: election, Index: c.Size, What: err.Error()}
		}
		if o.Size != c.Size {
			return nil, &MismatchError{Election: election, Index: c.Size, What: fmt.Sprintf("checkpoint stored at size %d says size %d", c.Size, o.Size)}
		}
		if c.Size > size {
			return nil, &MismatchError{Election: election, Index: c.Size, What: fmt.Sprintf("checkpoint at size %d is past the end of the log (size %d)", c.Size, size)}
		}
		if len(opened) > 0 && opened[len(opened)-1].size >= c.Size {
			return nil, fmt.Errorf("checkpoints of %s are not in increasing size", election)
		}
		opened = append(opened, cp{c.Size, o.Root})
	}

	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	var visitErr error
	var visit compact.VisitFn
	if stored != nil {
		visit = func(id compact.NodeID, hash []byte) {
			if visitErr != nil {
				return
			}
			got, err := stored(tlog.StoredHashIndex(int(id.Level), int64(id.Index)))
			if err != nil {
				visitErr = &MismatchError{Election: election, Index: id.Index << id.Level, What: fmt.Sprintf("stored hash (level %d, index %d) is missing: %v", id.Level, id.Index, err)}
				return
			}
			if !bytes.Equal(got[:], hash) {
				var want tlog.Hash
				copy(want[:], hash)
				visitErr = &MismatchError{Election: election, Index: id.Index << id.Level, What: fmt.Sprintf("stored hash (level %d, index %d) is %s, the entries give %s", id.Level, id.Index, got, want)}
			}
		}
	}
	next := uint64(0)
	ci := 0
	var root tlog.Hash
	add := func(index uint64, leaf *tlog.Hash) error {
		if index != next {
			return &MismatchError{Election: election, Index: next, What: "entry is missing"}
		}
		if err := tree.Append(leaf[:], visit); err != nil {
			return err
		}
		if visitErr != nil {
			return visitErr
		}
		next++
		for ci < len(opened) && opened[ci].size == next {
			r, err := tree.GetRootHash(nil)
			if err != nil {
				return err
			}
			copy(root[:], r)
			if root != opened[ci].root {
				// The previous checkpoint matched, so the change is in
				// the entries since it.
				from := uint64(0)
				if ci > 0 {
					from = opened[ci-1].size
				}
				return &MismatchError{Election: election, Index: from, What: fmt.Sprintf("entries [%d, %d) are not what the checkpoint at size %d signed: its root is %s, the entries give %s", from, next, next, opened[ci].root, root)}
			}
			ci++
		}
		return nil
	}
	// Leaf hashes are computed in parallel, ahead of the tree, which takes
	// them in log order.
	p := newPipeline(src, election, 0, size, leafWorker)
	var err error
	for b := range p.order {
		<-b.done
		for i := range b.items {
			if err != nil {
				break // drain, so that the reader and workers stop
			}
			if err = add(b.items[i].index, &b.leaves[i]); err != nil {
				p.cancel()
			}
		}
		p.release(b)
	}
	p.wait()
	if err == nil {
		err = p.srcErr
	}
	if err != nil {
		return nil, err
	}
	if next != size {
		return nil, &MismatchError{Election: election, Index: next, What: fmt.Sprintf("log has %d entries, its tree size says %d", next, size)}
	}
	if r, err := tree.GetRootHash(nil); err == nil && size > 0 {
		copy(root[:], r)
	}
	return &Result{Election: election, Size: size, Root: root, Checkpoints: len(opened)}, nil
}

// checkEnds checks that the tree size covers everything stored of the log:
// no entry, Merkle hash or checkpoint is stored past it. A tree size
// rewritten downwards shows here, before the ledger appends over the
// entries it no longer counts (docs/storage.md).
func checkEnds(db *store.DB, election string, size uint64) error {
	past, err := db.Beyond(election, size)
	if err != nil {
		return err
	}
	switch {
	case past.HasEntry:
		return &MismatchError{Election: election, Index: past.Entry, What: fmt.Sprintf("entry %d is stored past the tree size %d: the size was rewritten, or entries were written behind the ledger's back", past.Entry, size)}
	case past.HasCheckpoint:
		return &MismatchError{Election: election, Index: size, What: fmt.Sprintf("the tree size %d is behind a checkpoint signed at size %d: the size was rewritten, or entries were lost", size, past.Checkpoint)}
	case past.HasHash:
		level, n := tlog.SplitStoredHashIndex(past.Hash)
		return &MismatchError{Election: election, Index: uint64(n) << level, What: fmt.Sprintf("a Merkle hash (storage index %d, level %d) is stored past the tree of size %d", past.Hash, level, size)}
	}
	return nil
}

func treeSize(db *store.DB, election string) (uint64, error) {
	size, ok, err := db.TreeSize(election)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: no election %q in this ledger", ErrUnknownElection, election)
	}
	return size, nil
}

// ErrUnknownElection is returned for an election the database does not hold.
var ErrUnknownElection = errors.New("unknown election")

// checkProjection compares the stored projection with a fresh replay, in
// which raw, if not nil, sees each entry's stored bytes first.
func checkProjection(db *store.DB, election string, size uint64, raw func(uint64, []byte) error) error {
	stored, err := projections.Load(election, func(fn func(string, []byte) error) error { return db.Cells(election, fn) })
	if err != nil {
		return &MismatchError{Election: election, Index: size, What: "stored projection: " + err.Error()}
	}
	var snaps []uint64
	if err := db.Snapshots(election, func(n uint64, _ []byte) error {
		snaps = append(snaps, n)
		return nil
	}); err != nil {
		return err
	}
	if len(snaps) > 0 && snaps[len(snaps)-1] > size {
		return &MismatchError{Election: election, Index: snaps[len(snaps)-1], What: fmt.Sprintf("a projection snapshot is stored at size %d, past the end of the log (size %d)", snaps[len(snaps)-1], size)}
	}
	type point struct {
		size uint64
		max  time.Time
	}
	var times []point
	if err := db.MaxRecorded(election, func(n uint64, m time.Time) error {
		times = append(times, point{n, m})
		return nil
	}); err != nil {
		return err
	}
	// Each time index point must be the latest recorded time of the
	// entries before it.
	var max time.Time
	checkTime := func(n uint64) error {
		for len(times) > 0 && times[0].size <= n {
			if times[0].size == n && !times[0].max.Equal(max) {
				return &MismatchError{Election: election, Index: n, What: fmt.Sprintf("the time index says the entries before %d were recorded by %s; they were by %s", n, times[0].max.Format(time.RFC3339Nano), max.Format(time.RFC3339Nano))}
			}
			if times[0].size < n {
				return &MismatchError{Election: election, Index: times[0].size, What: "the time index has a point the replay never reached"}
			}
			times = times[1:]
		}
		return nil
	}
	// Each snapshot must be the replay as it stood at the snapshot's size.
	var fresh *projections.Election
	check := func(p *projections.Election) error {
		if len(snaps) == 0 || p.Size() != snaps[0] {
			return nil
		}
		n := snaps[0]
		snaps = snaps[1:]
		at, snap, err := db.Snapshot(election, n)
		if err != nil {
			return err
		}
		if at != n {
			return &MismatchError{Election: election, Index: n, What: "projection snapshot vanished while verifying"}
		}
		if !bytes.Equal(snap, p.Snapshot()) {
			if _, err := projections.Restore(election, p.Manifest(), snap); errors.Is(err, projections.ErrSnapshotOutdated) {
				return nil // of another schema version: never used
			}
			return &MismatchError{Election: election, Index: n, What: fmt.Sprintf("the projection snapshot stored at size %d differs from a replay of the log", n)}
		}
		return nil
	}
	if err := foldRaw(db, election, 0, size, &fresh, raw, func(en *events.Entry) error {
		if err := checkTime(en.Index); err != nil {
			return err
		}
		if en.Recorded.After(max) {
			max = en.Recorded
		}
		if en.Index == 0 {
			return nil
		}
		return check(fresh)
	}); err != nil {
		return err
	}
	if err := check(fresh); err != nil {
		return err
	}
	if err := checkTime(size); err != nil {
		return err
	}
	if len(times) > 0 {
		return &MismatchError{Election: election, Index: times[0].size, What: fmt.Sprintf("the time index has a point at %d, past the end of the log (size %d)", times[0].size, size)}
	}
	a, err := stored.Tally().Encode()
	if err != nil {
		return err
	}
	b, err := fresh.Tally().Encode()
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return &MismatchError{Election: election, Index: size, What: "stored projection differs from a replay of the log"}
	}
	return nil
}
