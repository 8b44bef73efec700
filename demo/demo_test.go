package demo_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

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
	v, err := note.NewVerifier(n.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := demo.Run(ctx, demo.Config{Ledger: n.Ledger, DB: n.DB, Verifier: v, Keys: keys, Out: &out})
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
	}
	s := out.String()
	for _, want := range []string{"SIMULATED", "48.12%", "51.78%", "corrects its last report", "falls below 50%", "rises above 50%", "Verified:", "— certified"} {
		if !strings.Contains(s, want) {
			t.Errorf("the story does not say %q", want)
		}
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
