package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/node"
)

// TestImportCommand imports the runoff's precinct files and the state's
// export through a real ledger: once (everything logged), again (nothing
// logged), and refuses a broken file and a file that does not match.
func TestImportCommand(t *testing.T) {
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0"})
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
	args := []string{"import", "--server", srv.URL, "--election", "ga06-2017-06",
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
	code, out, _ = cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-06", "--format", "table")
	if code != exitOK || !strings.Contains(out, "134799") || !strings.Contains(out, "208 of 208 units") {
		t.Fatalf("tally after import:\n%s", out)
	}

	// A truncated file: refused, naming the file, nothing sent.
	b, err := os.ReadFile(filepath.Join(data, "export-2017AprSpec.json"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "cut.json")
	if err := os.WriteFile(bad, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "", "import", "--server", srv.URL, "--election", "ga06-2017-04", "--format", "ga-sos", bad)
	if code != exitError || !strings.Contains(errs, "cut.json") {
		t.Fatalf("truncated file: exit %d\n%s", code, errs)
	}
	// The April export does not match the runoff's manifest.
	code, _, errs = cli(t, "", "import", "--server", srv.URL, "--election", "ga06-2017-06", "--format", "ga-sos", filepath.Join(data, "export-2017AprSpec.json"))
	if code != exitError || !strings.Contains(errs, "couldn't match") {
		t.Fatalf("mismatched file: exit %d\n%s", code, errs)
	}
	// No format.
	code, _, errs = cli(t, "", "import", "--server", srv.URL, "--election", "x", bad)
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
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	example := filepath.Join("..", "..", "examples", "ga06-2017-04.jsonl")
	if code, _, errs := cli(t, "", "submit", "--server", srv.URL, example); code != exitOK {
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
