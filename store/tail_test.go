package store_test

import (
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/election-audit/ledger/store"
)

// TestBeyond: what is stored past a tree size is found by key, whatever
// the tree size record says, and not in other elections, even one whose ID
// extends this one's.
func TestBeyond(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := db.NewBatch()
	for i := range uint64(5) {
		b.PutEntry("a", i, []byte{byte(i)})
		b.PutEntry("ab", i+100, []byte{byte(i)})
	}
	b.PutHashes("a", 0, make([]tlog.Hash, tlog.StoredHashCount(5)))
	b.PutHashes("ab", 0, make([]tlog.Hash, 100))
	b.PutCheckpoint("a", 2, []byte("two"))
	b.PutCheckpoint("a", 5, []byte("five"))
	b.PutCheckpoint("ab", 9, []byte("nine"))
	b.PutTreeSize("a", 3)
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		size uint64
		want store.Beyond
	}{
		{0, store.Beyond{Entry: 0, HasEntry: true, Hash: 0, HasHash: true, Checkpoint: 2, HasCheckpoint: true}},
		{3, store.Beyond{Entry: 3, HasEntry: true, Hash: tlog.StoredHashCount(3), HasHash: true, Checkpoint: 5, HasCheckpoint: true}},
		{4, store.Beyond{Entry: 4, HasEntry: true, Hash: tlog.StoredHashCount(4), HasHash: true, Checkpoint: 5, HasCheckpoint: true}},
		{5, store.Beyond{}},
		{1 << 40, store.Beyond{}},
	} {
		got, err := db.Beyond("a", tc.size)
		if err != nil || got != tc.want {
			t.Errorf("Beyond(a, %d) = %+v, %v; want %+v", tc.size, got, err, tc.want)
		}
	}
	if got, err := db.Beyond("c", 0); err != nil || got != (store.Beyond{}) {
		t.Errorf("Beyond of an election with nothing stored: %+v, %v", got, err)
	}
	size, cp, ok, err := db.LatestCheckpoint("a")
	if err != nil || !ok || size != 5 || string(cp) != "five" {
		t.Errorf("LatestCheckpoint(a) = %d, %q, %v, %v", size, cp, ok, err)
	}
	if _, _, ok, err := db.LatestCheckpoint("c"); ok || err != nil {
		t.Errorf("LatestCheckpoint of an election with none: %v, %v", ok, err)
	}
}
