package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// The as-of tally at every size of the GA-06 example: each document's root
// equals the signed checkpoint at that size, the same request gives the
// same bytes, and a time query picks the prefix recorded by then.
func TestTallyAsOf(t *testing.T) {
	ctx := context.Background()
	n, srv := testledger.Serve(t, node.Config{})
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	var recorded []time.Time
	for _, ev := range evs {
		if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, ev)); err != nil {
			t.Fatal(err)
		}
		en, _ := n.Ledger.StoredEntry("ga06-2017-04", uint64(len(recorded)))
		e, err := events.DecodeEntry(en)
		if err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, e.Recorded)
		time.Sleep(2 * time.Millisecond) // distinct stream times
	}
	v, _, _ := checkpoint.LogVerifier(n.VerifierKey, "ga06-2017-04")
	get := func(q string) (int, []byte) {
		resp, err := http.Get(srv.URL + "/v1/elections/ga06-2017-04/tally?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for size := uint64(1); size <= uint64(len(recorded)); size++ {
		status, b := get("as_of=" + itoa(size))
		if status != 200 {
			t.Fatalf("as_of=%d: %d %s", size, status, b)
		}
		var doc audit.AsOf
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		signed, err := n.DB.Checkpoint("ga06-2017-04", size)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := checkpoint.Open(signed, n.Ledger.Origin("ga06-2017-04"), v)
		if err != nil {
			t.Fatal(err)
		}
		if doc.TreeSize != size || doc.Root != cp.Root || doc.Tally.Entries != size {
			t.Errorf("as_of=%d: size %d root %s entries %d; checkpoint root %s", size, doc.TreeSize, doc.Root, doc.Tally.Entries, cp.Root)
		}
		if _, again := get("as_of=" + itoa(size)); sha256.Sum256(again) != sha256.Sum256(b) {
			t.Errorf("as_of=%d: two requests gave different bytes", size)
		}
		// At the recorded time of entry size-1, the log had exactly size entries.
		status, bt := get("at=" + recorded[size-1].Format(time.RFC3339Nano))
		if status != 200 || string(bt) != string(b) {
			t.Errorf("at the time of entry %d: %d, %.100s; want the document at size %d", size-1, status, bt, size)
		}
	}
	_, final := get("as_of=6")
	if !strings.Contains(string(final), `"id":"jon-ossoff","name":"Jon Ossoff","votes":92673,"share":"48.12"`) {
		t.Errorf("final document lacks Ossoff's official total: %.300s", final)
	}
	for q, want := range map[string]int{
		"as_of=0": 400, "as_of=7": 404, "as_of=x": 400, "at=yesterday": 400,
		"at=" + recorded[0].Add(-time.Hour).Format(time.RFC3339): 404,
	} {
		if status, b := get(q); status != want || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: %d %s, want %d", q, status, b, want)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
