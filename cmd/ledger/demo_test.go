package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoCommand runs the README's first command as a user would (with
// --once, at full speed, on a free port) and checks its exit code and story.
func TestDemoCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errs := cli(t, "", "demo", "--once", "--pace", "0", "--http", "127.0.0.1:0", "--data", dir)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// Each election's log holds its events and, since submissions are
	// signed, the authority's registrations of the three county offices'
	// keys: 28+3 and 421+3 entries, each from its office's submission.
	for _, want := range []string{"SIMULATED", "falls below 50%", "rises above 50%", "48.12%", "51.78%",
		"equal to the official results", "Verified: 31 entries", "Verified: 424 entries",
		"every entry is its office's signed submission"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A second run refuses the directory it left behind.
	if _, err := os.Stat(filepath.Join(dir, "pebble")); err != nil {
		t.Fatal(err)
	}
	code, _, errs = cli(t, "", "demo", "--once", "--pace", "0", "--http", "127.0.0.1:0", "--data", dir)
	if code != exitError || !strings.Contains(errs, "is not empty") {
		t.Fatalf("demo in a used directory: exit %d, %s", code, errs)
	}
}
