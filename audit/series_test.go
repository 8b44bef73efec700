package audit_test

import (
	"slices"
	"testing"

	"github.com/election-audit/ledger/audit"
)

// TestSeriesEqualsAsOf checks that each point of a series, computed in one
// pass from a snapshot or from entry 0, is the as-of tally at its size.
func TestSeriesEqualsAsOf(t *testing.T) {
	const election, total = "series-2026", 2200
	db := snapshotLedger(t, election, total).open(t)
	for _, sizes := range [][]uint64{
		{1},
		{1, 2, 3},
		audit.SeriesSizes(0, total, 40),
		audit.SeriesSizes(1000, total, 7), // starts from the snapshot at 1024 or before
		{1023, 1024, 1025, 2047, 2048, 2049, total}, // on and around snapshots
		{5, 2100}, // skips ahead to the snapshot at 2048
		{total},
	} {
		for _, src := range []audit.Source{db, entriesOnly{db}} {
			got, err := audit.Series(src, election, sizes)
			if err != nil {
				t.Fatalf("series at %v: %v", sizes, err)
			}
			if len(got) != len(sizes) {
				t.Fatalf("series at %v: %d points", sizes, len(got))
			}
			for i, p := range got {
				want, err := audit.TallyDocument(db, election, sizes[i])
				if err != nil {
					t.Fatal(err)
				}
				if p.TreeSize != sizes[i] || p.LastRecorded != want.LastRecorded {
					t.Fatalf("point %d: size %d recorded %s, want %d %s", i, p.TreeSize, p.LastRecorded, sizes[i], want.LastRecorded)
				}
				wc := want.Tally.Contests
				if len(p.Contests) != len(wc) {
					t.Fatalf("size %d: %d contests, want %d", p.TreeSize, len(p.Contests), len(wc))
				}
				for j, c := range p.Contests {
					if c.ID != wc[j].ID || c.TotalVotes != wc[j].TotalVotes || c.UnitsReported != wc[j].UnitsReported || c.UnitsTotal != wc[j].UnitsTotal {
						t.Fatalf("size %d, contest %s: %+v, want %+v", p.TreeSize, c.ID, c, wc[j])
					}
					for k, ch := range c.Choices {
						w := wc[j].Choices[k]
						if ch.ID != w.ID || ch.Votes != w.Votes || ch.Share != w.Share {
							t.Fatalf("size %d, %s/%s: %+v, want %+v", p.TreeSize, c.ID, ch.ID, ch, w)
						}
					}
				}
			}
		}
	}
	if _, err := audit.Series(db, election, []uint64{3, 3}); err == nil {
		t.Error("repeated sizes: no error")
	}
	if _, err := audit.Series(db, election, []uint64{0, 3}); err == nil {
		t.Error("size 0: no error")
	}
	if _, err := audit.Series(db, election, []uint64{total + 1}); err == nil {
		t.Error("past the end of the log: no error")
	}
}

func TestSeriesSizes(t *testing.T) {
	for _, c := range []struct {
		after, size uint64
		points      int
		want        []uint64
	}{
		{0, 3, 40, []uint64{1, 2, 3}},
		{5, 5, 40, nil},
		{6, 5, 40, nil},
		{0, 10, 4, []uint64{3, 5, 8, 10}},
		{10, 20, 5, []uint64{12, 14, 16, 18, 20}},
		{0, 100, 1, []uint64{100}},
		{0, 100, 0, nil},
	} {
		if got := audit.SeriesSizes(c.after, c.size, c.points); !slices.Equal(got, c.want) {
			t.Errorf("SeriesSizes(%d, %d, %d) = %v, want %v", c.after, c.size, c.points, got, c.want)
		}
	}
}
