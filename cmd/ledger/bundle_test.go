package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
)

// ledgerCLI runs the ledger command in-process as main does, and returns
// its output and exit code.
func ledgerCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	code = exitOK
	if err := root.ExecuteContext(context.Background()); err != nil {
		errOut.WriteString("ledger: " + err.Error() + "\n")
		code = exitError
		var ec *exitCodeError
		if errors.As(err, &ec) {
			code = ec.code
		}
	}
	return out.String(), errOut.String(), code
}

// bundleTestLedger logs the example election: the first three events one
// step each, the other three in one submission (so some sizes may have no
// checkpoint). It returns the closed ledger's data directory.
func bundleTestLedger(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][]*events.Event{evs[:1], evs[1:2], evs[2:3], evs[3:]} {
		if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, batch...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAuditBundleCLI(t *testing.T) {
	data := bundleTestLedger(t)
	out := t.TempDir()
	pub := filepath.Join(data, "ledger.pub")
	b, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(b))
	const election = "ga06-2017-04"

	// The latest size by default; verified with and without --key.
	latest := filepath.Join(out, "latest.tar")
	stdout, stderr, code := ledgerCLI(t, "audit", "bundle", "--data", data, "--election", election, "-o", latest)
	if code != 0 || !strings.Contains(stdout, "entries [0, 6)") {
		t.Fatalf("bundle: %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("%s", stdout)
	logKey, err := checkpoint.LogKey(key, election)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range [][]string{nil, {"--key", pub}, {"--key", key}, {"--key", logKey}} {
		stdout, stderr, code = ledgerCLI(t, append([]string{"audit", "verify-bundle", latest}, k...)...)
		if code != 0 || !strings.HasSuffix(stdout, "OK\n") || !strings.Contains(stdout, "election     "+election+"\n") ||
			!strings.Contains(stdout, "entries      6 ") || !strings.Contains(stdout, "tally        sha256 ") {
			t.Fatalf("verify-bundle %v: %d\n%s%s", k, code, stdout, stderr)
		}
	}
	t.Logf("%s", stdout)

	// An explicit size; the same size twice gives the same file.
	at3, again := filepath.Join(out, "at3.tar"), filepath.Join(out, "at3-again.tar")
	for _, o := range []string{at3, again} {
		if _, stderr, code := ledgerCLI(t, "audit", "bundle", "--data", data, "--election", election, "--as-of", "3", "-o", o); code != 0 {
			t.Fatalf("bundle --as-of 3: %s", stderr)
		}
	}
	b1, _ := os.ReadFile(at3)
	b2, _ := os.ReadFile(again)
	if len(b1) == 0 || !bytes.Equal(b1, b2) {
		t.Error("two bundles at 3 differ")
	}
	if stdout, stderr, code := ledgerCLI(t, "audit", "verify-bundle", at3, "--key", pub); code != 0 || !strings.Contains(stdout, "entries      3 ") {
		t.Fatalf("verify-bundle at 3: %s%s", stdout, stderr)
	}

	// The election authority the manifest names, required or not.
	stdout, stderr, code = ledgerCLI(t, "audit", "verify-bundle", latest, "--key", pub, "--authority", testkeys.Authority.Verifier)
	if code != 0 || !strings.Contains(stdout, "authority    "+testkeys.Authority.Verifier+" (required by --authority)") || !strings.Contains(stdout, "submissions  ") {
		t.Fatalf("verify-bundle --authority: %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = ledgerCLI(t, "audit", "verify-bundle", latest, "--key", pub, "--authority", testkeys.New("rogue-authority").Verifier)
	if code != exitError || !strings.Contains(stderr, "the manifest names authority "+testkeys.Authority.Verifier+", not the required rogue-authority+") {
		t.Errorf("another authority required: %d %s", code, stderr)
	}

	// A bundle with another ledger's key is refused.
	_, otherKey, err := note.GenerateKey(rand.Reader, "ledger.local")
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code = ledgerCLI(t, "audit", "verify-bundle", latest, "--key", otherKey)
	if code != exitError || !strings.Contains(stderr, "verification FAILED") || !strings.Contains(stderr, "required key") {
		t.Errorf("wrong key: %d %s", code, stderr)
	}
	t.Logf("wrong key: %s", stderr)
	// Another election's log key, of this ledger: refused.
	otherLog, err := checkpoint.LogKey(key, "ga06-2017-06")
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code = ledgerCLI(t, "audit", "verify-bundle", latest, "--key", otherLog)
	if code != exitError || !strings.Contains(stderr, "is the key of log ledger.local/ga06-2017-06, not of ledger.local/"+election) {
		t.Errorf("another election's log key: %d %s", code, stderr)
	}

	// Tampered and broken files: exit 1, the fault named.
	good, err := os.ReadFile(latest)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	i := bytes.Index(flipped, []byte(`{"v":2,"index":1,`)) // entry 1, the first count report
	i += bytes.Index(flipped[i:], []byte(`"votes":`))
	flipped[i+len(`"votes":`)] ^= 0x01
	for name, b := range map[string][]byte{
		"flipped":      flipped,
		"truncated":    good[:len(good)/2],
		"empty":        nil,
		"not a bundle": []byte("hello\n"),
	} {
		path := filepath.Join(out, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := ledgerCLI(t, "audit", "verify-bundle", path, "--key", pub)
		if code != exitError || strings.Contains(stdout, "OK") || !strings.Contains(stderr, "verification FAILED") {
			t.Errorf("%s: %d\n%s%s", name, code, stdout, stderr)
		}
		if name == "flipped" && !strings.Contains(stderr, "entry 1:") {
			t.Errorf("flipped entry 1: %s", stderr)
		}
		t.Logf("%s: %s", name, stderr)
	}
	if _, stderr, code := ledgerCLI(t, "audit", "verify-bundle", filepath.Join(out, "missing")); code != exitError {
		t.Errorf("missing file: %s", stderr)
	}

	// Bad requests: a clear error, and no file, or the old file untouched.
	keep := filepath.Join(out, "keep.tar")
	if err := os.WriteFile(keep, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--election", "nope"}, `unknown election "nope" (elections in this ledger: ga06-2017-04)`},
		{[]string{"--election", "nope", "--as-of", "1"}, `unknown election "nope" (elections in this ledger: ga06-2017-04)`},
		{[]string{"--election", election, "--as-of", "7"}, "past the end of the log (the log has 6 entries)"},
		{[]string{"--election", election, "--as-of", "0"}, "--as-of must be at least 1"},
		{[]string{"--election", election, "--as-of", "x"}, "invalid argument"},
		{[]string{}, "--election is required"},
	} {
		_, stderr, code := ledgerCLI(t, append([]string{"audit", "bundle", "--data", data, "-o", keep}, c.args...)...)
		if code != exitError || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: %d %s", c.args, code, stderr)
		}
		t.Logf("%v: %s", c.args, stderr)
	}
	if _, stderr, code := ledgerCLI(t, "audit", "bundle", "--data", data, "--election", election); code != exitError || !strings.Contains(stderr, "-o FILE is required") {
		t.Errorf("no -o: %s", stderr)
	}
	if _, stderr, code := ledgerCLI(t, "audit", "bundle", "--data", data, "--election", election, "-o", filepath.Join(out, "no", "such", "dir.tar")); code != exitError {
		t.Errorf("-o in a missing directory: %s", stderr)
	}
	if _, stderr, code := ledgerCLI(t, "audit", "bundle", "--data", t.TempDir(), "--election", election, "-o", keep); code != exitError {
		t.Errorf("empty data directory: %s", stderr)
	}
	if b, _ := os.ReadFile(keep); string(b) != "keep" {
		t.Error("a failed bundle changed the existing output file")
	}

	// A size with no checkpoint, if the last submission took more than one
	// size in one step: refused with the nearest sizes.
	db, err := store.Open(filepath.Join(data, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	signed := map[uint64]bool{}
	db.Checkpoints(election, func(s uint64, _ []byte) error { signed[s] = true; return nil })
	db.Close()
	for s := uint64(1); s <= 6; s++ {
		if !signed[s] {
			_, stderr, code := ledgerCLI(t, "audit", "bundle", "--data", data, "--election", election, "--as-of", strconv.FormatUint(s, 10), "-o", keep)
			if code != exitError || !strings.Contains(stderr, "nearest sizes with one") {
				t.Errorf("no checkpoint at %d: %s", s, stderr)
			}
			t.Logf("no checkpoint at %d: %s", s, stderr)
			break
		}
	}

	// Nothing but the bundles written is left in the output directory.
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left a temporary file: %s", e.Name())
		}
	}
}
