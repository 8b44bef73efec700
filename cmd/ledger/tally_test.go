package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
)

// TestTallyNIST: `ledger tally --format nist`, current and as-of, prints
// the ledger's NIST report unchanged; bad flag combinations exit 1.
func TestTallyNIST(t *testing.T) {
	const election = "ga06-2017-04"
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	// The first two events, then the other four, in two submissions: the
	// entries of one submission share their recorded time, and --at entry
	// 1's time below must mean tree size 2.
	example, err := os.ReadFile(exampleFile(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(example), "\n")
	key := authorityKeyFile(t)
	for _, part := range []string{strings.Join(lines[:2], ""), strings.Join(lines[2:], "")} {
		if code, _, stderr := cli(t, part, "submit", "--server", srv.URL, "--key", key); code != exitOK {
			t.Fatalf("submit: exit %d: %s", code, stderr)
		}
	}
	_, size, err := n.Ledger.Checkpoint(election)
	if err != nil {
		t.Fatal(err)
	}

	code, out, stderr := cli(t, "", "tally", "--server", srv.URL, "--election", election, "--format", "nist")
	want, err := audit.NISTReport(n.Ledger, election, size, n.Ledger.Name())
	if err != nil {
		t.Fatal(err)
	}
	if code != exitOK || out != string(want) {
		t.Fatalf("tally --format nist: exit %d: %s%.300s", code, stderr, out)
	}
	var r struct {
		Type   string `json:"@type"`
		Status string
		Issuer string
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Type != "ElectionResults.ElectionReport" || r.Status != "unofficial-complete" || r.Issuer != n.Ledger.Name() {
		t.Errorf("tally --format nist: %v %+v", err, r)
	}

	code, out, stderr = cli(t, "", "tally", "--server", srv.URL, "--election", election, "--format", "nist", "--as-of", "2")
	if want, _ := audit.NISTReport(n.Ledger, election, 2, n.Ledger.Name()); code != exitOK || out != string(want) {
		t.Errorf("tally --format nist --as-of 2: exit %d: %s%.300s", code, stderr, out)
	}
	b, err := n.Ledger.Entry(election, 1)
	if err != nil {
		t.Fatal(err)
	}
	en, err := events.DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	at := en.Recorded.Format(time.RFC3339Nano)
	if code, atOut, stderr := cli(t, "", "tally", "--server", srv.URL, "--election", election, "--format", "nist", "--at", at); code != exitOK || atOut != out {
		t.Errorf("tally --format nist --at %s: exit %d: %s%.300s", at, code, stderr, atOut)
	}

	for _, args := range [][]string{
		{"--format", "xml"},
		{"--format", "table", "--as-of", "2"},
		{"--format", "nist", "--as-of", "2", "--at", at},
		{"--format", "nist", "--as-of", "99"},
	} {
		args = append([]string{"tally", "--server", srv.URL, "--election", election}, args...)
		if code, _, stderr := cli(t, "", args...); code != exitError || stderr == "" {
			t.Errorf("%v: exit %d: %s", args, code, stderr)
		}
	}
	if code, out, _ := cli(t, "", "tally", "--help"); code != exitOK || !strings.Contains(out, "--format nist") || !strings.Contains(out, "json, table or nist") {
		t.Errorf("tally --help does not describe --format nist:\n%s", out)
	}
}
