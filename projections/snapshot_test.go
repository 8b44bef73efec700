package projections_test

import (
	"bytes"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/projections"
)

// TestSnapshotRestore folds the GA-06 reports and, at every size, restores
// a snapshot, applies the rest of the log to it, and checks the result is
// byte for byte the projection that never stopped.
func TestSnapshotRestore(t *testing.T) {
	m, entries := ga06Entries(t)
	for cut := 1; cut <= len(entries); cut++ {
		whole := fold(t, m, entries)
		part := fold(t, m, entries[:cut])
		snap := part.Snapshot()
		if !bytes.Equal(snap, fold(t, m, entries[:cut]).Snapshot()) {
			t.Fatalf("cut %d: two snapshots of the same prefix differ", cut)
		}
		r, err := projections.Restore("ga06-2017-04", m, snap)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if !bytes.Equal(r.Snapshot(), snap) {
			t.Fatalf("cut %d: a restored projection snapshots differently", cut)
		}
		for _, en := range entries[cut:] {
			if err := r.Apply(en); err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
		if got, want := tallyBytes(t, r), tallyBytes(t, whole); !bytes.Equal(got, want) {
			t.Fatalf("cut %d: restored and continued tally differs:\n%s\nwant\n%s", cut, got, want)
		}
	}
}

func TestRestoreRefusesBadSnapshots(t *testing.T) {
	m, entries := ga06Entries(t)
	snap := fold(t, m, entries).Snapshot()
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"not one":   []byte("hello"),
		"truncated": snap[:len(snap)-3],
		"version":   append(append([]byte(nil), snap[:27]...), append([]byte{99}, snap[28:]...)...),
	} {
		if _, err := projections.Restore("ga06-2017-04", m, bad); err == nil {
			t.Errorf("%s: Restore accepted a bad snapshot", name)
		}
	}
}

func TestSnapshotDue(t *testing.T) {
	for _, c := range []struct {
		size, last uint64
		lastLen    int
		want       bool
	}{
		{1023, 0, 0, false}, {1024, 0, 0, true}, {2047, 1024, 100, false}, {2048, 1024, 100, true},
		{2048, 1024, 1 << 20, false}, {1024 + 1<<14, 1024, 1 << 20, true}, {5, 10, 0, false},
	} {
		if got := projections.SnapshotDue(c.size, c.last, c.lastLen); got != c.want {
			t.Errorf("SnapshotDue(%d, %d, %d) = %v, want %v", c.size, c.last, c.lastLen, got, c.want)
		}
	}
}

// ga06Entries returns the manifest and the log entries of the GA-06 April
// example events, with the verdicts the rules give.
func ga06Entries(t *testing.T) (*events.Manifest, []*events.Entry) {
	t.Helper()
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	m := evs[0].Body.(*events.Manifest)
	e, err := projections.New(evs[0].Election, m)
	if err != nil {
		t.Fatal(err)
	}
	var out []*events.Entry
	for i, ev := range evs {
		en := &events.Entry{Index: uint64(i), Verdict: events.Accepted, Event: ev}
		if i > 0 {
			if rj := e.Check(ev); rj != nil {
				en.Verdict, en.Reason = events.Rejected, rj.Reason
			}
		}
		if err := e.Apply(en); err != nil {
			t.Fatal(err)
		}
		out = append(out, en)
	}
	if len(out) < 5 {
		t.Fatalf("only %d example entries", len(out))
	}
	return m, out
}

func fold(t *testing.T, m *events.Manifest, entries []*events.Entry) *projections.Election {
	t.Helper()
	e, err := projections.New("ga06-2017-04", m)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if err := e.Apply(en); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func tallyBytes(t *testing.T, e *projections.Election) []byte {
	t.Helper()
	b, err := e.Tally().Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
