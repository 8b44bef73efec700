package audit_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/importer"
	ga06data "github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/projections"
)

// runoffEvents returns the GA-06 runoff of June 2017 as one election's
// events: a manifest (the state's county-level export, by vote type, with
// the precinct units, the "total" vote type and the turnout contest of the
// OpenElections precinct files added), the counties' reports, then the
// precincts', whose contest "us-house-6" is the export's
// "us-representative-district-6".
func runoffEvents(t *testing.T) []*events.Event {
	t.Helper()
	imp, err := ga06data.JuneMerged()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := imp.Events(true)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestReconcile logs the GA-06 runoff's county and precinct reports through
// a real ledger, then a correction of one precinct: the log reconciles with
// no findings before the correction and with one naming the county after
// it, and the JSON has the documented field names.
func TestReconcile(t *testing.T) {
	dir := t.TempDir()
	n := openNode(t, node.Config{DataDir: dir})
	evs := runoffEvents(t)
	for rest := evs; len(rest) > 0; {
		k := min(len(rest), 300)
		mustSubmit(t, n.Ledger, rest[:k]...)
		rest = rest[k:]
	}
	var addison *events.Event
	for _, ev := range evs {
		if r, ok := ev.Body.(*events.CountReport); ok && r.Unit == "cobb:addison-01" && r.Contest == "us-representative-district-6" {
			addison = ev
		}
	}
	fixed := *addison.Body.(*events.CountReport)
	fixed.Counts = slices.Clone(fixed.Counts)
	for i := range fixed.Counts {
		if fixed.Counts[i].Choice == "karen-handel" {
			fixed.Counts[i].Votes += 10
		}
	}
	rc := mustSubmit(t, n.Ledger, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: ga06data.JuneElection,
		Body: &events.Correction{Corrects: addison.ID, Reason: "typo", CountReport: fixed}})
	if rc[0].Verdict != events.Accepted {
		t.Fatalf("correction: %+v", rc)
	}
	size := rc[0].TreeSize
	closeNode(t, n)
	db := ledgerDir{dir: dir}.open(t)

	before, err := audit.Reconcile(db, ga06data.JuneElection, size-1)
	if err != nil {
		t.Fatal(err)
	}
	if before.Len() != 0 || before.TreeSize != size-1 || before.Election != ga06data.JuneElection {
		t.Fatalf("before the correction: %+v", before)
	}
	after, err := audit.Reconcile(db, ga06data.JuneElection, size)
	if err != nil {
		t.Fatal(err)
	}
	want := []projections.RollupFinding{{Contest: "us-representative-district-6", Unit: "cobb", Choice: "karen-handel",
		Own: 45688, Children: 45698, UnitsReported: 50, UnitsTotal: 50, Complete: true}}
	if !reflect.DeepEqual(after.Rollup, want) || len(after.Unreported) != 0 || len(after.Files) != 0 {
		t.Fatalf("after the correction: %+v", after)
	}

	after.AddFiles([]importer.Finding{{Kind: importer.FindingRollup, File: "x.csv", Where: "line 3", Msg: "differs"}})
	b, err := after.Encode()
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := fmt.Sprintf(`{"election":"ga06-2017-06","tree_size":%d,"rollup":[{"contest":"us-representative-district-6","unit":"cobb","choice":"karen-handel","own":45688,"children":45698,"units_reported":50,"units_total":50,"complete":true}],"unreported":[],"files":[{"kind":"rollup-sum","file":"x.csv","where":"line 3","msg":"differs"}]}`+"\n", size)
	if got := string(b); got != wantJSON {
		t.Errorf("JSON:\n%s", got)
	}
	var text strings.Builder
	if err := after.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(text.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "rollup: us-representative-district-6: cobb: karen-handel: own report 45688, children's sum 45698") ||
		!strings.HasPrefix(lines[1], "rollup-sum: x.csv: line 3: differs") || !strings.HasPrefix(lines[2], "2 findings in ga06-2017-06") {
		t.Errorf("text:\n%s", text.String())
	}

	if _, err := audit.Reconcile(db, ga06data.JuneElection, 0); err == nil {
		t.Error("reconciled at size 0")
	}
	var me *audit.MismatchError
	if _, err := audit.Reconcile(db, ga06data.JuneElection, size+1); !errors.As(err, &me) || me.Index != size {
		t.Errorf("past the end: %v", err)
	}
}

// TestReconcileFromSnapshots: findings computed from the newest snapshot
// are those of a replay from entry 0, at sizes on, just before and just
// after each snapshot.
func TestReconcileFromSnapshots(t *testing.T) {
	const election, total = "snap-2026", 2500
	ld := snapshotLedger(t, election, total)
	db := ld.open(t)
	var sizes []uint64
	if err := db.Snapshots(election, func(n uint64, _ []byte) error { sizes = append(sizes, n-1, n, n+1); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(sizes) == 0 {
		t.Fatal("no snapshots")
	}
	sizes = append(sizes, 1, 5, total)
	for _, n := range sizes {
		fast, err := audit.Reconcile(db, election, n)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := audit.Reconcile(entriesOnly{db}, election, n)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("at %d: from a snapshot %+v, from entry 0 %+v", n, fast, slow)
		}
		if n > 5 && len(fast.Rollup) == 0 {
			t.Errorf("at %d: county a's own report and its precincts' reports differ, but no finding", n)
		}
	}
}
