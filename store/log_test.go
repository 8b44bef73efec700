package store_test

import (
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/store"
)

// TestLoggedEvents: the one-pass lookup finds exactly the logged IDs among
// new ones, in any order and with repeats, in the memtable and on disk,
// and agrees with Event.
func TestLoggedEvents(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logged []uuid.UUID
	put := func(n int) {
		b := db.NewBatch()
		defer b.Close()
		for range n {
			id := uuid.Must(uuid.NewV7())
			b.PutEvent(id, store.EventRecord{Election: "e", Index: uint64(len(logged)), Accepted: len(logged)%3 != 0})
			logged = append(logged, id)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	put(500)
	if err := db.Pebble().Flush(); err != nil { // these on disk, the next in the memtable
		t.Fatal(err)
	}
	put(500)
	var ask []uuid.UUID
	for i, id := range logged {
		if i%7 == 0 {
			ask = append(ask, id, uuid.Must(uuid.NewV7()))
		}
	}
	ask = append(ask, logged[0], uuid.Nil, logged[999]) // a repeat, and the edges
	got, err := db.LoggedEvents(ask)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, id := range ask {
		rec, err := db.Event(id)
		if err != nil {
			if _, ok := got[id]; ok {
				t.Errorf("%s: found, but Event says %v", id, err)
			}
			continue
		}
		if g, ok := got[id]; !ok || g != rec {
			t.Errorf("%s: LoggedEvents gives %+v (%v), Event %+v", id, g, ok, rec)
		}
		want++
	}
	if want != 1+1000/7+1+1 || len(got) != want-1 { // logged[0] asked twice
		t.Errorf("%d logged IDs asked, %d found", want, len(got))
	}
}
