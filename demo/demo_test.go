package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/node"
)

// TestDemo replays both nights into a real ledger and checks the promises
// of the demo: the official totals, the leader crossing the 50% line and
// back, the correction, certification, a clean verification, and every
// entry signed by the office that reports it.
func TestDemo(t *testing.T) {
	ctx := context.Background()
	keys, err := demo.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0",
		Authorities: []string{keys.Authority.Verifier}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	var out bytes.Buffer
	res, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Key: n.VerifierKey, Keys: keys, Out: &out})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("%d elections replayed", len(res))
	}
	april, june := res[0], res[1]
	for _, r := range res {
		if !r.Official || r.Verified == nil || r.Tally.Status != "certified" {
			t.Errorf("%s: official %v, verified %+v, status %s", r.Election, r.Official, r.Verified, r.Tally.Status)
		}
	}
	race := func(r *demo.Result, contest string) map[string]int64 {
		for _, c := range r.Tally.Contests {
			if c.ID == contest {
				m := map[string]int64{"total": c.TotalVotes, "reported": c.UnitsReported}
				for _, ch := range c.Choices {
					m[ch.ID] = ch.Votes
					m[ch.ID+" share"] = 0
					if ch.Share != "" {
						m[ch.ID+" share"] = int64(len(ch.Share)) // present
					}
				}
				for _, u := range c.Units {
					var s int64
					for _, x := range u.Votes {
						s += x
					}
					m["unit "+u.ID] = s
				}
				return m
			}
		}
		t.Fatalf("%s has no contest %s", r.Election, contest)
		return nil
	}
	a := race(april, "us-representative-district-6")
	for k, want := range map[string]int64{"total": 192569, "jon-ossoff": 92673, "karen-handel": 38071, "bob-gray": 20802,
		"dan-moody": 17028, "judson-hill": 16870, "unit cobb": 61229, "unit dekalb": 44299, "unit fulton": 87041} {
		if a[k] != want {
			t.Errorf("April %s = %d, want %d", k, a[k], want)
		}
	}
	j := race(june, "us-representative-district-6")
	for k, want := range map[string]int64{"karen-handel": 134799, "jon-ossoff": 125517, "total": 260316} {
		if j[k] != want {
			t.Errorf("June %s = %d, want %d", k, j[k], want)
		}
	}
	precincts := 0
	for _, c := range june.Tally.Contests {
		for _, u := range c.Units {
			if strings.Contains(u.ID, ":") && c.Kind == "turnout" {
				precincts++
			}
		}
	}
	if precincts != 208 {
		t.Errorf("June: %d precincts reported turnout, want 208", precincts)
	}
	if april.Crossings < 2 {
		t.Errorf("April: the leader's share crossed 50%% %d times, want it to cross and re-cross", april.Crossings)
	}
	for _, r := range res {
		checkSigners(t, n, keys, r.Election)
		checkTimes(t, n, r.Election)
	}
	s := out.String()
	for _, want := range []string{"SIMULATED", "48.12%", "51.78%", "corrects its last report", "falls below 50%", "rises above 50%", "Verified:", "— certified",
		"Times below are the simulated night's (EDT), and so is each report's source version",
		"(party: none given in the manifest)", "Karen Handel    REP  134799  51.78%"} {
		if !strings.Contains(s, want) {
			t.Errorf("the story does not say %q", want)
		}
	}
	// The tables list candidates by votes: Ossoff, Handel, Gray, in April.
	if o, h, g := strings.Index(s, "  Jon Ossoff  92673"), strings.Index(s, "  Karen Handel  38071"), strings.Index(s, "  Bob Gray  20802"); o < 0 || !(o < h && h < g) {
		t.Errorf("the April table is not by votes: Ossoff at %d, Handel at %d, Gray at %d", o, h, g)
	}
}

