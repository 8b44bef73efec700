package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/dashboard"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// TestRoutes checks the dashboard's place in the API's routes: the page at
// "/", and every API answer as it was without it, 404s and 405s included.
func TestRoutes(t *testing.T) {
	ctx := context.Background()
	n := testledger.Open(t, node.Config{})
	const election = "series-2026"
	m := &events.Manifest{
		Name: "Series", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"},
			{ID: "a", Name: "A", Kind: "county", Parent: "st"}, {ID: "b", Name: "B", Kind: "county", Parent: "st"}},
		Contests: []events.Contest{{ID: "m", Name: "Measure", VoteFor: 1,
			Choices: []events.Choice{{ID: "no", Name: "No"}, {ID: "yes", Name: "Yes"}}}},
	}
	report := func(unit string, no, yes int64) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: &events.CountReport{Unit: unit, Contest: "m",
			Counts: []events.Count{{Choice: "no", VoteType: "day", Votes: no}, {Choice: "yes", VoteType: "day", Votes: yes}},
			Source: events.Source{Operator: "test"}}}
	}
	evs := []*events.Event{{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m},
		report("a", 10, 30), report("b", 50, 10), report("a", 10, 40)}
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs...)); err != nil {
		t.Fatal(err)
	}

	get := func(method, path string) (int, http.Header, string) {
		rec := httptest.NewRecorder()
		n.Handler.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, rec.Header(), string(b)
	}
	for _, c := range []struct {
		method, path string
		code         int
		has          string
	}{
		{"GET", "/", 200, `<script src="/dashboard/app.js"`},
		{"HEAD", "/", 200, ""},
		{"GET", "/?election=" + election, 200, "<title>"},
		{"GET", "/dashboard/app.js", 200, "verifyConsistency"},
		{"GET", "/healthz", 200, `"status":"ok"`},
		{"GET", "/v1/elections", 200, election},
		{"GET", "/v1/events", 405, ""}, // POST only, as before
		{"POST", "/", 405, ""},         // the page is GET only
		{"GET", "/nope", 404, ""},      // not the page
		{"GET", "/v1/nope", 404, ""},   // nor API paths that do not exist
		{"GET", "/v1/elections/x/tally", 404, "unknown election"},
		{"GET", "/v1/elections/" + election + "/series?points=0", 400, "points"},
		{"GET", "/v1/elections/" + election + "/series?after=x", 400, "after"},
		{"GET", "/v1/elections/nowhere/series", 404, "error"},
	} {
		code, _, body := get(c.method, c.path)
		if code != c.code || !strings.Contains(body, c.has) {
			t.Errorf("%s %s: HTTP %d, want %d with %q:\n%.300s", c.method, c.path, code, c.code, c.has, body)
		}
		if c.path == "/nope" && strings.Contains(body, "<html") {
			t.Errorf("GET /nope is answered with the page")
		}
	}

	// The series: every size of a short log, each point the as-of tally.
	code, h, body := get("GET", "/v1/elections/"+election+"/series")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("series: HTTP %d %s: %s", code, h.Get("Content-Type"), body)
	}
	var s dashboard.SeriesResponse
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	if s.TreeSize != 4 || len(s.Points) != 4 {
		t.Fatalf("series: tree size %d, %d points: %s", s.TreeSize, len(s.Points), body)
	}
	shares := []string{}
	for _, p := range s.Points {
		c := p.Contests[0]
		shares = append(shares, c.Choices[1].Share)
		var asOf struct {
			Tally struct {
				Contests []struct {
					Choices []struct{ Share string }
				}
			}
		}
		_, _, doc := get("GET", "/v1/elections/"+election+"/tally?as_of="+strconv.FormatUint(p.TreeSize, 10))
		if err := json.Unmarshal([]byte(doc), &asOf); err != nil {
			t.Fatal(err)
		}
		if got := asOf.Tally.Contests[0].Choices[1].Share; got != c.Choices[1].Share {
			t.Errorf("size %d: series says %s, as-of tally %s", p.TreeSize, c.Choices[1].Share, got)
		}
	}
	if want := "0.00 75.00 40.00 45.45"; strings.Join(shares, " ") != want {
		t.Errorf("yes shares %v, want %s", shares, want)
	}
	// One point after 2: the last, and the one after entry 2, where "no"
	// took the lead and more than half of the votes.
	_, _, body = get("GET", "/v1/elections/"+election+"/series?after=2&points=1")
	if err := json.Unmarshal([]byte(body), &s); err != nil || len(s.Points) != 2 || s.Points[0].TreeSize != 3 || s.Points[1].TreeSize != 4 ||
		len(s.Turns) != 3 || s.Turns[0].Index != 2 || s.Turns[0].Kind != "lead" || s.Turns[0].Choice != "no" {
		t.Errorf("series after 2, one point: %s", body)
	}
	_, _, body = get("GET", "/v1/elections/"+election+"/series?after=4")
	if err := json.Unmarshal([]byte(body), &s); err != nil || len(s.Points) != 0 {
		t.Errorf("series after the end: %s", body)
	}
}
