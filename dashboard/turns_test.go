package dashboard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/audit"
	"github.com/election-audit/ledger/dashboard"
	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
	"github.com/election-audit/ledger/internal/testledger"
	"github.com/election-audit/ledger/node"
)

// TestTurns folds a log that exercises the rollup rules (reports at a
// parent over its children's, a retraction that hands the total back to
// the children, a correction, a rejected correction, a tie, a race scoped
// to part of the election, a turnout contest, a race whose votes all go)
// and checks, at every size, that the turn folder's totals are the as-of
// tally's, and that the turns the series route reports are exactly the
// changes of lead and of the 50% line between consecutive as-of tallies.
func TestTurns(t *testing.T) {
	ctx := context.Background()
	n := testledger.Open(t, node.Config{})
	const election = "turns-2026"
	m := &events.Manifest{
		Name: "Turns", Date: "2026-11-03",
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}, {ID: "mail", Name: "By mail"}},
		Units: []events.Unit{{ID: "st", Name: "State", Kind: "state"},
			{ID: "a", Name: "A", Kind: "county", Parent: "st"}, {ID: "b", Name: "B", Kind: "county", Parent: "st"},
			{ID: "a1", Name: "A1", Kind: "precinct", Parent: "a"}, {ID: "a2", Name: "A2", Kind: "precinct", Parent: "a"}},
		Contests: []events.Contest{
			{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "x", Name: "X"}, {ID: "y", Name: "Y"}, {ID: "z", Name: "Z"}}},
			{ID: "dist", Name: "District", VoteFor: 1, Units: []string{"a"}, Choices: []events.Choice{{ID: "p", Name: "P"}, {ID: "q", Name: "Q"}}},
			{ID: "t", Name: "Turnout", Kind: events.KindTurnout, Choices: []events.Choice{{ID: "registered", Name: "Registered"}, {ID: "ballots", Name: "Ballots"}}},
		},
	}
	ev := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: b}
	}
	report := func(unit, contest string, counts ...any) *events.CountReport {
		r := &events.CountReport{Unit: unit, Contest: contest, Source: events.Source{Operator: "test"}}
		for i := 0; i < len(counts); i += 3 {
			r.Counts = append(r.Counts, events.Count{Choice: counts[i].(string), VoteType: counts[i+1].(string), Votes: int64(counts[i+2].(int))})
		}
		return r
	}
	rep := func(unit, contest string, counts ...any) *events.Event { return ev(report(unit, contest, counts...)) }
	evs := []*events.Event{ev(m)}
	add := func(e *events.Event) *events.Event { evs = append(evs, e); return e }
	a1 := add(rep("a1", "gov", "x", "day", 10, "y", "day", 5))                                                        // 1: x leads, above
	b := add(rep("b", "gov", "y", "day", 12, "y", "mail", 8))                                                         // 2: y leads with 25 of 35
	a := add(rep("a", "gov", "x", "day", 40, "y", "day", 1))                                                          // 3: a's own report: x 40, y 21
	add(rep("a2", "gov", "y", "mail", 100))                                                                           // 4: under a's report: no change
	add(ev(&events.Retraction{Retracts: a.ID, Reason: "draft", Source: events.Source{Operator: "test"}}))             // 5: a = a1 + a2
	add(ev(&events.Correction{Corrects: b.ID, Reason: "swapped", CountReport: *report("b", "gov", "z", "day", 135)})) // 6
	add(ev(&events.Correction{Corrects: b.ID, Reason: "stale", CountReport: *report("b", "gov", "x", "day", 1)}))     // 7: rejected
	add(ev(&events.Correction{Corrects: a1.ID, Reason: "tie", CountReport: *report("a1", "gov", "y", "day", 35)}))    // 8: y 135, z 135
	d1 := add(rep("a1", "dist", "p", "day", 3, "q", "day", 4))                                                        // 9
	add(rep("a2", "dist", "p", "mail", 10))                                                                           // 10
	add(rep("a1", "t", "registered", "day", 100, "ballots", "day", 50))                                               // 11: turnout
	add(ev(&events.Retraction{Retracts: d1.ID, Reason: "r", Source: events.Source{Operator: "test"}}))                // 12
	d2 := evs[10]
	add(ev(&events.Retraction{Retracts: d2.ID, Reason: "r", Source: events.Source{Operator: "test"}})) // 13: no votes in dist
	add(rep("a", "dist", "q", "day", 2))                                                               // 14
	add(ev(&events.Certification{By: "board"}))                                                        // 15
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs...)); err != nil {
		t.Fatal(err)
	}
	_, size, err := n.Ledger.Checkpoint(election)
	if err != nil || size != uint64(len(evs)) {
		t.Fatalf("size %d of %d: %v", size, len(evs), err)
	}

	s, want := checkTurns(t, n, election)
	// Some of them, spelt out: the first lead and majority, the lead
	// handed back to a1 and a2 by the retraction of a's report, the tie.
	for _, w := range []string{"1 gov lead x", "1 gov above x", "2 gov lead y", "3 gov lead x", "5 gov lead y", "6 gov lead z", "8 gov tie", "8 gov below z", "13 dist none"} {
		if !slices.Contains(want, w) {
			t.Errorf("the as-of tallies have no turn %q: %v", w, want)
		}
	}
	for _, x := range s.Turns {
		if x.Recorded == "" || (x.Kind != "none" && x.Share == "") {
			t.Errorf("turn %+v: no time or share", x)
		}
		if x.Kind == "lead" && x.Index == 2 && x.From != "x" {
			t.Errorf("turn %+v: the lead came from x", x)
		}
	}
	// The points: two evenly spaced, and the sizes around each turn.
	var got []uint64
	for _, p := range s.Points {
		got = append(got, p.TreeSize)
	}
	for _, x := range s.Turns {
		if !slices.Contains(got, x.Index) || !slices.Contains(got, x.Index+1) {
			t.Errorf("points at sizes %v: not around turn %+v", got, x)
		}
	}
	if !slices.Contains(got, size) || !slices.IsSorted(got) {
		t.Errorf("points at sizes %v", got)
	}
	// After a size, only the turns of the entries from it on.
	later := seriesOf(t, n, election, "?after=6")
	if g := turnText(later.Turns); len(g) == 0 || !strings.HasPrefix(g[0], "6 ") {
		t.Errorf("turns after 6: %v", g)
	}
	for _, p := range later.Points {
		if p.TreeSize <= 6 {
			t.Errorf("a point at size %d after 6", p.TreeSize)
		}
	}
	if end := seriesOf(t, n, election, fmt.Sprintf("?after=%d", size)); len(end.Turns) != 0 || len(end.Points) != 0 {
		t.Errorf("after the end: %+v", end)
	}

	// The page's one stream: the corrections and retractions before entry
	// 9, then every entry from 9 on, then the checkpoint.
	srv := httptest.NewServer(n.Handler)
	defer srv.Close()
	ids := streamIDs(t, srv.URL+"/v1/elections/"+election+"/changes?from=0&types=count.corrected,count.retracted&all_from=9")
	if want := "5 6 7 8 9 10 11 12 13 14 15 checkpoint"; ids != want {
		t.Errorf("the stream with all_from=9 sent %s, want %s", ids, want)
	}
	ids = streamIDs(t, srv.URL+"/v1/elections/"+election+"/changes?from=3&all_from=9")
	if want := "3 4 5 6 7 8 9 10 11 12 13 14 15 checkpoint"; ids != want {
		t.Errorf("the stream with all_from=9 and no types sent %s, want %s", ids, want)
	}
	resp, err := http.Get(srv.URL + "/v1/elections/" + election + "/changes?all_from=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("all_from=x: HTTP %d", resp.StatusCode)
	}
}

