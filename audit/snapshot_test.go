package audit_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/ledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// entriesOnly hides a database's snapshots: as-of tallies from it replay
// from entry 0.
type entriesOnly struct{ db *store.DB }

func (s entriesOnly) Entries(election string, start, end uint64, fn func(uint64, []byte) error) error {
	return s.db.Entries(election, start, end, fn)
}

// snapshotLedger logs total events of a two-county election through a real
// ledger, in steps of 300, and returns its data directory.
func snapshotLedger(t *testing.T, election string, total int) ledgerDir {
	t.Helper()
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	m := &events.Manifest{
		Name: "Snapshots", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}, {ID: "mail", Name: "Mail"}},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"},
			{ID: "a", Name: "A", Kind: "county", Parent: "st"}, {ID: "b", Name: "B", Kind: "county", Parent: "st"},
			{ID: "a1", Name: "A1", Kind: "precinct", Parent: "a"}, {ID: "a2", Name: "A2", Kind: "precinct", Parent: "a"}},
		Contests: []events.Contest{{ID: "m", Name: "Measure", VoteFor: 1,
			Choices: []events.Choice{{ID: "no", Name: "No"}, {ID: "yes", Name: "Yes"}}}},
	}
	ev := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: b}
	}
	evs := []*events.Event{ev(m)}
	units := []string{"a1", "a2", "b", "a"}
	for i := 1; i < total; i++ {
		evs = append(evs, ev(&events.CountReport{Unit: units[i%len(units)], Contest: "m",
			Counts: []events.Count{{Choice: "no", VoteType: "day", Votes: int64(i)}, {Choice: "yes", VoteType: "mail", Votes: int64(3 * i % 1000)}},
			Source: events.Source{Operator: "test"}}))
	}
	for len(evs) > 0 {
		k := min(len(evs), 300)
		mustSubmit(t, n.Ledger, evs[:k]...)
		evs = evs[k:]
	}
	key := n.VerifierKey
	closeNode(t, n)
	return ledgerDir{dir, key}
}

