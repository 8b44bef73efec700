package audit_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// ledgerWithExample logs examples/ga06-2017-04.jsonl in a fresh ledger,
// closes it, and returns its data directory and ledger key.
func ledgerWithExample(t *testing.T) (string, string, uint64) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	evs := exampleEvents(t)
	// One step per event, so that there are several checkpoints.
	for _, ev := range evs {
		mustSubmit(t, n.Ledger, ev)
	}
	v := n.VerifierKey
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir, v, uint64(len(evs))
}

func TestVerify(t *testing.T) {
	dir, v, size := ledgerWithExample(t)
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := audit.Verify(db, "ga06-2017-04", v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != size || res.Checkpoints != int(size) || res.Submissions != int(size) {
		t.Errorf("verified size %d with %d checkpoints and %d submissions, want %d, %d and %d", res.Size, res.Checkpoints, res.Submissions, size, size, size)
	}
	if _, err := audit.Verify(db, "nope", v); !errors.Is(err, audit.ErrUnknownElection) {
		t.Errorf("unknown election: %v", err)
	}

	// Flip one byte of a stored entry: found at that index.
	orig, err := db.Entry("ga06-2017-04", 3)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), orig...)
	bad[len(bad)/2] ^= 1
	b := db.NewBatch()
	b.PutEntry("ga06-2017-04", 3, bad)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	_, err = audit.Verify(db, "ga06-2017-04", v)
	var me *audit.MismatchError
	if !errors.As(err, &me) || me.Index != 3 {
		t.Fatalf("flipped entry 3: got %v", err)
	}
	t.Logf("detected: %v", err)
}

// Tamper tests: each changes the real Pebble files the way an attacker with
// the disk but not the signing key could, and Verify must name the place.
// Keys are built from the layout in docs/storage.md, as an attacker would.

func entryKey(election string, i uint64) []byte {
	k := append([]byte{'e'}, election...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, i)
}

func hashKey(election string, idx int64) []byte {
	k := append([]byte{'h'}, election...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(idx))
}

func checkpointKey(election string, size uint64) []byte {
	k := append([]byte{'c'}, election...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, size)
}

// submissionKey is the key of a stored submission (store/store.go: 'u',
// the election, 0, the SHA-256 of its bytes).
func submissionKey(election string, sum [32]byte) []byte {
	k := append([]byte{'u'}, election...)
	k = append(k, 0)
	return append(k, sum[:]...)
}

func TestTamper(t *testing.T) {
	const e = "ga06-2017-04"
	dir, v, size := ledgerWithExample(t)
	get := func(db *pebble.DB, k []byte) []byte {
		v, closer, err := db.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		return append([]byte(nil), v...)
	}
	for _, tc := range []struct {
		name   string
		tamper func(db *pebble.DB)
		index  uint64 // where Verify must point
		want   string
	}{
		{"flip a byte of an entry", func(db *pebble.DB) {
			b := get(db, entryKey(e, 2))
			b[len(b)-20] ^= 0x01
			db.Set(entryKey(e, 2), b, pebble.Sync)
		}, 2, "index 2"},
		{"flip a byte of a stored hash", func(db *pebble.DB) {
			k := hashKey(e, tlog.StoredHashIndex(0, 4))
			b := get(db, k)
			b[0] ^= 0x80
			db.Set(k, b, pebble.Sync)
		}, 4, "stored hash (level 0, index 4)"},
		{"flip a byte of a checkpoint signature", func(db *pebble.DB) {
			b := get(db, checkpointKey(e, 3))
			b[len(b)-10] ^= 0x01
			db.Set(checkpointKey(e, 3), b, pebble.Sync)
		}, 3, "does not verify"},
		{"flip a byte of a stored submission", func(db *pebble.DB) {
			k := submissionKey(e, submissionOf(t, get(db, entryKey(e, 2))))
			b := get(db, k)
			b[len(b)-10] ^= 0x01 // in its signature
			db.Set(k, b, pebble.Sync)
		}, 2, "the submission was altered"},
		{"delete a stored submission", func(db *pebble.DB) {
			db.Delete(submissionKey(e, submissionOf(t, get(db, entryKey(e, 2)))), pebble.Sync)
		}, 2, "is missing"},
		{"delete an entry", func(db *pebble.DB) {
			db.Delete(entryKey(e, 3), pebble.Sync)
		}, 3, "entry is missing"},
		{"swap two entries", func(db *pebble.DB) {
			a, b := get(db, entryKey(e, 1)), get(db, entryKey(e, 4))
			db.Set(entryKey(e, 1), b, pebble.Sync)
			db.Set(entryKey(e, 4), a, pebble.Sync)
		}, 1, "index 1"},
		{"truncate the log", func(db *pebble.DB) {
			db.DeleteRange(entryKey(e, 4), entryKey(e, 1<<62), pebble.Sync)
		}, 4, "entries"},
		{"rewrite the tree size one lower", func(db *pebble.DB) {
			// The ledger would append over the last entry (issue 12).
			db.Set([]byte("x"+e), binary.BigEndian.AppendUint64(nil, size-1), pebble.Sync)
		}, size - 1, "is stored past the tree size"},
		{"rewrite the tree size one lower and delete what is past it", func(db *pebble.DB) {
			db.Set([]byte("x"+e), binary.BigEndian.AppendUint64(nil, size-1), pebble.Sync)
			db.Delete(entryKey(e, size-1), pebble.Sync)
			db.DeleteRange(hashKey(e, tlog.StoredHashCount(int64(size-1))), hashKey(e, 1<<40), pebble.Sync)
		}, size - 1, "behind a checkpoint signed at size"},
		{"store a hash past the tree", func(db *pebble.DB) {
			db.Set(hashKey(e, tlog.StoredHashCount(int64(size))), make([]byte, tlog.HashSize), pebble.Sync)
		}, size, "stored past the tree"},
		{"rewrite an entry and recompute every hash", func(db *pebble.DB) {
			// Change Fulton's Ossoff count in entry 3, then rebuild the whole
			// hash table from the entries: only the signatures stay.
			b := get(db, entryKey(e, 3))
			nb := bytes.Replace(b, []byte(`"votes":`), []byte(`"votes":1`), 1)
			if bytes.Equal(b, nb) {
				t.Fatal("entry 3 has no votes to rewrite")
			}
			db.Set(entryKey(e, 3), nb, pebble.Sync)
			testledger.Rehash(t, db, e, size)
		}, 3, "not what the checkpoint at size 4 signed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testledger.CopyStore(t, dir)
			if _, err := audit.Verify(db, e, v); err != nil {
				t.Fatalf("the untouched copy does not verify: %v", err)
			}
			tc.tamper(db.Pebble())
			_, err := audit.Verify(db, e, v)
			var me *audit.MismatchError
			if !errors.As(err, &me) {
				t.Fatalf("tampered log verified: %v", err)
			}
			if me.Index != tc.index || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want index %d and %q", err, tc.index, tc.want)
			}
		})
	}
}

// submissionOf returns the SHA-256 of the submission a stored entry names.
func submissionOf(t *testing.T, entry []byte) [32]byte {
	t.Helper()
	en, err := events.DecodeEntry(entry)
	if err != nil {
		t.Fatal(err)
	}
	return en.Submission.SHA256
}