// TestSimulatedTimes: every report and correction of the nights carries
// its step's simulated time as its source version, the time of its event
// ID (a UUIDv7) too; a certification's note says its day.
func TestSimulatedTimes(t *testing.T) {
	nights, err := demo.Nights()
	if err != nil {
		t.Fatal(err)
	}
	reports := 0
	for _, n := range nights {
		for _, s := range n.Steps {
			for _, ev := range s.Events {
				if sec, nsec := ev.ID.Time().UnixTime(); !time.Unix(sec, nsec).Equal(s.Clock) {
					t.Errorf("%s: event %s of %v has the time %v", n.Election, ev.ID, s.Clock, time.Unix(sec, nsec))
				}
				if c, ok := ev.Body.(*events.Certification); ok && !strings.Contains(c.Note, s.Clock.Format("January 2, 2006")) {
					t.Errorf("%s: certification of %v: %q", n.Election, s.Clock, c.Note)
				}
				r := ev.Counts()
				if r == nil {
					continue
				}
				reports++
				v, err := time.Parse(time.RFC3339, r.Source.Version)
				if err != nil || !v.Equal(s.Clock) || v.Year() != 2017 || !strings.Contains(r.Source.Operator, "simulated") {
					t.Errorf("%s: a report of %v has the source %+v (%v)", n.Election, s.Clock, r.Source, err)
				}
			}
		}
	}
	if reports < 400 {
		t.Errorf("%d reports", reports)
	}
}

// checkTimes checks what the log keeps of time: each report's source
// version is the simulated 2017 time, its entry's recorded time the
// ledger's own, when the replay logged it.
func checkTimes(t *testing.T, n *node.Node, election string) {
	t.Helper()
	size, _, _, err := n.Ledger.Committed(election)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Hour)
	err = n.Ledger.Entries(election, 0, size, func(i uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		if err != nil {
			return err
		}
		if en.Recorded.Before(started) {
			return fmt.Errorf("entry %d recorded at %v, not when it was logged", i, en.Recorded)
		}
		if r := en.Event.Counts(); r != nil {
			if v, err := time.Parse(time.RFC3339, r.Source.Version); err != nil || v.Year() != 2017 {
				return fmt.Errorf("entry %d: source version %q", i, r.Source.Version)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s: %v", election, err)
	}
}

// checkSigners checks who signed each entry of an election's log: the
// county office's key every count of a unit in its county (the county or
// one of its precincts), the authority's everything else (the manifest,
// the key registrations, certification, counts of units in no county).
func checkSigners(t *testing.T, n *node.Node, keys *demo.Keys, election string) {
	t.Helper()
	size, _, _, err := n.Ledger.Committed(election)
	if err != nil {
		t.Fatal(err)
	}
	parent := map[string]string{}
	county := func(unit string) string {
		for u := unit; u != ""; u = parent[u] {
			if slices.Contains(demo.Counties, u) {
				return u
			}
		}
		return ""
	}
	byCounty := map[string]int{}
	var manifests, certifications int
	err = n.Ledger.Entries(election, 0, size, func(i uint64, data []byte) error {
		en, err := events.DecodeEntry(data)
		if err != nil {
			return err
		}
		if en.Submission == nil || en.Submission.Signer == "" {
			return fmt.Errorf("entry %d (%s) names no signer", i, en.Event.Type())
		}
		want, who := keys.Authority.Verifier, "the authority"
		switch b := en.Event.Body.(type) {
		case *events.Manifest:
			manifests++
			for _, u := range b.Units {
				parent[u.ID] = u.Parent
			}
		case *events.Certification:
			certifications++
		}
		if r := en.Event.Counts(); r != nil {
			if c := county(r.Unit); c != "" {
				want, who = keys.Counties[c].Verifier, c+"'s office"
				byCounty[c]++
			}
		}
		if en.Submission.Signer != want {
			return fmt.Errorf("entry %d (%s) is signed by %s, want %s", i, en.Event.Type(), en.Submission.Signer, who)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", election, err)
	}
	if manifests != 1 || certifications == 0 {
		t.Errorf("%s: %d manifests, %d certifications", election, manifests, certifications)
	}
	for _, c := range demo.Counties {
		if byCounty[c] == 0 {
			t.Errorf("%s: no count of %s: the test proves nothing for its office", election, c)
		}
	}
	t.Logf("%s: %d entries; counts signed by the counties' offices: %v", election, size, byCounty)
}
