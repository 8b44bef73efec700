package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// cli runs the command in-process and returns its exit code and output.
func cli(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCLI drives submit, tally, checkpoint, rebuild and audit verify
// against a real ledger, checking outputs and the exit codes scripts use.
func TestCLI(t *testing.T) {
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
	example := exampleFile(t)
	key := authorityKeyFile(t)

	code, out, stderr := cli(t, "", "submit", "--server", srv.URL, "--key", key, example)
	if code != exitOK {
		t.Fatalf("submit: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "0\t015b826f-8b80-7000-8000-000000000000\taccepted") {
		t.Errorf("submit printed:\n%s", out)
	}
	// Again: same indexes, nothing logged twice.
	code, out, _ = cli(t, "", "submit", "--server", srv.URL, "--key", key, example)
	if code != exitOK || strings.Count(out, "(already logged)") != 6 || !strings.HasPrefix(out, "0\t") {
		t.Errorf("resubmit: exit %d:\n%s", code, out)
	}

	code, out, _ = cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04", "--format", "table")
	if code != exitOK || !strings.Contains(out, "Jon Ossoff") || !strings.Contains(out, "92673") || !strings.Contains(out, "48.12%") {
		t.Errorf("tally table: exit %d:\n%s", code, out)
	}
	code, out, _ = cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04")
	if code != exitOK || !strings.HasPrefix(out, `{"election":"ga06-2017-04"`) {
		t.Errorf("tally json: exit %d: %.80s", code, out)
	}
	code, out, stderr = cli(t, "", "checkpoint", "--server", srv.URL, "--election", "ga06-2017-04", "--key", n.VerifierKey)
	if code != exitOK || !strings.HasPrefix(out, "ledger.local/ga06-2017-04\n6\n") || !strings.Contains(stderr, "signature verified") {
		t.Errorf("checkpoint: exit %d:\n%s%s", code, out, stderr)
	}

	// The same with the election's log key, as GET /v1/elections/{election}/key
	// serves it; another election's log key is refused, saying why.
	logKey, err := checkpoint.LogKey(n.VerifierKey, "ga06-2017-04")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr = cli(t, "", "checkpoint", "--server", srv.URL, "--election", "ga06-2017-04", "--key", logKey)
	if code != exitOK || !strings.Contains(out, "\n— ledger.local/ga06-2017-04 ") || !strings.Contains(stderr, "signature verified with "+logKey) {
		t.Errorf("checkpoint with the log key: exit %d:\n%s%s", code, out, stderr)
	}
	otherLog, err := checkpoint.LogKey(n.VerifierKey, "ga06-2017-06")
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, "", "checkpoint", "--server", srv.URL, "--election", "ga06-2017-04", "--key", otherLog)
	if code != exitError || !strings.Contains(stderr, "is the key of log ledger.local/ga06-2017-06, not of ledger.local/ga06-2017-04") {
		t.Errorf("checkpoint with another election's log key: exit %d: %s", code, stderr)
	}

	code, out, _ = cli(t, "", "tally", "--server", srv.URL, "--election", "ga06-2017-04", "--as-of", "3")
	if code != exitOK || !strings.HasPrefix(out, `{"election":"ga06-2017-04","tree_size":3,"root":"`) {
		t.Errorf("tally --as-of: exit %d: %.120s", code, out)
	}

	// Verified from the outside, over HTTP.
	code, out, stderr = cli(t, "", "audit", "verify", "--server", srv.URL, "--key", n.VerifierKey)
	if code != exitOK || !strings.Contains(out, "ga06-2017-04: 6 entries") || !strings.Contains(out, "tally matches a replay: OK") {
		t.Errorf("remote verify: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "", "audit", "verify", "--server", srv.URL, "--election", "ga06-2017-04", "--key", logKey)
	if code != exitOK || !strings.Contains(out, "ga06-2017-04: 6 entries") {
		t.Errorf("remote verify with the log key: exit %d:\n%s%s", code, out, stderr)
	}
	// A log key is one election's: without --election it is refused.
	code, _, stderr = cli(t, "", "audit", "verify", "--server", srv.URL, "--key", logKey)
	if code != exitError || !strings.Contains(stderr, "is the key of one election's log: pass that election with --election") {
		t.Errorf("remote verify with a log key and no --election: exit %d: %s", code, stderr)
	}

	// Refused at the edge: exit 2, and the line is named.
	bad := `{"v":1,"type":"count.reported","id":"015b826f-8b80-7000-8000-0000000000ff","election":"ga06-2017-04","data":{"unit":"cobb","contest":"us-representative-district-6","counts":[{"choice":"jon-ossoff","vote_type":"election-day","votes":-5}],"source":{"operator":"x"}}}`
	code, _, stderr = cli(t, bad, "submit", "--server", srv.URL, "--key", key, "-")
	if code != exitRefused || !strings.Contains(stderr, "stdin:1") || !strings.Contains(stderr, "negative") {
		t.Errorf("negative votes: exit %d: %s", code, stderr)
	}
	unknown := strings.Replace(strings.Replace(bad, `"votes":-5`, `"votes":5`, 1), `"unit":"cobb"`, `"unit":"gwinnett"`, 1)
	code, _, stderr = cli(t, unknown, "submit", "--server", srv.URL, "--key", key)
	if code != exitRefused || !strings.Contains(stderr, `"gwinnett"`) {
		t.Errorf("unknown unit: exit %d: %s", code, stderr)
	}
	// Logged but rejected: exit 3, with the reason.
	stale := strings.Replace(strings.Replace(unknown, `"unit":"gwinnett"`, `"unit":"cobb"`, 1), `"election":"ga06-2017-04",`, `"election":"ga06-2017-04","expected_version":0,`, 1)
	code, out, stderr = cli(t, stale, "submit", "--server", srv.URL, "--key", key)
	if code != exitRejected || !strings.Contains(out, "version conflict") {
		t.Errorf("stale version: exit %d:\n%s%s", code, out, stderr)
	}
	// Unreachable server and bad flags: exit 1.
	if code, _, stderr = cli(t, "", "tally", "--server", "http://127.0.0.1:1", "--election", "x"); code != exitError || !strings.Contains(stderr, "ledger serve") {
		t.Errorf("unreachable: exit %d: %s", code, stderr)
	}
	if code, _, _ = cli(t, "", "tally", "--format", "xml", "--election", "x"); code != exitError {
		t.Errorf("bad format: exit %d", code)
	}
	if code, _, _ = cli(t, "", "nonsense"); code != exitError {
		t.Errorf("unknown command: exit %d", code)
	}

	// Offline commands need the server stopped.
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	code, out, stderr = cli(t, "", "audit", "verify", "--data", dir)
	if code != exitOK || !strings.Contains(out, "ga06-2017-04: 7 entries") || !strings.Contains(out, "OK") {
		t.Errorf("audit verify: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "", "audit", "verify", "--data", dir, "--election", "ga06-2017-04", "--key", logKey)
	if code != exitOK || !strings.Contains(out, "ga06-2017-04: 7 entries") {
		t.Errorf("audit verify with the log key: exit %d:\n%s%s", code, out, stderr)
	}
	code, out, stderr = cli(t, "", "rebuild", "--data", dir)
	if code != exitOK || !strings.Contains(out, "rebuilt ga06-2017-04 from 7 entries") {
		t.Errorf("rebuild: exit %d:\n%s%s", code, out, stderr)
	}
	if code, _, stderr = cli(t, "", "audit", "verify", "--data", filepath.Join(dir, "nope")); code != exitError || !strings.Contains(stderr, "--data") {
		t.Errorf("verify of a missing directory: exit %d: %s", code, stderr)
	}
	// A foreign key is refused.
	other := t.TempDir()
	m, err := node.Open(ctx, node.Config{DataDir: other, HTTP: "-", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	m.Close(ctx)
	pub, _ := os.ReadFile(filepath.Join(other, "ledger.pub"))
	if code, _, stderr = cli(t, "", "audit", "verify", "--data", dir, "--key", strings.TrimSpace(string(pub))); code != exitError || !strings.Contains(stderr, "FAILED") {
		t.Errorf("verify with another key: exit %d: %s", code, stderr)
	}
}

// Every command answers --help with exit 0.
func TestHelp(t *testing.T) {
	root := newRoot()
	for _, c := range root.Commands() {
		args := []string{c.Name(), "--help"}
		if code, out, _ := cli(t, "", args...); code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d", args, code)
		}
		for _, sub := range c.Commands() {
			args := []string{c.Name(), sub.Name(), "--help"}
			if code, out, _ := cli(t, "", args...); code != exitOK || !strings.Contains(out, "Usage:") {
				t.Errorf("%v: exit %d", args, code)
			}
		}
	}
}