// TestAsOfFromSnapshots checks that the ledger keeps projection snapshots
// and that an as-of document computed from them is byte for byte the one
// a replay from entry 0 gives, at sizes on, just before and just after
// each snapshot and at many others.
func TestAsOfFromSnapshots(t *testing.T) {
	const election, total = "snap-2026", 2700
	ld := snapshotLedger(t, election, total)
	db := ld.open(t)
	var snaps []uint64
	if err := db.Snapshots(election, func(n uint64, _ []byte) error { snaps = append(snaps, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(snaps) < 2 {
		t.Fatalf("the ledger kept %d snapshots (at %v) of a log of %d entries", len(snaps), snaps, total)
	}
	t.Logf("snapshots at %v", snaps)
	sizes := []uint64{1, 2, total}
	for _, s := range snaps {
		sizes = append(sizes, s-1, s, s+1)
	}
	for s := uint64(5); s < total; s += 197 {
		sizes = append(sizes, s)
	}
	for _, n := range sizes {
		fast, err := audit.TallyDocument(db, election, n)
		if err != nil {
			t.Fatalf("as-of %d: %v", n, err)
		}
		slow, err := audit.TallyDocument(entriesOnly{db}, election, n)
		if err != nil {
			t.Fatalf("as-of %d from entry 0: %v", n, err)
		}
		a, _ := fast.Encode()
		b, _ := slow.Encode()
		if !bytes.Equal(a, b) {
			t.Fatalf("as-of %d: from a snapshot\n%s\nfrom entry 0\n%s", n, a, b)
		}
		ta, err := audit.TallyAt(db, election, n)
		if err != nil {
			t.Fatal(err)
		}
		if ea, eb := mustEncode(t, ta), mustEncode(t, slow.Tally); !bytes.Equal(ea, eb) {
			t.Fatalf("TallyAt %d differs from the replay from entry 0", n)
		}
	}
	// The time index: SizeAt from it equals SizeAt from entry 0, just
	// before and at the recorded time of many entries.
	var times []uint64
	if err := db.MaxRecorded(election, func(n uint64, _ time.Time) error { times = append(times, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(times) != len(snaps) {
		t.Fatalf("time index at %v, snapshots at %v", times, snaps)
	}
	for i := uint64(0); i < total; i += 131 {
		var rec time.Time
		if err := db.Entries(election, i, i+1, func(_ uint64, data []byte) error {
			en, err := events.DecodeEntry(data)
			rec = en.Recorded
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{rec.Add(-time.Nanosecond), rec} {
			fast, err := audit.SizeAt(db, election, total, at)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := audit.SizeAt(entriesOnly{db}, election, total, at)
			if err != nil {
				t.Fatal(err)
			}
			if fast != slow {
				t.Fatalf("SizeAt(%s): %d from the index, %d from entry 0", at.Format(time.RFC3339Nano), fast, slow)
			}
		}
	}
	v := ld.key
	if _, err := audit.Verify(db, election, v); err != nil {
		t.Fatalf("the untouched log: %v", err)
	}

	// A rebuild replaces the snapshots with its own, which verify too.
	if _, err := ledger.Rebuild(db, election, total, nil); err != nil {
		t.Fatal(err)
	}
	var rebuilt []uint64
	if err := db.Snapshots(election, func(n uint64, _ []byte) error { rebuilt = append(rebuilt, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rebuilt) != 2 || rebuilt[0] != 1024 || rebuilt[1] != 2048 {
		t.Fatalf("after a rebuild, snapshots at %v, want [1024 2048]", rebuilt)
	}
	if _, err := audit.Verify(db, election, v); err != nil {
		t.Fatalf("after a rebuild: %v", err)
	}
}

// TestVerifyCatchesTamperedSnapshot changes a stored snapshot (one vote of
// one node) and a snapshot stored past the end of the log: Verify names
// each by its size.
func TestVerifyCatchesTamperedSnapshot(t *testing.T) {
	const election, total = "snap-2026", 2500
	for _, c := range []struct {
		name string
		edit func(t *testing.T, db *store.DB, at uint64, snap []byte)
		want func(at uint64) uint64
	}{
		{"changed snapshot", func(t *testing.T, db *store.DB, at uint64, snap []byte) {
			bad := bytes.Clone(snap)
			bad[len(bad)-3] ^= 0x02 // a varint inside the last node cell
			b := db.NewBatch()
			b.PutSnapshot(election, at, bad)
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
		}, func(at uint64) uint64 { return at }},
		{"time index changed", func(t *testing.T, db *store.DB, at uint64, snap []byte) {
			b := db.NewBatch()
			b.PutMaxRecorded(election, at, time.Date(2017, 4, 18, 19, 0, 0, 0, time.UTC))
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
		}, func(at uint64) uint64 { return at }},
		{"snapshot past the end", func(t *testing.T, db *store.DB, at uint64, snap []byte) {
			b := db.NewBatch()
			b.PutSnapshot(election, total+10, snap)
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
		}, func(uint64) uint64 { return total + 10 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ld := snapshotLedger(t, election, total)
			v := ld.key
			db := ld.open(t)
			if _, err := audit.Verify(db, election, v); err != nil {
				t.Fatalf("before the change: %v", err)
			}
			at, snap, err := db.Snapshot(election, total)
			if err != nil || at == 0 {
				t.Fatalf("no snapshot: %v", err)
			}
			c.edit(t, db, at, snap)
			_, err = audit.Verify(db, election, v)
			var me *audit.MismatchError
			if !errors.As(err, &me) || me.Index != c.want(at) {
				t.Fatalf("Verify: %v, want a mismatch at %d", err, c.want(at))
			}
			t.Logf("detected: %v", err)
		})
	}
}
