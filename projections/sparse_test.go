package projections_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// wideManifest declares one contest of choices × vts cells over a root and
// two precincts. Past the events limits, it is what a log written before
// them may hold: the projection must still take memory for what was
// reported only.
func wideManifest(choices, vts int) *events.Manifest {
	m := &events.Manifest{Name: "Wide", Date: "2026-11-03",
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"}, {ID: "p1", Name: "P1", Kind: "precinct", Parent: "st"}, {ID: "p2", Name: "P2", Kind: "precinct", Parent: "st"}},
	}
	for i := range vts {
		m.VoteTypes = append(m.VoteTypes, events.VoteType{ID: fmt.Sprintf("v%d", i), Name: "V"})
	}
	c := events.Contest{ID: "wide", Name: "Wide", VoteFor: 1}
	for i := range choices {
		c.Choices = append(c.Choices, events.Choice{ID: fmt.Sprintf("c%d", i), Name: "C"})
	}
	m.Contests = []events.Contest{c}
	return m
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestWideContestAllocatesLittle folds a one-row report, a correction and
// a retraction into the 7,000 × 7,000 contest of issue 12 (49 million
// cells, 392 MB a unit as dense vectors: the server went to 5.9 GB), and
// flushes, snapshots, restores and reconciles it: all of that allocates
// kilobytes.
func TestWideContestAllocatesLittle(t *testing.T) {
	const choices, vts = 7000, 7000
	m := wideManifest(choices, vts)
	var e *projections.Election
	made := allocated(func() {
		var err error
		if e, err = projections.New("wide", m); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("New: %d KiB (the manifest's maps of 14,000 names)", made>>10)

	var entries []*events.Entry
	apply := func(body events.Body) *events.Event {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "wide", Body: body}
		en := &events.Entry{Index: e.Size(), Recorded: time.Unix(1, 0), Verdict: events.Accepted, Event: ev}
		if rj := e.Check(ev); rj != nil && en.Index > 0 {
			t.Fatalf("%s rejected: %s", ev.Type(), rj.Reason)
		}
		if err := e.Apply(en); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, en)
		return ev
	}
	cells := map[string][]byte{}
	flush := func() {
		if err := e.Flush(func(k string, v []byte) { cells[k] = bytes.Clone(v) }); err != nil {
			t.Fatal(err)
		}
	}
	var snap []byte
	n := allocated(func() {
		apply(m)
		r := apply(&events.CountReport{Unit: "p1", Contest: "wide", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "c6999", VoteType: "v6999", Votes: 12}}})
		apply(&events.CountReport{Unit: "p2", Contest: "wide", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "c0", VoteType: "v0", Votes: 3}, {Choice: "c3500", VoteType: "v17", Votes: 5}}})
		c := apply(&events.Correction{Corrects: r.ID, Reason: "re-read", CountReport: events.CountReport{Unit: "p1", Contest: "wide",
			Source: events.Source{Operator: "clerk"}, Counts: []events.Count{{Choice: "c1", VoteType: "v2", Votes: 40}}}})
		apply(&events.Retraction{Retracts: c.ID, Reason: "wrong unit", Source: events.Source{Operator: "clerk"}})
		apply(&events.CountReport{Unit: "st", Contest: "wide", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "c0", VoteType: "v0", Votes: 4}}})
		flush()
		snap = e.Snapshot()
		e.Reconcile()
		e.Status()
	})
	// The first flush writes the manifest's cell, its JSON: what it costs
	// follows the manifest's bytes, not its widths.
	mj, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("six entries, flush, snapshot, reconcile: %d KiB; cells %d bytes (the manifest %d), snapshot %d bytes", n>>10, cellBytes(cells), len(mj), len(snap))
	if limit := uint64(1<<20 + 4*len(mj)); n > limit {
		t.Errorf("folding six entries into a wide contest allocated %d bytes, want under %d", n, limit)
	}
	if c := cellBytes(cells) - len(mj); c > 1<<10 {
		t.Errorf("cells of %d bytes besides the manifest, want under 1 KiB", c)
	}
	if len(snap) > 1<<10 {
		t.Errorf("snapshot of %d bytes, want under 1 KiB", len(snap))
	}

	// Restored from the snapshot or loaded from the cells, it is the same
	// projection, and costs New plus what was reported.
	var r *projections.Election
	n = allocated(func() {
		var err error
		if r, err = projections.Restore("wide", m, snap); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2*made+1<<20 {
		t.Errorf("Restore allocated %d bytes, want under %d", n, 2*made+1<<20)
	}
	if !bytes.Equal(r.Snapshot(), snap) {
		t.Error("the restored projection snapshots differently")
	}
	l := loadCells(t, cells)
	if !bytes.Equal(l.Snapshot(), snap) {
		t.Error("the loaded projection snapshots differently")
	}
	// The state's own report stands; p1's report was corrected, then
	// retracted.
	// (Current would list all 49 million cells, zeros included: its
	// callers read contests within events.MaxContestCells.)
	if v1, vst := e.Version("p1", "wide"), e.Version("st", "wide"); v1 != 3 || vst != 1 {
		t.Errorf("versions p1 %d, st %d; want 3, 1", v1, vst)
	}
	if _, _, ok := e.ReportOf(entries[len(entries)-1].Event.ID); !ok {
		t.Error("the state's report is not current")
	}
	f := e.Reconcile()
	if len(f.Rollup) != 2 || f.Rollup[0].Choice != "c0" || f.Rollup[0].Own != 4 || f.Rollup[0].Children != 3 || f.Rollup[1].Choice != "c3500" {
		t.Errorf("findings %+v", f.Rollup)
	}
}

func cellBytes(cells map[string][]byte) int {
	n := 0
	for k, v := range cells {
		n += len(k) + len(v)
	}
	return n
}

// TestCellEncoding pins the encoding of a (contest, unit) cell. The dense
// form is schema 1's, byte for byte (the example of docs/storage.md); the
// sparse form takes over where it is shorter.
func TestCellEncoding(t *testing.T) {
	m := &events.Manifest{Name: "Demo", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "mail", Name: "Mail"}},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"}, {ID: "north", Name: "North", Kind: "county", Parent: "st"},
			{ID: "n-01", Name: "N-01", Kind: "precinct", Parent: "north"}, {ID: "n-02", Name: "N-02", Kind: "precinct", Parent: "north"}},
		Contests: []events.Contest{{ID: "measure-a", Name: "Measure A", VoteFor: 1, Choices: []events.Choice{{ID: "yes", Name: "Yes"}, {ID: "no", Name: "No"}}}},
	}
	e, err := projections.New("demo-2026", m)
	if err != nil {
		t.Fatal(err)
	}
	cells := map[string][]byte{}
	i := 0
	apply := func(body events.Body) uuid.UUID {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "demo-2026", Body: body}
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		if rj := e.Check(ev); rj != nil && i > 0 {
			t.Fatal(rj.Reason)
		}
		if err := e.Apply(&events.Entry{Index: uint64(i), Verdict: events.Accepted, Event: ev}); err != nil {
			t.Fatal(err)
		}
		i++
		if err := e.Flush(func(k string, v []byte) { cells[k] = bytes.Clone(v) }); err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	src := events.Source{Operator: "clerk"}
	apply(m)
	apply(&events.CountReport{Unit: "n-01", Contest: "measure-a", Source: src, Counts: []events.Count{
		{Choice: "yes", VoteType: "election-day", Votes: 120}, {Choice: "yes", VoteType: "mail", Votes: 30},
		{Choice: "no", VoteType: "election-day", Votes: 80}, {Choice: "no", VoteType: "mail", Votes: 10}}})
	north := apply(&events.CountReport{Unit: "north", Contest: "measure-a", Source: src, Counts: []events.Count{
		{Choice: "yes", VoteType: "election-day", Votes: 355}, {Choice: "no", VoteType: "mail", Votes: 235}}})
	apply(&events.Retraction{Retracts: north, Reason: "wrong contest", Source: src})
	// docs/storage.md: version 2, no current report, children's sum only
	// (dense: 120, 30, 80, 10), 1 reported leaf below.
	if got, want := hex.EncodeToString(cells["nmeasure-a\x00north"]), "02"+strings.Repeat("00", 16)+"02"+"f0013ca00114"+"02"; got != want {
		t.Errorf("cell of north:\n got %s\nwant %s", got, want)
	}
	// A report of one count of four: sparse (1 count, at cell 2, 80) is
	// shorter than dense (0, 0, 80, 0).
	apply(&events.CountReport{Unit: "n-02", Contest: "measure-a", Source: src, Counts: []events.Count{{Choice: "no", VoteType: "election-day", Votes: 8000}}})
	c := cells["nmeasure-a\x00n-02"]
	if got, want := hex.EncodeToString(c[17:]), "05"+"01"+"02"+"807d"+"00"; got != want {
		t.Errorf("cell of n-02 after its flags:\n got %s\nwant %s (own, sparse: 1 count, gap 2, 8000; 0 leaves below)", got, want)
	}
	if got := loadCells(t, cells).Snapshot(); !bytes.Equal(got, e.Snapshot()) {
		t.Error("cells load into another projection")
	}
}