// streamIDs reads a change stream up to its first checkpoint and returns
// the IDs of the events before it, and "checkpoint".
func streamIDs(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ids []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			ids = append(ids, id)
		}
		if line == "event: checkpoint" {
			return strings.Join(append(ids, "checkpoint"), " ")
		}
	}
	t.Fatalf("%s: the stream ended without a checkpoint (%v): %v", url, sc.Err(), ids)
	return ""
}

// checkTurns checks, at every size of an election's committed log, that
// the turn folder's totals are the as-of tally's, and that the series
// route's turns are the changes of lead and of the 50% line between
// consecutive as-of tallies. It returns the series (two points) and the
// turns expected, as text.
func checkTurns(t *testing.T, n *node.Node, election string) (dashboard.SeriesResponse, []string) {
	t.Helper()
	_, size, err := n.Ledger.Checkpoint(election)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []uint64
	for s := uint64(1); s <= size; s++ {
		sizes = append(sizes, s)
	}
	points, err := audit.Series(n.Ledger, election, sizes)
	if err != nil {
		t.Fatal(err)
	}
	// The folder's totals are the as-of tally's at every size.
	for _, p := range points {
		got, err := dashboard.FoldTotals(n.Ledger, election, p.TreeSize)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Contests {
			for _, ch := range c.Choices {
				if got[c.ID][ch.ID] != ch.Votes {
					t.Errorf("size %d, %s, %s: folded %d, as-of tally %d", p.TreeSize, c.ID, ch.ID, got[c.ID][ch.ID], ch.Votes)
				}
			}
		}
		if len(got) != len(p.Contests) {
			t.Errorf("size %d: %d races folded, %d in the series", p.TreeSize, len(got), len(p.Contests))
		}
	}

	// The turns, from the as-of tallies of consecutive sizes.
	type state struct {
		leader string // "" none, "=" tie
		above  []string
	}
	stateOf := func(c audit.SeriesContest) state {
		var s state
		var top int64 = -1
		for _, ch := range c.Choices {
			switch {
			case ch.Votes > top:
				top, s.leader = ch.Votes, ch.ID
			case ch.Votes == top:
				s.leader = "="
			}
			if c.TotalVotes > 0 && 2*ch.Votes > c.TotalVotes {
				s.above = append(s.above, ch.ID)
			}
		}
		if c.TotalVotes == 0 {
			s.leader = ""
		}
		return s
	}
	var want []string
	prev := map[string]state{}
	for _, p := range points {
		for _, c := range p.Contests {
			now, was := stateOf(c), prev[c.ID]
			if now.leader != was.leader {
				switch now.leader {
				case "":
					want = append(want, fmt.Sprintf("%d %s none", p.TreeSize-1, c.ID))
				case "=":
					want = append(want, fmt.Sprintf("%d %s tie", p.TreeSize-1, c.ID))
				default:
					want = append(want, fmt.Sprintf("%d %s lead %s", p.TreeSize-1, c.ID, now.leader))
				}
			}
			for _, ch := range c.Choices {
				if slices.Contains(now.above, ch.ID) != slices.Contains(was.above, ch.ID) {
					kind := "below"
					if slices.Contains(now.above, ch.ID) {
						kind = "above"
					}
					want = append(want, fmt.Sprintf("%d %s %s %s", p.TreeSize-1, c.ID, kind, ch.ID))
				}
			}
			prev[c.ID] = now
		}
	}
	s := seriesOf(t, n, election, "?points=2")
	if got := turnText(s.Turns); !slices.Equal(got, want) {
		t.Errorf("%s: turns:\n%s\nwant (from the as-of tallies):\n%s", election, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return s, want
}

func seriesOf(t *testing.T, n *node.Node, election, q string) dashboard.SeriesResponse {
	t.Helper()
	rec := httptest.NewRecorder()
	n.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/elections/"+election+"/series"+q, nil))
	body, _ := io.ReadAll(rec.Body)
	var s dashboard.SeriesResponse
	if rec.Code != 200 || json.Unmarshal(body, &s) != nil {
		t.Fatalf("series%s: HTTP %d: %s", q, rec.Code, body)
	}
	return s
}

func turnText(ts []dashboard.Turn) []string {
	var out []string
	for _, x := range ts {
		switch x.Kind {
		case "none", "tie":
			out = append(out, fmt.Sprintf("%d %s %s", x.Index, x.Contest, x.Kind))
		default:
			out = append(out, fmt.Sprintf("%d %s %s %s", x.Index, x.Contest, x.Kind, x.Choice))
		}
	}
	return out
}

// TestTurnsDemo checks the turns of both demo nights, April's three
// counties and June's runoff reported county by county and then precinct
// by precinct, against the as-of tallies at every size.
func TestTurnsDemo(t *testing.T) {
	ctx := context.Background()
	keys, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	n := testledger.Open(t, node.Config{Authorities: []string{keys.Authority.Verifier}})
	res, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: keys, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		_, want := checkTurns(t, n, r.Election)
		t.Logf("%s: %d turns: %s", r.Election, len(want), strings.Join(want, "; "))
	}
}

// partsManifest is the events of a manifest in parts, signed by the test
// authority: 1,500 precincts, and a race (gov: x, y; one vote type, day)
// in the last part, with the last units.
func partsManifest(t *testing.T, election string) []*events.Event {
	t.Helper()
	m := &events.Manifest{Name: "Parts", Date: "2026-11-03", Authority: testkeys.Authority.Verifier,
		VoteTypes: []events.VoteType{{ID: "day", Name: "Election Day"}},
		Units:     []events.Unit{{ID: "st", Name: "State", Kind: "state"}}}
	for i := range 1500 {
		m.Units = append(m.Units, events.Unit{ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("Precinct number %d of the state", i), Kind: "precinct", Parent: "st"})
	}
	m.Contests = []events.Contest{{ID: "gov", Name: "Governor", VoteFor: 1, Choices: []events.Choice{{ID: "x", Name: "X"}, {ID: "y", Name: "Y"}}}}
	evs, err := events.SplitManifest(&events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: m})
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1].Body.(*events.ManifestPart); len(evs) < 2 || len(last.Units) == 0 || len(last.Contests) == 0 {
		t.Fatalf("the manifest is in %d events; the test wants the last with units and the race", len(evs))
	}
	return evs
}

