package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
	"github.com/election-audit/ledger/projections"
)

// The tally documents are shared and kept (api/tallies.go), but never
// stale: after each submission the current tally, its table, the NIST
// report and the series describe the log with it, and concurrent requests
// get the same bytes.
func TestTallyKeptUntilTheLogGrows(t *testing.T) {
	const election = "ga06-2017-04"
	ctx := context.Background()
	n, srv := testledger.Serve(t, node.Config{})
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get(srv.URL + "/v1/elections/" + election + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d %s %v", path, resp.StatusCode, b, err)
		}
		return b
	}
	paths := []string{"/tally", "/tally?format=table", "/tally?format=nist", "/series"}
	before := map[string][]byte{}
	for i, ev := range evs {
		rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, ev))
		if err != nil {
			t.Fatal(err)
		}
		size := rs[0].TreeSize
		var tally projections.Tally
		if err := json.Unmarshal(get("/tally"), &tally); err != nil {
			t.Fatal(err)
		}
		if tally.Entries != size {
			t.Errorf("after submission %d: the tally has %d entries, the log %d", i, tally.Entries, size)
		}
		for _, p := range paths {
			b := get(p)
			if again := get(p); !bytes.Equal(again, b) {
				t.Errorf("after submission %d: GET %s twice gave different bytes", i, p)
			}
			if i > 0 && bytes.Equal(b, before[p]) {
				t.Errorf("after submission %d: GET %s gave the document of the log before it", i, p)
			}
			before[p] = b
		}
	}
	var wg sync.WaitGroup
	got := make([][]byte, 20)
	for i := range got {
		wg.Go(func() { got[i] = get(paths[i%len(paths)]) })
	}
	wg.Wait()
	for i, b := range got {
		if !bytes.Equal(b, before[paths[i%len(paths)]]) {
			t.Errorf("concurrent GET %s: another document", paths[i%len(paths)])
		}
	}
}
