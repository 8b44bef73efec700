package ledger

// The ledger checks its own storage before it signs: at start, for each
// election, and in each step, before checkpoint.Sign. A log whose stored
// tree size, entries, stored hashes and latest signed checkpoint disagree
// gets no new signature: Open fails, or the step stops Run, with a
// *StorageAlarm. The full re-hash of a log is `ledger audit verify`; these
// checks cost what the step appended plus O(log n) hashes, and at start a
// bounded amount per election (docs/storage.md, Storage self-check).

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/store"
)

// StorageAlarm is returned by Open, and by Run, when an election's stored
// log disagrees with itself or with the last checkpoint the ledger signed:
// an entry or a hash stored past the tree size, a tree size behind the
// latest signed checkpoint, an entry whose bytes do not give its stored
// hash, stored hashes that do not give the signed root. The ledger then
// signs nothing: Open fails, or the step stops Run without committing.
type StorageAlarm struct {
	Election string
	Index    uint64 // the entry, or the tree size, at fault
	What     string
}

func (a *StorageAlarm) Error() string {
	return fmt.Sprintf("ALARM: the stored log of %s disagrees with itself at index %d: %s; the ledger refuses to sign over it (`ledger audit verify` checks the whole log)", a.Election, a.Index, a.What)
}

func storageAlarm(election string, index uint64, format string, args ...any) error {
	return &StorageAlarm{Election: election, Index: index, What: fmt.Sprintf(format, args...)}
}

// hashAlarm turns a missing stored hash into an alarm; other read errors
// stay errors.
func hashAlarm(election string, index uint64, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return storageAlarm(election, index, "%v", err)
	}
	return fmt.Errorf("couldn't read the stored hashes of %s: %w", election, err)
}

// checkAllStored runs checkStored on every election, before Open writes
// anything (a projection rebuild), so that storage with an alarm is left
// as it was found.
func (l *Ledger) checkAllStored() error { return l.db.Elections(l.checkStored) }

// checkStored checks an election's stored log at start, in O(log size)
// reads and one signature: nothing (no entry, hash or checkpoint) is stored
// past the tree size; the last entry's bytes give its stored leaf hash; the
// stored hashes give the latest checkpoint's root (or, if that checkpoint
// is older, a tree consistent with it); and that checkpoint is the one
// this ledger signs for that root.
func (l *Ledger) checkStored(id string, size uint64) error {
	if err := l.checkNothingPast(id, size); err != nil {
		return err
	}
	cpSize, signed, ok, err := l.db.LatestCheckpoint(id)
	if err != nil {
		return fmt.Errorf("couldn't read the latest checkpoint of %s: %w", id, err)
	}
	switch {
	case !ok && size == 0:
		return nil
	case !ok:
		return storageAlarm(id, size, "the tree size is %d but no checkpoint was ever signed", size)
	case size == 0 || cpSize == 0:
		return storageAlarm(id, 0, "a checkpoint is stored at size %d of a log of size %d; a log starts with its manifest", cpSize, size)
	}
	cpRoot, err := checkpointRoot(id, cpSize, signed, l.Origin(id))
	if err != nil {
		return err
	}

	last := size - 1
	data, err := l.db.Entry(id, last)
	if errors.Is(err, store.ErrNotFound) {
		return storageAlarm(id, last, "the last entry (%d) of a log of size %d is missing", last, size)
	}
	if err != nil {
		return fmt.Errorf("couldn't read entry %d of %s: %w", last, id, err)
	}
	leaf, err := l.db.ReadHashes(id, []int64{tlog.StoredHashIndex(0, int64(last))})
	if err != nil {
		return hashAlarm(id, last, err)
	}
	if got := tlog.RecordHash(data); got != leaf[0] {
		return storageAlarm(id, last, "entry %d hashes to %s but its stored leaf hash is %s: the entry or its hash was changed", last, got, leaf[0])
	}

	hr := l.db.HashReader(id)
	root, err := tlog.TreeHash(int64(size), hr)
	if err != nil {
		return hashAlarm(id, size, err)
	}
	if cpSize == size {
		if root != cpRoot {
			return storageAlarm(id, size, "the stored hashes give root %s at size %d, but the ledger signed %s there: a stored hash was changed", root, size, cpRoot)
		}
	} else {
		proof, err := tlog.ProveTree(int64(size), int64(cpSize), hr)
		if err != nil {
			return hashAlarm(id, cpSize, err)
		}
		if tlog.CheckTree(proof, int64(size), root, int64(cpSize), cpRoot) != nil {
			return storageAlarm(id, cpSize, "the stored tree at size %d is not an extension of the checkpoint signed at size %d", size, cpSize)
		}
		return storageAlarm(id, cpSize, "the tree size is %d but the latest checkpoint was signed at size %d: entries [%d, %d) were never signed", size, cpSize, cpSize, size)
	}
	// The root is the stored tree's, which the ledger signed before; signing
	// it again gives the same bytes (Ed25519 is deterministic) unless the
	// stored checkpoint is not this ledger's.
	again, err := checkpoint.Sign(l.cfg.Signer, l.Origin(id), cpSize, cpRoot)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, signed) {
		// Signed by this key, but under the ledger name, as versions before
		// log keys signed: not a tampered log, an older data directory.
		if old, err := checkpoint.SignWith(l.cfg.Signer.LedgerSigner(), l.Origin(id), cpSize, cpRoot); err == nil && bytes.Equal(old, signed) {
			return &EarlierKeyNameError{Election: id, KeyName: l.name, Origin: l.Origin(id)}
		}
		return storageAlarm(id, cpSize, "the checkpoint stored at size %d is not the one this ledger's key signs for that root", cpSize)
	}
	return nil
}

