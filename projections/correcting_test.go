package projections_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/projections"
)

// Correcting follows the latest accepted count change; it is part of the
// persisted state (meta cell and snapshot) and a pure function of the
// entries applied.
func TestCorrecting(t *testing.T) {
	r := newRig(t)
	check := func(step string, want bool) {
		t.Helper()
		if got := r.e.Correcting(); got != want {
			t.Fatalf("%s: Correcting() = %v, want %v", step, got, want)
		}
		// A replay of the same entries, the cells flushed after every
		// entry, and a snapshot all say the same.
		replay := fold(t, ruManifest(), r.entries)
		if replay.Correcting() != want {
			t.Fatalf("%s: replay says Correcting() = %v", step, replay.Correcting())
		}
		cells := map[string][]byte{}
		if err := replay.Flush(func(k string, v []byte) { cells[k] = bytes.Clone(v) }); err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(cells, r.cells, bytes.Equal) {
			t.Fatalf("%s: replayed cells differ from incrementally flushed ones", step)
		}
		if got := loadCells(t, r.cells).Correcting(); got != want {
			t.Fatalf("%s: loaded projection says Correcting() = %v", step, got)
		}
		snap := r.e.Snapshot()
		if !bytes.Equal(snap, replay.Snapshot()) {
			t.Fatalf("%s: snapshot differs from the replay's", step)
		}
		restored, err := projections.Restore(ruElection, ruManifest(), snap)
		if err != nil {
			t.Fatal(err)
		}
		if restored.Correcting() != want || !bytes.Equal(restored.Snapshot(), snap) {
			t.Fatalf("%s: restored projection says Correcting() = %v", step, restored.Correcting())
		}
		if strings.Contains(string(r.cells["meta"]), `"correcting"`) != want {
			t.Fatalf("%s: meta cell %s", step, r.cells["meta"])
		}
	}
	check("manifest", false)
	c1 := r.accept(rep("cobb-01", 100, 50))
	check("report", false)
	c1b := r.accept(&events.Correction{Corrects: c1, Reason: "typo", CountReport: *rep("cobb-01", 110, 50)})
	check("correction", true)
	r.reject(&events.RecountOrder{By: "SoS", Reason: "early"}, "not certified")
	check("rejected entry", true)
	f1 := r.accept(rep("fulton-01", 300, 200))
	check("report after a correction", false)
	r.accept(&events.Retraction{Retracts: f1, Reason: "wrong precinct", Source: events.Source{Operator: "clerk"}})
	check("retraction", true)
	r.accept(rep("fulton-01", 310, 200))
	check("report after a retraction", false)
	c1c := r.accept(&events.Correction{Corrects: c1b, Reason: "recanvass", CountReport: *rep("cobb-01", 111, 50)})
	check("second correction", true)
	for _, u := range []string{"cobb-02", "cobb-03", "fulton-02", "fulton-03"} {
		r.accept(rep(u, 10, 10))
	}
	for _, u := range []string{"fulton-01", "fulton-02", "fulton-03"} {
		r.accept(fcRep(u, 5, 5))
	}
	check("complete", false)
	r.accept(&events.Certification{By: "SoS"})
	check("certified", false)
	r.accept(&events.RecountOrder{By: "SoS", Reason: "close"})
	r.accept(&events.Correction{Corrects: c1c, Reason: "recount", CountReport: *rep("cobb-01", 112, 50)})
	check("recount correction", true)
	r.accept(&events.Certification{By: "SoS", Note: "after recount"})
	check("certification keeps it", true)
}

// A meta cell written before Correcting existed loads as not correcting.
func TestCorrectingOldMetaCell(t *testing.T) {
	r := newRig(t)
	c := r.accept(rep("cobb-01", 100, 50))
	r.accept(&events.Correction{Corrects: c, Reason: "typo", CountReport: *rep("cobb-01", 110, 50)})
	var md map[string]any
	if err := json.Unmarshal(r.cells["meta"], &md); err != nil {
		t.Fatal(err)
	}
	if md["correcting"] != true {
		t.Fatalf("meta cell %s", r.cells["meta"])
	}
	delete(md, "correcting")
	old := maps.Clone(r.cells)
	old["meta"], _ = json.Marshal(md)
	e := loadCells(t, old)
	if e.Correcting() {
		t.Error("an old meta cell without correcting loads as correcting")
	}
	if e.Size() != r.e.Size() || e.Status() != r.e.Status() {
		t.Errorf("old meta cell: size %d, status %s; want %d, %s", e.Size(), e.Status(), r.e.Size(), r.e.Status())
	}
}

func loadCells(t *testing.T, cells map[string][]byte) *projections.Election {
	t.Helper()
	e, err := projections.Load(ruElection, func(fn func(string, []byte) error) error {
		for _, k := range sortedKeys(cells) {
			if err := fn(k, cells[k]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}