// TestHostileCells: stored cells that do not decode are refused with an
// error, not a panic, and a cell that claims more counts than it holds
// allocates nothing for them.
func TestHostileCells(t *testing.T) {
	m := wideManifest(7000, 7000)
	meta := []byte(fmt.Sprintf(`{"schema":%d,"size":2,"accepted":2,"rejected":0,"certified":false,"recount":false}`, projections.SchemaVersion))
	manifest, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	head := "01" + strings.Repeat("00", 16)
	for name, cell := range map[string]string{
		"truncated":         "01",
		"unknown flags":     head + "10" + "00",
		"sparse without":    head + "04" + "00",
		"dense, short":      head + "01" + "0000" + "00",
		"sparse, too many":  head + "05" + "ffffffff0f" + "0000",
		"sparse, past":      head + "05" + "01" + "ffffffff0f" + "02" + "00",
		"sparse, zero":      head + "05" + "01" + "00" + "00" + "00",
		"sparse, truncated": head + "05" + "02" + "00" + "02",
		"trailing":          head + "00" + "00" + "00",
		"no leaves":         head + "00",
	} {
		value, err := hex.DecodeString(cell)
		if err != nil {
			t.Fatal(err)
		}
		cells := map[string][]byte{"manifest": manifest, "meta": meta, "nwide\x00p1": value}
		n := allocated(func() {
			_, err = projections.Load("wide", func(fn func(string, []byte) error) error {
				for _, k := range sortedKeys(cells) {
					if err := fn(k, cells[k]); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err == nil {
			t.Errorf("%s: Load accepted cell %s", name, cell)
		}
		if n > 64<<20 {
			t.Errorf("%s: Load allocated %d bytes", name, n)
		}
	}
}

// plainTally is Tally without its MarshalJSON: encoding/json's reflection.
type plainTally projections.Tally

// TestTallyEncoding holds Tally.Encode, which writes JSON by hand, to the
// bytes encoding/json gives the same struct: escapes, omitted fields, nil
// maps and slices, key order.
func TestTallyEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []string{"", "a", "<b>&", "\"q\"\\", "\x00\x01\x1f\x7f", "\b\f\n\r\t", "é – ü", "\u2028\u2029", "\xff\xfe", "a\xc3", "日本", "Z", "a b"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(specials[rng.IntN(len(specials))])
		}
		return b.String()
	}
	counts := func() map[string]int64 {
		if rng.IntN(8) == 0 {
			return nil
		}
		m := map[string]int64{}
		for range rng.IntN(6) {
			m[str()] = rng.Int64() - rng.Int64()
		}
		return m
	}
	for range 2000 {
		tl := &projections.Tally{Election: str(), Name: str(), Date: str(), Status: str(), Entries: rng.Uint64(), Accepted: rng.Uint64(), Rejected: rng.Uint64()}
		if rng.IntN(8) > 0 {
			tl.Contests = []projections.ContestTally{}
		}
		for range rng.IntN(3) {
			c := projections.ContestTally{ID: str(), Name: str(), VoteFor: rng.IntN(5) - 1, Kind: str(), UnitsReported: rng.Int64(), UnitsTotal: -rng.Int64(), TotalVotes: rng.Int64()}
			if rng.IntN(8) > 0 {
				c.Choices = []projections.ChoiceTally{}
			}
			for range rng.IntN(3) {
				c.Choices = append(c.Choices, projections.ChoiceTally{ID: str(), Name: str(), Party: str(), Votes: rng.Int64(), Share: str(), ByVoteType: counts()})
			}
			if rng.IntN(8) > 0 {
				c.Units = []projections.UnitTally{}
			}
			for range rng.IntN(4) {
				c.Units = append(c.Units, projections.UnitTally{ID: str(), Parent: str(), Reported: rng.IntN(2) == 0, Version: rng.Uint64(), UnitsReported: rng.Int64(), UnitsTotal: rng.Int64(), Votes: counts()})
			}
			tl.Contests = append(tl.Contests, c)
		}
		got, err := tl.Encode()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal((*plainTally)(tl))
		if err != nil {
			t.Fatal(err)
		}
		if want = append(want, '\n'); !bytes.Equal(got, want) {
			t.Fatalf("Encode:\n%q\nencoding/json:\n%q", got, want)
		}
		// Inside another document, as audit.AsOf holds one.
		doc, err := json.Marshal(struct {
			T *projections.Tally `json:"tally"`
		}{tl})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"tally":` + string(want[:len(want)-1]) + `}`; string(doc) != want {
			t.Fatalf("in a document:\n%s\nwant\n%s", doc, want)
		}
	}
}

// TestTallyOfWideContest: the tally shows every choice, by vote type and
// on each unit's row; what it costs follows that document, not choices ×
// vote types × units.
func TestTallyOfWideContest(t *testing.T) {
	m := wideManifest(events.MaxChoices, 1) // on 3 units
	for i := 3; i < 1000; i++ {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("q%d", i), Name: "Q", Kind: "precinct", Parent: "st"})
	}
	if err := (&events.Event{ID: uuid.Must(uuid.NewV7()), Election: "wide", Body: m}).Validate(); err != nil {
		t.Fatal(err)
	}
	e, err := projections.New("wide", m)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "wide", Body: &events.CountReport{Unit: "p1", Contest: "wide",
		Source: events.Source{Operator: "clerk"}, Counts: []events.Count{{Choice: "c499", VoteType: "v0", Votes: 7}}}}
	for i, en := range []*events.Entry{
		{Index: 0, Verdict: events.Accepted, Event: &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "wide", Body: m}},
		{Index: 1, Verdict: events.Accepted, Event: ev},
	} {
		if i > 0 && e.Check(en.Event) != nil {
			t.Fatal("rejected")
		}
		if err := e.Apply(en); err != nil {
			t.Fatal(err)
		}
	}
	var doc []byte
	n := allocated(func() {
		if doc, err = e.Tally().Encode(); err != nil {
			t.Fatal(err)
		}
	})
	// 1,000 unit rows of 500 choices: half a million numbers, some 6 MB
	// of JSON.
	t.Logf("tally of 1,000 units × 500 choices: %d MB of JSON, %d MB allocated", len(doc)>>20, n>>20)
	if n > 80<<20 {
		t.Errorf("the tally allocated %d MB, want under 80 MB", n>>20)
	}
	if !bytes.Contains(doc, []byte(`"c499":7`)) {
		t.Error("the report is not in the tally")
	}
}

// FuzzRestore restores arbitrary snapshots of a small election: no panic,
// and what restores snapshots to bytes that restore to the same.
func FuzzRestore(f *testing.F) {
	m := wideManifest(3, 2)
	e, err := projections.New("fuzz", m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(e.Snapshot())
	src := events.Source{Operator: "clerk"}
	for i, body := range []events.Body{m,
		&events.CountReport{Unit: "p1", Contest: "wide", Source: src, Counts: []events.Count{{Choice: "c2", VoteType: "v1", Votes: 9}}},
		&events.CountReport{Unit: "p2", Contest: "wide", Source: src, Counts: []events.Count{{Choice: "c0", VoteType: "v0", Votes: 1}, {Choice: "c0", VoteType: "v1", Votes: 2}, {Choice: "c1", VoteType: "v0", Votes: 3}, {Choice: "c2", VoteType: "v1", Votes: -0}}},
		&events.CountReport{Unit: "st", Contest: "wide", Source: src, Counts: []events.Count{{Choice: "c1", VoteType: "v1", Votes: 1 << 40}}},
	} {
		ev := &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "fuzz", Body: body}
		if err := e.Apply(&events.Entry{Index: uint64(i), Verdict: events.Accepted, Event: ev}); err != nil {
			f.Fatal(err)
		}
		f.Add(e.Snapshot())
	}
	f.Fuzz(func(t *testing.T, snap []byte) {
		r, err := projections.Restore("fuzz", m, snap)
		if err != nil {
			return
		}
		again := r.Snapshot()
		r2, err := projections.Restore("fuzz", m, again)
		if err != nil {
			t.Fatalf("a restored projection's snapshot does not restore: %v", err)
		}
		if !bytes.Equal(r2.Snapshot(), again) {
			t.Fatal("a snapshot restores to another")
		}
		if _, err := r2.Tally().Encode(); err != nil {
			t.Fatal(err)
		}
		r2.Reconcile()
		r2.Status()
	})
}
