package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestImportCommand imports the runoff's precinct files and the state's
// export through a real ledger: once (everything logged), again (nothing
// logged), and refuses a broken file and a file that does not match.
func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	data := filepath.Join("..", "..", "internal", "ga06", "data")
	csv := func(county string) string {
		return "openelections:" + filepath.Join(data, "20170620__ga__special__general__runoff__"+county+"__precinct.csv")
	}
	key := authorityKeyFile(t)
	args := []string{"import", "--server", srv.URL, "--key", key, "--election", "ga06-2017-06",
		csv("cobb"), csv("dekalb"), csv("fulton"), "ga-sos:" + filepath.Join(data, "export-2017JunSpecRun.json")}
	code, out, errs := cli(t, "", args...)
	if code != exitOK || !strings.Contains(out, "420 events logged, 0 already logged, 0 rejected; the log has 420 entries") {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "212 units") {
		t.Errorf("import did not report what it parsed:\n%s", errs)
	}
	code, out, _ = cli(t, "", args...)
	if code != exitOK || !strings.Contains(out, "0 events logged, 419 already logged") {
		t.Fatalf("import again: exit %d\n%s", code, out)
	}
	// Any subset, in any order, and a renamed copy: nothing new logged.
	copied := filepath.Join(t.TempDir(), "dekalb (copy).csv")
	b, err := os.ReadFile(filepath.Join(data, "20170620__ga__special__general__runoff__dekalb__precinct.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copied, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, files := range [][]string{
		{csv("cobb")},
		{csv("fulton"), csv("dekalb")},
		{"ga-sos:" + filepath.Join(data, "export-2017JunSpecRun.json"), csv("fulton")},
		{"--date", "2017-06-20", "--state", "ga", "openelections:" + copied},
	} {
		code, out, errs := cli(t, "", append([]string{"import", "--server", srv.URL, "--key", key, "--election", "ga06-2017-06"}, files...)...)
		if code != exitOK || !strings.Contains(out, " 0 events logged, ") || !strings.HasSuffix(out, "the log has 420 entries\n") {
			t.Fatalf("import %v again: exit %d\n%s\n%s", files, code, out, errs)
		}
		if strings.Contains(files[len(files)-1], "(copy)") && !strings.Contains(errs, "dekalb (copy).csv is byte-identical to 20170620__ga__special__general__runoff__dekalb__precinct.csv") {
			t.Errorf("renamed copy: stderr does not say what it is:\n%s", errs)
		}
	}
	code, out, _ = cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-06", "--format", "table")
	if code != exitOK || !strings.Contains(out, "134799") || !strings.Contains(out, "208 of 208 units") {
		t.Fatalf("tally after import:\n%s", out)
	}

	// A truncated file: refused, naming the file, nothing sent.
	b, err = os.ReadFile(filepath.Join(data, "export-2017AprSpec.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "cut.json")
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "", "import", "--server", srv.URL, "--key", key, "--election", "ga06-2017-04", "--format", "ga-sos", bad)
	if code != exitError || !strings.Contains(errs, "cut.json") {
		t.Fatalf("truncated file: exit %d\n%s", code, errs)
	}
	// The April export does not match the runoff's manifest.
	code, _, errs = cli(t, "", "import", "--server", srv.URL, "--key", key, "--election", "ga06-2017-06", "--format", "ga-sos", filepath.Join(data, "export-2017AprSpec.json"))
	if code != exitError || !strings.Contains(errs, "couldn't match") {
		t.Fatalf("mismatched file: exit %d\n%s", code, errs)
	}
	// No format.
	code, _, errs = cli(t, "", "import", "--server", srv.URL, "--key", key, "--election", "x", bad)
	if code != exitError || !strings.Contains(errs, "which format?") {
		t.Fatalf("no format: exit %d\n%s", code, errs)
	}
	for _, e := range n.Ledger.Elections() {
		if e.ID == "ga06-2017-04" || e.ID == "x" {
			t.Fatalf("a refused import created election %s", e.ID)
		}
	}
}

// TestTallyAtCheckpoint asks for the tally at a signed checkpoint held in a
// file: the root of the replayed entries must match it.
func TestTallyAtCheckpoint(t *testing.T) {
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	example := exampleFile(t)
	if code, _, errs := cli(t, "", "submit", "--server", srv.URL, "--key", authorityKeyFile(t), example); code != exitOK {
		t.Fatal(errs)
	}
	code, cp, errs := cli(t, "", "checkpoint", "--server", srv.URL, "--election", "ga06-2017-04")
	if code != exitOK {
		t.Fatal(errs)
	}
	file := filepath.Join(t.TempDir(), "cp.txt")
	if err := os.WriteFile(file, []byte(cp), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04", "--checkpoint", file, "--key", n.VerifierKey)
	if code != exitOK || !strings.Contains(out, `"tree_size":6`) {
		t.Fatalf("tally at checkpoint: exit %d\n%s\n%s", code, out, errs)
	}
	// A changed checkpoint: its signature fails.
	bad := strings.Replace(cp, "\n6\n", "\n5\n", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04", "--checkpoint", file, "--key", n.VerifierKey)
	if code != exitError || !strings.Contains(errs, "cp.txt") {
		t.Fatalf("changed checkpoint: exit %d\n%s", code, errs)
	}
}

// startLedger starts a ledger with its HTTP API for a test.
func startLedger(t *testing.T) (*node.Node, string) {
	t.Helper()
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(ctx) })
	srv := httptest.NewServer(n.Handler)
	t.Cleanup(srv.Close)
	return n, srv.URL
}

func treeSize(n *node.Node, election string) uint64 {
	for _, e := range n.Ledger.Elections() {
		if e.ID == election {
			return e.Size
		}
	}
	return 0
}

// TestImportWrongElection: the June runoff's export, into the April
// election, is refused (exit 1), naming both dates and the file, and
// nothing is logged; files of two dates are not imported together.
func TestImportWrongElection(t *testing.T) {
	n, url := startLedger(t)
	data := filepath.Join("..", "..", "internal", "ga06", "data")
	april, june := filepath.Join(data, "export-2017AprSpec.json"), filepath.Join(data, "export-2017JunSpecRun.json")
	key := authorityKeyFile(t)
	code, out, errs := cli(t, "", "import", "--server", url, "--key", key, "--election", "ga06-2017-04", "--format", "ga-sos", april)
	if code != exitOK {
		t.Fatalf("April export: exit %d\n%s%s", code, out, errs)
	}
	size := treeSize(n, "ga06-2017-04")
	code, out, errs = cli(t, "", "import", "--server", url, "--key", key, "--election", "ga06-2017-04", "--format", "ga-sos", june)
	if code != exitError || !strings.Contains(errs, "export-2017JunSpecRun.json with election ga06-2017-04: the files are of an election on 2017-06-20, but election ga06-2017-04 is on 2017-04-18") {
		t.Fatalf("June export into the April election: exit %d\n%s%s", code, out, errs)
	}
	if got := treeSize(n, "ga06-2017-04"); got != size {
		t.Fatalf("the refused import changed the tree size from %d to %d", size, got)
	}
	t.Logf("refused: %s", errs)
	code, _, errs = cli(t, "", "import", "--server", url, "--key", key, "--election", "both", "--format", "ga-sos", april, june)
	if code != exitError || !strings.Contains(errs, "(an election on 2017-04-18) with") || !strings.Contains(errs, "(an election on 2017-06-20)") {
		t.Fatalf("files of two dates: exit %d\n%s", code, errs)
	}
	if treeSize(n, "both") != 0 {
		t.Fatal("files of two dates created an election")
	}
}

// importSummaryDoc is the document of `ledger import --json`, as a script
// reads it.
type importSummaryDoc struct {
	Election string `json:"election"`
	Checked  struct {
		Contests, Choices int
		Votes             int64
	} `json:"checked"`
	Files          []string       `json:"files"`
	Reports        int            `json:"reports"`
	Events         int            `json:"events"`
	DryRun         bool           `json:"dry_run"`
	Logged         int            `json:"logged"`
	AlreadyLogged  int            `json:"already_logged"`
	Rejected       int            `json:"rejected"`
	TreeSize       uint64         `json:"tree_size"`
	FindingsByKind map[string]int `json:"findings_by_kind"`
	Findings       []struct {
		Kind, File, Where, Msg string
	} `json:"findings"`
}

// TestImportFindings imports a Cobb precinct file whose roll-up row for
// Karen Handel is one vote off: a summary by kind on standard output and
// exit 4; every finding with -v or --json; exit 3 (rejected) wins over 4.
func TestImportFindings(t *testing.T) {
	n, url := startLedger(t)
	data := filepath.Join("..", "..", "internal", "ga06", "data")
	orig := filepath.Join(data, "20170620__ga__special__general__runoff__cobb__precinct.csv")
	b, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), filepath.Base(orig))
	edited := strings.Replace(string(b), "Cobb,TOTAL,U.S. House,6,Karen Handel,R,45688", "Cobb,TOTAL,U.S. House,6,Karen Handel,R,45687", 1)
	if edited == string(b) {
		t.Fatal("no Cobb roll-up row to change")
	}
	if err := os.WriteFile(bad, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	key := authorityKeyFile(t)
	imp := func(election string, flags ...string) (int, string, string) {
		t.Helper()
		return cli(t, "", append([]string{"import", "--server", url, "--key", key, "--election", election, "--format", "openelections"}, flags...)...)
	}
	const summary = "checked: the reports add up to the files' own rows in every contest and choice (2 contests, 4 choices, 287209 in all)\nfindings: 1 rollup-sum\n"
	line := "rollup-sum: " + bad + ": line 204: roll-up of Cobb"

	code, out, errs := imp("cobb", "--dry-run", bad)
	if code != exitFindings || !strings.HasPrefix(out, summary+"would submit ") || strings.Contains(out+errs, line) {
		t.Errorf("dry run: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = imp("cobb", bad)
	lines := strings.Split(out, "\n")
	if code != exitFindings || len(lines) != 4 || lines[0]+"\n"+lines[1]+"\n" != summary || !strings.HasPrefix(lines[2], "cobb: ") ||
		!strings.Contains(lines[2], " events logged, 0 already logged, 0 rejected") || strings.Contains(errs, line) ||
		!strings.Contains(errs, "the files have 1 finding(s) (1 rollup-sum): list them with -v or --json") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	t.Logf("import:\n%s%s", out, errs)
	size := treeSize(n, "cobb")
	code, out, errs = imp("cobb", "-v", bad)
	if code != exitFindings || !strings.HasPrefix(out, summary+line) || !strings.Contains(out, " 0 events logged, ") || !strings.Contains(errs, "listed on standard output") {
		t.Errorf("-v: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = imp("cobb", "--json", bad)
	var doc importSummaryDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitFindings || strings.Count(out, "\n") != 1 {
		t.Fatalf("--json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if doc.Checked.Contests != 2 || doc.Checked.Choices != 4 || doc.Checked.Votes != 287209 {
		t.Errorf("--json: checked %+v", doc.Checked)
	}
	if doc.Election != "cobb" || len(doc.Files) != 1 || doc.Files[0] != bad || doc.Logged != 0 || doc.AlreadyLogged != doc.Events || doc.Events != doc.Reports ||
		doc.TreeSize != size || doc.DryRun || doc.FindingsByKind["rollup-sum"] != 1 || len(doc.Findings) != 1 ||
		doc.Findings[0].Kind != "rollup-sum" || doc.Findings[0].File != bad || doc.Findings[0].Where != "line 204" || !strings.Contains(doc.Findings[0].Msg, "45687") {
		t.Errorf("--json: %+v", doc)
	}
	if code, _, errs = imp("cobb", "-v", "--json", bad); code != exitError {
		t.Errorf("-v with --json: exit %d: %s", code, errs)
	}

	// The original file, then the election certified: the edited file's
	// reports (its bytes differ, so they are new events) are rejected, and
	// exit 3 wins over the findings' 4.
	if code, out, errs = imp("cert", orig); code != exitOK || strings.Contains(out, "findings:") {
		t.Fatalf("original file: exit %d\n%s%s", code, out, errs)
	}
	rc, err := n.Ledger.Submit(context.Background(), testkeys.MustSign(testkeys.Authority, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "cert", Body: &events.Certification{By: "state"}}))
	if err != nil || rc[0].Verdict != events.Accepted {
		t.Fatalf("certification: %v %+v", err, rc)
	}
	code, out, errs = imp("cert", bad)
	if code != exitRejected || !strings.HasPrefix(out, summary) || !strings.Contains(errs, "rejected") {
		t.Errorf("edited file into a certified election: exit %d\n%s%s", code, out, errs)
	}
}
