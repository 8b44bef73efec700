package watch_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/election-audit/ledger/broker"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/store"
	"github.com/election-audit/ledger/watch"
)

// TestWatchRoles: the watcher re-decides every verdict with the signer's
// role and scope. A ledger whose operator (who holds the checkpoint key,
// not the offices' keys) turns the verdict of an entry that a key could
// not make to "accepted", and signs the log again, raises the
// invalid-entry alarm naming that entry: DeKalb's office reporting for
// Cobb, and a reporter key certifying. Each entry is still held by its
// signed submission; only the roles tell.
func TestWatchRoles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(t *testing.T, dir string) *node.Node {
		t.Helper()
		n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "127.0.0.1:0", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := open(t, dir)
	// The April example by the authority (entries 0-5), DeKalb's office
	// registered for DeKalb (6), then signing a report for Cobb (7) and a
	// certification (8), which the ledger logs rejected.
	evs := history(t)
	submit(t, n, evs[:6])
	dekalb := testkeys.New("dekalb-elections")
	submit(t, n, []*events.Event{event(t, &events.KeyRegistration{Key: dekalb.Verifier, Units: []string{"dekalb"}})})
	cobb := *evs[1].Body.(*events.CountReport)
	if cobb.Unit != "cobb" {
		t.Fatalf("example event 1 is for %s", cobb.Unit)
	}
	for _, ev := range []*events.Event{event(t, &cobb), certification(t)} {
		// The ledger's edge refuses them (403): published to the stream
		// directly, as a buggy tool with the ledger's NATS credentials
		// could, they are logged rejected.
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
		signed := testkeys.MustSign(dekalb, ev)
		if _, err := n.Ledger.Submit(ctx, signed); err == nil {
			t.Fatalf("the ledger took DeKalb's %s", ev.Type())
		}
		sub, err := events.OpenSubmission(signed)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := n.Broker.Publish(ctx, broker.Message{Election: april, ID: sub.ID.String(), Data: signed})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Ledger.WaitApplied(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		index uint64
		want  string // in the rules' reason
	}{
		{"a report outside its scope", 7, `may report for dekalb and their sub-units, not for unit "cobb"`},
		{"a reporter certifying", 8, "may not sign election.certified events"},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			forged := t.TempDir()
			testledger.CopyDir(t, dir, forged)
			data := turnVerdict(t, forged, april, tc.index)
			n := open(t, forged)
			defer n.Close(ctx)
			r := watchOnce(t, n, t.TempDir(), nil)
			var alarm *watch.AlarmError
			if !errors.As(r.err, &alarm) || alarm.Kind != watch.KindInvalidEntry {
				t.Fatalf("no invalid-entry alarm: %v\n%s%s", r.err, r.out, r.alarm)
			}
			prefix := "entry " + strconv.FormatUint(tc.index, 10) + ": it is accepted but the election's rules reject it: "
			if !strings.HasPrefix(alarm.Detail, prefix) || !strings.Contains(alarm.Detail, tc.want) || !strings.Contains(r.alarm.String(), "!! ALARM: INVALID-ENTRY") {
				t.Fatalf("alarm %q, want %q…%q:\n%s", alarm.Detail, prefix, tc.want, r.alarm)
			}
			var want []string
			for i := range tc.index {
				want = append(want, "#"+strconv.FormatUint(i, 10))
			}
			if got := indexes(r.out.String()); !slices.Equal(got, want) {
				t.Errorf("printed %v, want %v", got, want)
			}
			if ev, err := os.ReadFile(filepath.Join(alarm.Evidence, "entry-"+strconv.FormatUint(tc.index, 10)+".json")); err != nil || !bytes.Equal(ev, data) {
				t.Errorf("evidence: the entry: %v %q", err, ev)
			}
			t.Logf("%s", r.alarm)
		})
	}

	// The log as the ledger wrote it: both entries printed, rejected.
	n = open(t, dir)
	defer n.Close(ctx)
	r := watchOnce(t, n, t.TempDir(), nil)
	checkClean(t, r, []string{"#0", "#1", "#2", "#3", "#4", "#5", "#6", "#7", "#8"}, "9")
	for _, line := range strings.Split(r.out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "#") {
			continue
		}
		dekalbs := f[0] == "#7" || f[0] == "#8"
		if dekalbs != strings.Contains(line, "  REJECTED: not authorized: ") || dekalbs && !strings.Contains(line, " by dekalb-elections ") {
			t.Errorf("entry %s: %q", f[0], line)
		}
	}
}

// turnVerdict makes entry index of election in the ledger's data
// directory dir say "accepted", as its operator could: the entry encoded
// again in canonical form around the same event bytes (so it is still held
// by its signed submission), every stored Merkle hash recomputed, and a
// checkpoint signed with the ledger's key at every size. It returns the
// entry's new bytes.
func turnVerdict(t *testing.T, dir, election string, index uint64) []byte {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "pebble"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	size, _, err := db.TreeSize(election)
	if err != nil {
		t.Fatal(err)
	}
	k, err := checkpoint.LoadOrCreateKey(dir, node.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	data := testledger.TurnVerdict(t, db.Pebble(), election, index)
	testledger.Resign(t, db.Pebble(), k, election, size)
	return data
}
