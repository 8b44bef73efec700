package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/election-audit/ledger/demo"
	"github.com/election-audit/ledger/node"
)

// TestDemo replays both nights into a real ledger and checks the promises
// of the demo: the official totals, the leader crossing the 50% line and
// back, the correction, certification and a clean verification.
func TestDemo(t *testing.T) {
	ctx := context.Background()
	n, err := node.Open(ctx, node.Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	v, err := note.NewVerifier(n.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Verifier: v, Out: &out})
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
	s := out.String()
	for _, want := range []string{"SIMULATED", "48.12%", "51.78%", "corrects its last report", "falls below 50%", "rises above 50%", "Verified:", "— certified"} {
		if !strings.Contains(s, want) {
			t.Errorf("the story does not say %q", want)
		}
	}
}
