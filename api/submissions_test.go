package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/api"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// TestSubmissionRoutes: POST /v1/submissions answers 200 with a receipt
// per event, also for a rejected one; unsigned events (POST /v1/events)
// and submissions without a valid signature are 401, a signer that may
// not make an event is 403, bytes that are not a submission are 400; and
// GET /v1/elections/{e}/submissions/{sha256} serves the exact bytes an
// entry names.
func TestSubmissionRoutes(t *testing.T) {
	const election = "ga06-subs"
	ctx := context.Background()
	n, srv := testledger.Serve(t, node.Config{})
	post := func(path string, body []byte) (int, []byte) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "text/plain; charset=utf-8", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	get := func(path string) (int, http.Header, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	receipts := func(status int, b []byte) api.SubmitResponse {
		t.Helper()
		var r api.SubmitResponse
		if err := json.Unmarshal(b, &r); status != http.StatusOK || err != nil {
			t.Fatalf("HTTP %d, %v: %s", status, err, b)
		}
		return r
	}

	m := mkEvent(t, election, manifest(2))
	report := func(votes int64) *events.Event {
		return mkEvent(t, election, &events.CountReport{Unit: "p-0", Contest: "house", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "a", VoteType: "day", Votes: votes}}})
	}
	r1 := report(10)
	first := testkeys.MustSign(testkeys.Authority, m, r1)
	rs := receipts(post("/v1/submissions", first)).Receipts
	if len(rs) != 2 || rs[0].Verdict != events.Accepted || rs[1].Verdict != events.Accepted || rs[1].Index != 1 {
		t.Fatalf("receipts %+v", rs)
	}
	// A rejected event is answered 200 with its receipt (no 409).
	stale := report(11)
	v := uint64(0) // p-0 is at version 1
	stale.ExpectedVersion = &v
	rs = receipts(post("/v1/submissions", testkeys.MustSign(testkeys.Authority, stale))).Receipts
	if len(rs) != 1 || rs[0].Verdict != events.Rejected || !rs[0].Conflict() || rs[0].Index != 2 {
		t.Errorf("stale expected version: receipts %+v, want one rejected conflict at 2", rs)
	}

	// Refusals: nothing logged.
	enc, err := report(12).Encode()
	if err != nil {
		t.Fatal(err)
	}
	good := testkeys.MustSign(testkeys.Authority, report(13))
	text, _, _ := bytes.Cut(good, []byte("\n\n"))
	stranger := testkeys.New("stranger")
	for _, c := range []struct {
		name, path string
		body       []byte
		status     int
		msg        string
	}{
		{"unsigned event on the old route", "/v1/events", enc, 401, "takes no unsigned events"},
		{"empty body", "/v1/submissions", nil, 401, "empty request body"},
		{"a bare event", "/v1/submissions", enc, 401, "unsigned: bare events, not a signed submission"},
		{"no signature", "/v1/submissions", append(bytes.Clone(text), '\n'), 401, "unsigned"},
		{"altered after signing", "/v1/submissions", bytes.Replace(good, []byte(`"votes":13`), []byte(`"votes":31`), 1), 401, "does not verify"},
		{"signed by a key that may not report", "/v1/submissions", testkeys.MustSign(stranger, report(14)), 403, "is not registered for election"},
	} {
		status, b := post(c.path, c.body)
		var p api.Problem
		if err := json.Unmarshal(b, &p); err != nil || status != c.status || !strings.Contains(p.Error, c.msg) {
			t.Errorf("%s: HTTP %d %s; want %d and %q", c.name, status, b, c.status, c.msg)
		}
	}
	if _, size, err := n.Ledger.Checkpoint(election); err != nil || size != 3 {
		t.Errorf("log size %d after the refusals (%v), want 3", size, err)
	}

	// The entries name their submission, and its bytes are served.
	for i := uint64(0); i < 2; i++ {
		data, err := n.Ledger.Entry(election, i)
		if err != nil {
			t.Fatal(err)
		}
		en, err := events.DecodeEntry(data)
		if err != nil {
			t.Fatal(err)
		}
		if en.Submission == nil || en.Submission.SHA256 != sha256.Sum256(first) || en.Submission.Item != int(i) || en.Submission.Signer != testkeys.Authority.Verifier {
			t.Fatalf("entry %d names submission %+v", i, en.Submission)
		}
	}
	sum := sha256.Sum256(first)
	hexSum := hex.EncodeToString(sum[:])
	status, h, b := get("/v1/elections/" + election + "/submissions/" + hexSum)
	if status != http.StatusOK || !bytes.Equal(b, first) || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("GET submission: HTTP %d %s: %.200s", status, h.Get("Content-Type"), b)
	}
	if sub, err := events.OpenSubmission(b); err != nil || sub.SignatureErr != nil || len(sub.Events) != 2 || sub.Events[1].ID != r1.ID {
		t.Errorf("the served submission does not open as the one sent: %v", err)
	}
	other := sha256.Sum256([]byte("no such submission"))
	for path, want := range map[string]int{
		"/v1/elections/" + election + "/submissions/" + hex.EncodeToString(other[:]): 404,
		"/v1/elections/nope/submissions/" + hexSum:                                   404,
		"/v1/elections/" + election + "/submissions/" + strings.ToUpper(hexSum):      400,
		"/v1/elections/" + election + "/submissions/" + hexSum[:62]:                  400,
		"/v1/elections/" + election + "/submissions/" + hexSum + "00":                400,
		"/v1/elections/" + election + "/submissions/" + hexSum[:63] + "g":            400,
	} {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var p api.Problem
		if resp.StatusCode != want || json.Unmarshal(b, &p) != nil || p.Error == "" {
			t.Errorf("GET %s: HTTP %d %s, want %d with an error", path, resp.StatusCode, b, want)
		}
	}
}