// EarlierKeyNameError is returned by Open for a data directory written by
// an earlier version of the ledger, which signed every election's
// checkpoints under the ledger name: this version signs each log under its
// origin (checkpoint.Key.LogSigner), and does not go on signing a log
// whose checkpoints carry another key name.
type EarlierKeyNameError struct {
	Election string
	KeyName  string // the key name of the stored checkpoints: the ledger name
	Origin   string // the key name this version signs the log under
}

func (e *EarlierKeyNameError) Error() string {
	return fmt.Sprintf("the data directory was written by an earlier version of the ledger, whose checkpoints carry the key name %s (the checkpoint of %s is signed as \"— %s …\"); this version names each log's key by its origin (\"— %s …\", C2SP tlog-checkpoint) and does not sign on under another name: start with a new data directory",
		e.KeyName, e.Election, e.KeyName, e.Origin)
}

// checkNothingPast checks that no entry, Merkle hash or checkpoint is
// stored past the tree of the given size: three key seeks. Appending would
// overwrite what is there.
func (l *Ledger) checkNothingPast(id string, size uint64) error {
	past, err := l.db.Beyond(id, size)
	if err != nil {
		return fmt.Errorf("couldn't look for what is stored of %s past its size %d: %w", id, size, err)
	}
	switch {
	case past.HasEntry:
		return storageAlarm(id, past.Entry, "entry %d is stored past the tree size %d: the size was rewritten, or entries were written behind the ledger's back", past.Entry, size)
	case past.HasCheckpoint:
		return storageAlarm(id, size, "the tree size %d is behind a checkpoint signed at size %d: the size was rewritten, or entries were lost", size, past.Checkpoint)
	case past.HasHash:
		level, n := tlog.SplitStoredHashIndex(past.Hash)
		return storageAlarm(id, uint64(n)<<level, "a Merkle hash (storage index %d, level %d) is stored past the tree of size %d", past.Hash, level, size)
	}
	return nil
}

// checkpointRoot reads the root of a stored checkpoint, which must be of
// the election's origin at the size it is stored at. It does not check the
// signature.
func checkpointRoot(id string, size uint64, signed []byte, origin string) (tlog.Hash, error) {
	var c log.Checkpoint
	_, err := c.Unmarshal(signed)
	switch {
	case err != nil:
		return tlog.Hash{}, storageAlarm(id, size, "the checkpoint stored at size %d does not parse: %v", size, err)
	case c.Origin != origin || c.Size != size || len(c.Hash) != tlog.HashSize:
		return tlog.Hash{}, storageAlarm(id, size, "the checkpoint stored at size %d is of %q at size %d", size, c.Origin, c.Size)
	}
	return tlog.Hash(c.Hash), nil
}

