package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/examples"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// ?format=nist serves the NIST SP 1500-100 report of the current tally and
// of every as-of tally: the bytes audit.NISTReport gives for that size,
// issued by the ledger's name, the same for a size and for a time.
func TestTallyNIST(t *testing.T) {
	const election = "ga06-2017-04"
	ctx := context.Background()
	n, srv := testledger.Serve(t, node.Config{})
	evs, err := examples.GA06April()
	if err != nil {
		t.Fatal(err)
	}
	// The example's reports, then a correction of the last one.
	last := evs[len(evs)-1]
	fix := *last.Body.(*events.CountReport)
	fix.Counts = append([]events.Count(nil), fix.Counts...)
	fix.Counts[0].Votes++
	evs = append(evs, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election,
		Body: &events.Correction{Corrects: last.ID, Reason: "recanvass", CountReport: fix}})
	var recorded []time.Time
	for _, ev := range evs {
		rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, ev))
		if err != nil || rs[0].Verdict != events.Accepted {
			t.Fatalf("%v %+v", err, rs)
		}
		en, _ := n.Ledger.StoredEntry(election, uint64(len(recorded)))
		e, err := events.DecodeEntry(en)
		if err != nil {
			t.Fatal(err)
		}
		recorded = append(recorded, e.Recorded)
		time.Sleep(2 * time.Millisecond) // distinct stream times
	}
	get := func(q string) (int, string, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/v1/elections/" + election + "/tally?" + q)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	status := func(b []byte) string {
		var r struct{ Status, Issuer string }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("not JSON: %v: %.200s", err, b)
		}
		if r.Issuer != n.Ledger.Name() {
			t.Errorf("issuer %q, want the ledger's name %q", r.Issuer, n.Ledger.Name())
		}
		return r.Status
	}
	size := uint64(len(evs))
	for i := uint64(1); i <= size; i++ {
		code, ctype, b := get("format=nist&as_of=" + itoa(i))
		if code != 200 || ctype != "application/json" {
			t.Fatalf("as_of=%d: %d %s %s", i, code, ctype, b)
		}
		want, err := audit.NISTReport(n.Ledger, election, i, n.Ledger.Name())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(want) {
			t.Errorf("as_of=%d: the served report is not audit.NISTReport's", i)
		}
		if _, _, again := get("format=nist&as_of=" + itoa(i)); string(again) != string(b) {
			t.Errorf("as_of=%d: two requests gave different bytes", i)
		}
		if code, _, bt := get("format=nist&at=" + url.QueryEscape(recorded[i-1].Format(time.RFC3339Nano))); code != 200 || string(bt) != string(b) {
			t.Errorf("at the time of entry %d: %d %.100s; want the report at size %d", i-1, code, bt, i)
		}
	}
	for q, want := range map[string]string{"format=nist&as_of=1": "pre-election", "format=nist&as_of=2": "unofficial-partial", "format=nist": "correction"} {
		if _, _, b := get(q); status(b) != want {
			t.Errorf("%s: status %s, want %s", q, status(b), want)
		}
	}
	_, _, current := get("format=nist")
	if _, _, at := get("format=nist&as_of=" + itoa(size)); string(current) != string(at) {
		t.Error("the current report is not the report at the log's size")
	}
	if !strings.Contains(string(current), `"GeneratedDate": "`+recorded[size-1].Truncate(time.Second).Format(time.RFC3339)+`"`) {
		t.Errorf("the current report is not dated by its last entry (%s): %.400s", recorded[size-1], current)
	}

	// The other formats are unchanged.
	if code, ctype, b := get("format=table"); code != 200 || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(string(b), "Jon Ossoff") {
		t.Errorf("format=table: %d %s %.100s", code, ctype, b)
	}
	for _, q := range []string{"", "format=json"} {
		if code, _, b := get(q); code != 200 || !strings.HasPrefix(string(b), `{"election":"ga06-2017-04","name"`) {
			t.Errorf("%q: %d %.100s", q, code, b)
		}
	}
	if code, _, b := get("format=json&as_of=2"); code != 200 || !strings.HasPrefix(string(b), `{"election":"ga06-2017-04","tree_size":2`) {
		t.Errorf("format=json&as_of=2: %d %.100s", code, b)
	}

	at := url.QueryEscape(recorded[1].Format(time.RFC3339Nano))
	for q, want := range map[string]int{
		"format=xml":                        400,
		"format=NIST":                       400,
		"format=table&as_of=2":              400,
		"format=table&at=" + at:             400,
		"as_of=2&at=" + at:                  400,
		"format=nist&as_of=2&at=" + at:      400,
		"format=nist&as_of=0":               400,
		"format=nist&as_of=x":               400,
		"format=nist&at=yesterday":          400,
		"format=nist&as_of=" + itoa(size+1): 404,
		"format=nist&at=" + url.QueryEscape(recorded[0].Add(-time.Hour).Format(time.RFC3339)): 404,
	} {
		if code, _, b := get(q); code != want || !strings.Contains(string(b), `"error"`) {
			t.Errorf("%s: %d %s, want %d", q, code, b, want)
		}
	}
	resp, err := http.Get(srv.URL + "/v1/elections/nope/tally?format=nist")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown election: %d, want 404", resp.StatusCode)
	}
}
