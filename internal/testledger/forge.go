package testledger

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
)

// A forger's tools, for tests that show what checks catch a log changed by
// someone who holds the ledger's signing key and its stopped database.

// StoreKey is a key of the ledger's Pebble layout (docs/storage.md): a tag
// ('e' an entry, 'h' a stored hash, 'c' a checkpoint), the election, a 0
// byte, and n, big-endian.
func StoreKey(tag byte, election string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(append([]byte{tag}, election...), 0), n)
}

// Rehash recomputes and stores every stored hash of entries [0, n) of an
// election, as a forger who changed entries would, and returns the hashes
// as a tlog.HashReader.
func Rehash(t testing.TB, db *pebble.DB, election string, n uint64) tlog.HashReader {
	t.Helper()
	hashes := map[int64]tlog.Hash{}
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i := range n {
		hs, err := tlog.StoredHashes(int64(i), get(t, db, StoreKey('e', election, i)), r)
		if err != nil {
			t.Fatal(err)
		}
		for j, h := range hs {
			idx := tlog.StoredHashIndex(0, int64(i)) + int64(j)
			hashes[idx] = h
			set(t, db, StoreKey('h', election, uint64(idx)), h[:])
		}
	}
	return r
}

// Resign does what an operator with the ledger's key could do after
// changing entries [0, n) of an election: it recomputes every stored hash
// of those entries (Rehash), signs a checkpoint at every size up to n with
// signer, and sets the tree size to n. Only checks of the entries' own
// content (their form, their signed submissions, a replay of their
// verdicts) can then tell.
func Resign(t testing.TB, db *pebble.DB, signer *checkpoint.Key, election string, n uint64) {
	t.Helper()
	r := Rehash(t, db, election, n)
	for s := uint64(1); s <= n; s++ {
		root, err := tlog.TreeHash(int64(s), r)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := checkpoint.Sign(signer, signer.Origin(election), s, root)
		if err != nil {
			t.Fatal(err)
		}
		set(t, db, StoreKey('c', election, s), signed)
	}
	set(t, db, []byte("x"+election), binary.BigEndian.AppendUint64(nil, n))
}

func get(t testing.TB, db *pebble.DB, k []byte) []byte {
	t.Helper()
	b, closer, err := db.Get(k)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	return bytes.Clone(b)
}

func set(t testing.TB, db *pebble.DB, k, v []byte) {
	t.Helper()
	if err := db.Set(k, v, pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// TurnVerdict makes stored entry i of an election, logged as rejected, say
// "accepted": encoded again in canonical form around the same event bytes,
// so that it is still held by its signed submission. It returns the new
// entry; Resign then makes the log's hashes and checkpoints agree with it.
func TurnVerdict(t testing.TB, db *pebble.DB, election string, i uint64) []byte {
	t.Helper()
	old := get(t, db, StoreKey('e', election, i))
	en, err := events.DecodeEntry(old)
	if err != nil {
		t.Fatal(err)
	}
	_, ev, err := events.EntryOrigin(old)
	if err != nil {
		t.Fatal(err)
	}
	if en.Verdict != events.Rejected {
		t.Fatalf("entry %d is %s", i, en.Verdict)
	}
	en.Verdict, en.Reason = events.Accepted, ""
	data, err := en.EncodeWith(ev)
	if err != nil {
		t.Fatal(err)
	}
	set(t, db, StoreKey('e', election, i), data)
	return data
}