// checkBeforeSigning runs in a step, before it signs root as the
// election's root at el.size. It checks that the database still holds the
// election as the ledger last committed it (tree size, latest checkpoint,
// nothing stored past the committed size, so that the step overwrites
// nothing), and recomputes root independently: the stored hashes at the
// committed size must give the root the ledger signed last, and extended by
// the leaf hashes of the step's entries (computed from their bytes) they
// must give root, through the very hashes the step stores. Cost: the
// step's entries, plus O(log size) stored hashes, two gets and three seeks.
func (l *Ledger) checkBeforeSigning(id string, el *election, root tlog.Hash) error {
	from := el.committed // the state machine is the only writer
	stored, registered, err := l.db.TreeSize(id)
	if err != nil {
		return fmt.Errorf("couldn't read the tree size of %s: %w", id, err)
	}
	switch {
	case registered && from == 0:
		return storageAlarm(id, 0, "a tree size (%d) is stored for an election the ledger had not defined", stored)
	case !registered && from > 0:
		return storageAlarm(id, from, "the stored tree size is gone; the ledger committed %d", from)
	case stored != from:
		return storageAlarm(id, min(stored, from), "the stored tree size is %d; the ledger committed %d", stored, from)
	}
	if err := l.checkNothingPast(id, from); err != nil {
		return err
	}
	signed, err := l.db.Checkpoint(id, from)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("couldn't read the checkpoint of %s at size %d: %w", id, from, err)
	}
	if !bytes.Equal(signed, el.checkpoint) {
		return storageAlarm(id, from, "the checkpoint stored at size %d is not the one the ledger signed", from)
	}

	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	rng := rf.NewEmptyRange(0)
	if from > 0 {
		nodes := compact.RangeNodes(0, from, nil)
		idx := make([]int64, len(nodes))
		for i, n := range nodes {
			idx[i] = tlog.StoredHashIndex(int(n.Level), int64(n.Index))
		}
		hs, err := l.db.ReadHashes(id, idx)
		if err != nil {
			return hashAlarm(id, from, err)
		}
		edge := make([][]byte, len(hs))
		for i := range hs {
			edge[i] = hs[i][:]
		}
		if rng, err = rf.NewRange(0, from, edge); err != nil {
			return err
		}
		signedRoot, err := checkpointRoot(id, from, el.checkpoint, l.Origin(id))
		if err != nil {
			return err
		}
		if r, err := rng.GetRootHash(nil); err != nil || !bytes.Equal(r, signedRoot[:]) {
			return storageAlarm(id, from, "the stored hashes no longer give the root the ledger signed at size %d", from)
		}
	}
	var mismatch error
	visit := func(n compact.NodeID, h []byte) {
		if n.Level == 0 || mismatch != nil {
			return // a leaf is the step's own hash of the entry's bytes
		}
		x := tlog.StoredHashIndex(int(n.Level), int64(n.Index))
		if p, ok := el.pending[x]; !ok || !bytes.Equal(p[:], h) {
			mismatch = storageAlarm(id, n.Index<<n.Level, "the step would store %x as Merkle hash %d (level %d); the entries give %x", p, x, n.Level, h)
		}
	}
	for i := from; i < el.size; i++ {
		leaf, ok := el.pending[tlog.StoredHashIndex(0, int64(i))]
		if !ok {
			return storageAlarm(id, i, "the step appended entry %d without its leaf hash", i)
		}
		if err := rng.Append(leaf[:], visit); err != nil {
			return err
		}
		if mismatch != nil {
			return mismatch
		}
	}
	if r, err := rng.GetRootHash(nil); err != nil || !bytes.Equal(r, root[:]) {
		return storageAlarm(id, from, "the signed root at size %d extended by entries [%d, %d) gives %x; the stored hashes give %s", from, from, el.size, r, root)
	}
	return nil
}
