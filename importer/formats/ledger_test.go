package formats_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// TestCorpusThroughALedger logs every import of the corpus that is not
// refused in a real ledger (embedded JetStream, Pebble), as `ledger import`
// submits it: the manifest first (in parts when it is larger than an
// event: several of the corpus's are), then the reports in submissions of
// 1,000. Every event is accepted; the ledger's tally gives the totals of
// SOURCES.md; and after the ledger stops, `audit.Verify` finds every log
// sound from its stored bytes.
func TestCorpusThroughALedger(t *testing.T) {
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("the corpus is not here (%v): it lives beside the repository, in shared/data", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	n, err := node.Open(ctx, node.Config{DataDir: dir, HTTP: "-", NATSListen: "-", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if n != nil {
			n.Close(ctx)
		}
	}()
	var logged []string
	parts := 0 // manifests logged in parts
	for i, tc := range corpus {
		if tc.refused != "" {
			continue
		}
		election := fmt.Sprintf("corpus-%02d", i)
		imp := parseCase(t, tc, election)
		imp.Manifest.Authority = testkeys.Authority.Verifier
		evs, err := imp.EventsFor(nil)
		if err != nil {
			t.Fatal(err)
		}
		if events.ManifestEvents(evs[0].Body.(*events.Manifest)) > 1 {
			parts++
		}
		if err := testledger.Log(ctx, n.Ledger, testkeys.Authority, election, evs); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		tally, err := n.Ledger.Tally(election)
		if err != nil {
			t.Fatal(err)
		}
		checked, want := 0, 0
		for _, choices := range tc.totals {
			want += len(choices)
		}
		for _, ct := range tally.Contests {
			for _, ch := range ct.Choices {
				if n, ok := tc.totals[ct.ID][ch.ID]; ok {
					checked++
					if ch.Votes != n {
						t.Errorf("%s: the ledger's tally gives %s, %s %d votes, SOURCES.md %d", tc.name, ct.ID, ch.ID, ch.Votes, n)
					}
				}
			}
		}
		if checked != want {
			t.Errorf("%s: %d of the %d totals of SOURCES.md are in the ledger's tally", tc.name, checked, want)
		}
		logged = append(logged, election)
	}
	db, key, err := testledger.Stop(ctx, n, dir)
	n = nil
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, e := range logged {
		if _, err := audit.Verify(db, e, key); err != nil {
			t.Errorf("audit of %s: %v", e, err)
		}
	}
	if parts == 0 {
		t.Error("no manifest of the corpus was logged in parts: the test no longer covers them")
	}
	t.Logf("%d imports logged and verified, %d of them with a manifest in parts", len(logged), parts)
}