// TestTurnsManifestInParts: the turns of an election whose manifest is in
// parts fold from the whole manifest (its entries 0 to N-1), and agree
// with the as-of tallies from there on.
func TestTurnsManifestInParts(t *testing.T) {
	ctx := context.Background()
	n := testledger.Open(t, node.Config{})
	const election = "parts-2026"
	evs := partsManifest(t, election)
	for i, votes := range [][2]int64{{10, 5}, {0, 30}} {
		evs = append(evs, &events.Event{ID: uuid.Must(uuid.NewV7()), Election: election, Body: &events.CountReport{
			Unit: fmt.Sprintf("p%04d", i), Contest: "gov", Source: events.Source{Operator: "test"},
			Counts: []events.Count{{Choice: "x", VoteType: "day", Votes: votes[0]}, {Choice: "y", VoteType: "day", Votes: votes[1]}}}})
	}
	if _, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs...)); err != nil {
		t.Fatal(err)
	}
	_, want := checkTurns(t, n, election)
	k := len(evs) - 2 // the manifest's entries
	for _, w := range []string{fmt.Sprintf("%d gov lead x", k), fmt.Sprintf("%d gov lead y", k+1)} {
		if !slices.Contains(want, w) {
			t.Errorf("no turn %q: %v", w, want)
		}
	}
}

// oneEntry is a log whose every entry is the same bytes: a fault to inject.
type oneEntry []byte

func (e oneEntry) Entries(_ string, start, end uint64, fn func(uint64, []byte) error) error {
	for i := start; i < end; i++ {
		if err := fn(i, e); err != nil {
			return err
		}
	}
	return nil
}

// TestTurnsEntryZeroNotAManifest: a log whose entry 0 is not a manifest
// gets an error that says so, not a panic.
func TestTurnsEntryZeroNotAManifest(t *testing.T) {
	report, err := os.ReadFile(filepath.Join("..", "events", "testdata", "golden", "entry.accepted.json"))
	if err != nil {
		t.Fatal(err)
	}
	report = bytes.TrimSpace(bytes.Replace(report, []byte(`"index":1`), []byte(`"index":0`), 1))
	_, err = dashboard.NewTurns(oneEntry(report)).Since("ga06-2017-04", 0, 3)
	if err == nil || !strings.Contains(err.Error(), "entry 0 is not an accepted manifest") {
		t.Errorf("turns of a log without a manifest: %v", err)
	}
}
