package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"

	"github.com/google/uuid"
)

// TestAuditDiffCLI: `ledger audit diff` names the office that made each
// change, in text ("by <key name>") and JSON ("office", "signer"), over
// HTTP and offline; and offline, a stored submission altered makes it
// fail naming the entry.
func TestAuditDiffCLI(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			n.Close(ctx)
		}
	}()
	evs, err := examples.GA06April() // manifest, five county reports
	if err != nil {
		t.Fatal(err)
	}
	dekalb := testkeys.New("dekalb-elections")
	report := evs[3].Body.(*events.CountReport)
	if report.Unit != "dekalb" {
		t.Fatalf("example event 3 is for %s", report.Unit)
	}
	fixed := *report
	fixed.Counts = append([]events.Count(nil), report.Counts...)
	fixed.Counts[0].Votes++
	mk := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: examples.GA06AprilElection, Body: b}
	}
	for _, s := range []struct {
		signed []byte
	}{
		{testkeys.MustSign(testkeys.Authority, append(evs, mk(&events.KeyRegistration{Key: dekalb.Verifier, Units: []string{"dekalb"}}))...)},
		{testkeys.MustSign(dekalb, mk(&events.Correction{Corrects: evs[3].ID, Reason: "typo", CountReport: fixed}))},
	} {
		rs, err := n.Ledger.Submit(ctx, s.signed)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Verdict != events.Accepted {
				t.Fatalf("%s: %s", r.Verdict, r.Reason)
			}
		}
	}
	server := "http://" + n.HTTPAddr()
	args := []string{"audit", "diff", "--election", examples.GA06AprilElection, "--from", "5", "--to", "8"}

	code, out, stderr := cli(t, "", append(args, "--server", server)...)
	var lines []string // the first line of each change
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "  #") || strings.HasPrefix(line, "! #") {
			lines = append(lines, line)
		}
	}
	if code != exitOK || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], "  #5 ") || !strings.Contains(lines[0], " count.reported by test-authority Fulton County, ") ||
		!strings.HasPrefix(lines[1], "  #6 ") || !strings.Contains(lines[1], " key.registered by test-authority → ") ||
		!strings.HasPrefix(lines[2], "! #7 ") || !strings.Contains(lines[2], ` count.corrected by dekalb-elections DeKalb County, U.S. Representative, District 6 (replaces `+evs[3].ID.String()+`) because "typo"`) {
		t.Fatalf("diff: exit %d:\n%s%s", code, out, stderr)
	}
	text := out
	t.Logf("diff:\n%s", strings.Join(lines, "\n"))

	code, out, stderr = cli(t, "", append(args, "--server", server, "--json")...)
	var changes []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var c map[string]any
		if err := dec.Decode(&c); err != nil {
			t.Fatal(err)
		}
		changes = append(changes, c)
	}
	if code != exitOK || len(changes) != 3 ||
		changes[0]["office"] != "test-authority" || changes[0]["signer"] != testkeys.Authority.Verifier ||
		changes[2]["office"] != "dekalb-elections" || changes[2]["signer"] != dekalb.Verifier || changes[2]["unit"] != "dekalb" {
		t.Fatalf("diff --json: exit %d:\n%s%s", code, out, stderr)
	}

	// Offline, the same; then with the correction's stored submission
	// altered, a failure naming entry 7.
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed = true
	code, offline, stderr := cli(t, "", append(args, "--data", dir)...)
	if code != exitOK || offline != text {
		t.Fatalf("diff --data: exit %d:\n%s%s", code, offline, stderr)
	}
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	entry, err := db.Entry(examples.GA06AprilElection, 7)
	if err != nil {
		t.Fatal(err)
	}
	en, err := events.DecodeEntry(entry)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := db.Submission(examples.GA06AprilElection, en.Submission.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// Another key of the same name on line 4, as if another had signed.
	bad := bytes.Replace(sub, []byte(dekalb.Verifier), []byte(testkeys.Another("dekalb-elections").Verifier), 1)
	k := append(append(append([]byte{'u'}, examples.GA06AprilElection...), 0), en.Submission.SHA256[:]...) // docs/storage.md
	if err := db.Pebble().Set(k, bad, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = cli(t, "", append(args, "--data", dir)...)
	if code != exitError || out != "" || !strings.Contains(stderr, "index 7: ") || !strings.Contains(stderr, "the submission was altered") {
		t.Fatalf("diff --data over an altered submission: exit %d:\n%s%s", code, out, stderr)
	}
	t.Logf("%s", stderr)
}
