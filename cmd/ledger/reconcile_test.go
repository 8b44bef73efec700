package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/ga06"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// runoffEvents returns the GA-06 runoff of June 2017 as one election's
// events: the state's county-level export with the precinct units, the
// "total" vote type and the turnout contest of the OpenElections precinct
// files added to its manifest, then the counties' reports and the
// precincts' (their contest "us-house-6" is the export's
// "us-representative-district-6"). It also writes the precinct files to
// dir and returns their paths.
func runoffEvents(t *testing.T, dir string) ([]*events.Event, []string) {
	t.Helper()
	var paths []string
	for _, name := range ga06.PrecinctFiles {
		data, err := fs.ReadFile(ga06.Files(), name)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(dir, name))
		if err := os.WriteFile(paths[len(paths)-1], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	imp, err := ga06.JuneMerged()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := imp.Events(true)
	if err != nil {
		t.Fatal(err)
	}
	return evs, paths
}

// reconciliation is the JSON document of `audit reconcile --json`, as a
// script would read it.
type reconciliation struct {
	Election string `json:"election"`
	TreeSize uint64 `json:"tree_size"`
	Rollup   []struct {
		Contest, Unit, Choice string
		Own                   int64 `json:"own"`
		Children              int64 `json:"children"`
		Complete              bool  `json:"complete"`
	} `json:"rollup"`
	Unreported []struct {
		Contest string   `json:"contest"`
		Units   []string `json:"units"`
	} `json:"unreported"`
	Files []struct {
		Kind string `json:"kind"`
		File string `json:"file"`
	} `json:"files"`
}

func parseReconciliation(t *testing.T, out string) reconciliation {
	t.Helper()
	var r reconciliation
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	return r
}

// TestReconcileCLI logs the GA-06 runoff's county and precinct reports
// through a real ledger and reconciles it over HTTP and offline: exit 0
// with no findings while they agree, exit 4 with a finding naming Cobb
// once one precinct is corrected, and with a finding of a results file
// whose roll-up row was changed.
func TestReconcileCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	closed := false
	defer func() {
		if !closed {
			n.Close(ctx)
		}
	}()
	evs, csvs := runoffEvents(t, t.TempDir())
	for rest := evs; len(rest) > 0; {
		k := min(len(rest), 300)
		if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, rest[:k]...)); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	size := uint64(len(evs))
	const id = ga06.JuneElection
	reconcile := func(args ...string) (int, string, string) {
		t.Helper()
		return cli(t, "", append([]string{"audit", "reconcile", "--election", id}, args...)...)
	}

	code, out, stderr := reconcile("--server", srv.URL)
	if code != exitOK || out != "0 findings in "+id+" at tree size "+strconv.FormatUint(size, 10)+"\n" {
		t.Fatalf("agreeing reports: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = reconcile("--server", srv.URL, "--json", "--format", "openelections", csvs[0], csvs[1], csvs[2])
	if r := parseReconciliation(t, out); code != exitOK || r.Election != id || r.TreeSize != size || len(r.Rollup)+len(r.Unreported)+len(r.Files) != 0 ||
		r.Rollup == nil || r.Unreported == nil || r.Files == nil {
		t.Fatalf("agreeing reports and files, --json: exit %d:\n%s%s", code, out, stderr)
	}

	// A results file whose Cobb roll-up row is one vote off.
	data, err := os.ReadFile(csvs[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), filepath.Base(csvs[0]))
	edited := strings.Replace(string(data), "Cobb,TOTAL,U.S. House,6,Karen Handel,R,45688", "Cobb,TOTAL,U.S. House,6,Karen Handel,R,45687", 1)
	if edited == string(data) {
		t.Fatal("no Cobb roll-up row to change")
	}
	if err := os.WriteFile(bad, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	// The files' findings are summarised by kind; -v or --json lists them.
	code, out, stderr = reconcile("--server", srv.URL, "--format", "openelections", bad)
	if code != exitFindings || out != "results files: 1 rollup-sum (-v lists them)\n1 finding in "+id+" at tree size "+strconv.FormatUint(size, 10)+": 1 in a results file\n" ||
		!strings.Contains(stderr, "reconciliation findings") {
		t.Errorf("a file's roll-up row changed: exit %d:\n%s%s", code, out, stderr)
	}
	t.Logf("a file's roll-up row changed:\n%s", out)
	code, out, stderr = reconcile("--server", srv.URL, "-v", "--format", "openelections", bad)
	if code != exitFindings || !strings.HasPrefix(out, "rollup-sum: "+bad+": line 204: ") || !strings.Contains(out, "\n1 finding in "+id) {
		t.Errorf("a file's roll-up row changed, -v: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = reconcile("--server", srv.URL, "--json", "--format", "openelections", bad)
	if r := parseReconciliation(t, out); code != exitFindings || len(r.Files) != 1 || r.Files[0].Kind != "rollup-sum" || r.Files[0].File != bad {
		t.Errorf("a file's roll-up row changed, --json: exit %d:\n%s%s", code, out, stderr)
	}
	if code, _, stderr = reconcile("--server", srv.URL, "-v", "--json"); code != exitError {
		t.Errorf("-v with --json: exit %d: %s", code, stderr)
	}

	// One Cobb precinct corrected: the county's report no longer agrees.
	var addison *events.Event
	for _, ev := range evs {
		if r, ok := ev.Body.(*events.CountReport); ok && r.Unit == "cobb:addison-01" && r.Contest == "us-representative-district-6" {
			addison = ev
		}
	}
	fixed := *addison.Body.(*events.CountReport)
	fixed.Counts = slices.Clone(fixed.Counts)
	fixed.Counts[0].Votes++
	rc, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: id,
		Body: &events.Correction{Corrects: addison.ID, Reason: "typo", CountReport: fixed}}))
	if err != nil || rc[0].Verdict != events.Accepted {
		t.Fatalf("correction: %v %+v", err, rc)
	}
	code, out, stderr = reconcile("--server", srv.URL, "--format", "openelections", bad)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitFindings || len(lines) != 3 || !strings.HasPrefix(lines[0], "rollup: us-representative-district-6: cobb: ") ||
		lines[1] != "results files: 1 rollup-sum (-v lists them)" || !strings.HasPrefix(lines[2], "2 findings in "+id) {
		t.Errorf("a precinct corrected, and a file: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = reconcile("--server", srv.URL)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != exitFindings || len(lines) != 2 || !strings.HasPrefix(lines[0], "rollup: us-representative-district-6: cobb: "+fixed.Counts[0].Choice+": ") ||
		!strings.HasPrefix(lines[1], "1 finding in "+id) {
		t.Errorf("a precinct corrected: exit %d:\n%s%s", code, out, stderr)
	}
	t.Logf("a precinct corrected:\n%s%s", out, stderr)
	code, out, _ = reconcile("--server", srv.URL, "--json")
	if r := parseReconciliation(t, out); code != exitFindings || r.TreeSize != size+1 || len(r.Rollup) != 1 || r.Rollup[0].Unit != "cobb" ||
		r.Rollup[0].Children != r.Rollup[0].Own+1 || !r.Rollup[0].Complete {
		t.Errorf("a precinct corrected, --json: exit %d:\n%s", code, out)
	}
	if code, out, _ = reconcile("--server", srv.URL, "--as-of", strconv.FormatUint(size, 10)); code != exitOK || !strings.HasPrefix(out, "0 findings") {
		t.Errorf("--as-of before the correction: exit %d:\n%s", code, out)
	}

	// Errors: exit 1.
	for _, args := range [][]string{
		{"--server", srv.URL, "--as-of", "0"},
		{"--server", srv.URL, "--as-of", strconv.FormatUint(size+2, 10)},
		{"--server", srv.URL, csvs[0]},
		{"--server", srv.URL, "--format", "openelections"},
		{"--server", srv.URL, "--format", "xml", csvs[0]},
		{"--server", srv.URL, "--format", "ga-sos", csvs[0]},
		{"--server", srv.URL, "--data", dir},
	} {
		if code, _, stderr := reconcile(args...); code != exitError {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if code, _, stderr := cli(t, "", "audit", "reconcile", "--server", srv.URL, "--election", "nope"); code != exitError || !strings.Contains(stderr, id) {
		t.Errorf("unknown election: exit %d: %s", code, stderr)
	}

	// Offline, from the data directory, with the server stopped.
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	code, out, stderr = reconcile("--data", dir, "--json")
	if r := parseReconciliation(t, out); code != exitFindings || len(r.Rollup) != 1 || r.Rollup[0].Unit != "cobb" {
		t.Errorf("offline: exit %d:\n%s%s", code, out, stderr)
	}
	if code, out, stderr = reconcile("--data", dir, "--as-of", strconv.FormatUint(size, 10)); code != exitOK {
		t.Errorf("offline, --as-of: exit %d:\n%s%s", code, out, stderr)
	}
}
