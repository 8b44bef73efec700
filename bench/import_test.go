package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/client"
	"github.com/election-audit/ledger/internal/statewide"
	"github.com/election-audit/ledger/node"
)

// TestRunImport runs a small import benchmark (5,200 rows) and checks what
// it did, never how fast: RunImport itself fails unless the ledger's tally
// equals the file's totals.
func TestRunImport(t *testing.T) {
	var out strings.Builder
	r, err := RunImport(context.Background(), ImportConfig{Dir: t.TempDir(), Counties: 5, PrecinctsPer: 25, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	_, want := statewide.Generate(statewide.Layouts[0], 5, 25)
	if r.Rows != want.Rows || r.Rows != 5_200 || r.Precincts != 125 {
		t.Errorf("rows %d, precincts %d; want %d and 125", r.Rows, r.Precincts, want.Rows)
	}
	// A manifest, then a report per precinct and contest: 13 contests and
	// the president's turnout companion (over and under votes).
	if r.Events != 1+125*14 {
		t.Errorf("%d events, want %d", r.Events, 1+125*14)
	}
	var sum int64
	for _, v := range want.Votes {
		sum += v
	}
	if r.Votes != sum {
		t.Errorf("the tally has %d votes, the file %d", r.Votes, sum)
	}
	if r.RawIngest <= 0 || r.CoreIngest <= 0 || r.CoreRows <= 0 || r.ParseCoreRows <= 0 || r.ParseCoreRows >= r.CoreRows {
		t.Errorf("a ceiling is missing or wrong: raw %.0f, core %.0f events/s, %.0f rows/s, with the parse %.0f rows/s",
			r.RawIngest, r.CoreIngest, r.CoreRows, r.ParseCoreRows)
	}
	for _, s := range []string{"import end to end", "raw ingest of the core bench", "core ingest of the import's events", "ceiling: the parse, then the core ingest", "target: import ≥ 50000 rows/s end to end: "} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the report has no %q:\n%s", s, out.String())
		}
	}
}

// TestCheckImport makes sure the check after the import fails when the
// ledger's tally and the file's totals differ, so that the benchmark cannot
// pass on a broken import.
func TestCheckImport(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data, want := statewide.Generate(statewide.Layouts[0], 3, 4)
	file := filepath.Join(dir, importFileName)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := openNode(ctx, node.Config{DataDir: filepath.Join(dir, "ledger"), HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(context.Background())
	c, err := client.New("http://"+n.HTTPAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(benchKey())
	var r ImportReport
	if _, err := importFile(ctx, c, file, 5, &r); err != nil {
		t.Fatal(err)
	}
	if _, err := checkImport(n.Ledger, want, r.Events); err != nil {
		t.Fatalf("a sound import: %v", err)
	}
	if _, err := checkImport(n.Ledger, want, r.Events+1); err == nil {
		t.Error("an event short: no error")
	}
	bad := func(edit func(w *statewide.Want)) statewide.Want {
		w := statewide.Want{Votes: map[string]int64{}, VoteTypes: map[string]int64{}}
		for k, v := range want.Votes {
			w.Votes[k] = v
		}
		for k, v := range want.VoteTypes {
			w.VoteTypes[k] = v
		}
		edit(&w)
		return w
	}
	for name, w := range map[string]statewide.Want{
		"a vote more":        bad(func(w *statewide.Want) { w.Votes["Governor|KIM KING"]++ }),
		"a candidate less":   bad(func(w *statewide.Want) { delete(w.Votes, "U.S. House|HAL HILL") }),
		"a vote type more":   bad(func(w *statewide.Want) { w.VoteTypes["mail"] = 1 }),
		"a vote moved types": bad(func(w *statewide.Want) { w.VoteTypes["provisional"]--; w.VoteTypes["election-day"]++ }),
	} {
		if _, err := checkImport(n.Ledger, w, r.Events); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Importing the same file again logs nothing new: the benchmark refuses it.
	if _, err := importFile(ctx, c, file, 5, &r); err == nil || !strings.Contains(err.Error(), "duplicate true") {
		t.Errorf("a second import: %v, want an error for duplicates", err)
	}
}
