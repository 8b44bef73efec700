package node

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/election-audit/ledger/checkpoint"
	"github.com/election-audit/ledger/events"
	"github.com/election-audit/ledger/internal/testkeys"
)

func smallManifest() *events.Manifest {
	return &events.Manifest{
		Name: "Test", Date: "2017-04-18",
		VoteTypes: []events.VoteType{{ID: "election-day", Name: "Election Day"}, {ID: "absentee", Name: "Absentee"}},
		Units: []events.Unit{{ID: "ga", Name: "Georgia", Kind: "state"},
			{ID: "cobb", Name: "Cobb", Kind: "county", Parent: "ga"},
			{ID: "fulton", Name: "Fulton", Kind: "county", Parent: "ga"}},
		Contests: []events.Contest{{ID: "h6", Name: "House 6", VoteFor: 1, Choices: []events.Choice{{ID: "ossoff", Name: "Jon Ossoff"}, {ID: "handel", Name: "Karen Handel"}}}},
	}
}

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	n, err := Open(ctx, Config{DataDir: t.TempDir(), HTTP: "-", NATSListen: "127.0.0.1:0", Authorities: testkeys.Authorities})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close(ctx)
	mk := func(b events.Body) *events.Event {
		return &events.Event{ID: uuid.Must(uuid.NewV7()), Election: "t1", Body: b}
	}
	evs := []*events.Event{
		mk(smallManifest()),
		mk(&events.CountReport{Unit: "cobb", Contest: "h6", Source: events.Source{Operator: "clerk"},
			Counts: []events.Count{{Choice: "ossoff", VoteType: "election-day", Votes: 10}, {Choice: "handel", VoteType: "absentee", Votes: 7}}}),
	}
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs...))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Index != uint64(i) || r.Verdict != events.Accepted || r.TreeSize != 2 {
			t.Errorf("receipt %d = %+v", i, r)
		}
	}
	v, origin, err := checkpoint.LogVerifier(n.VerifierKey, "t1")
	if err != nil {
		t.Fatal(err)
	}
	cp, err := checkpoint.Open([]byte(rs[1].Checkpoint), origin, v)
	if err != nil || cp.Size != 2 {
		t.Fatalf("checkpoint %+v, %v", cp, err)
	}
	tl, err := n.Ledger.Tally("t1")
	if err != nil {
		t.Fatal(err)
	}
	if got := tl.Contests[0].Choices[0].Votes; got != 10 {
		t.Errorf("ossoff = %d", got)
	}
	if tl.Contests[0].UnitsReported != 1 || tl.Contests[0].UnitsTotal != 2 || tl.Status != "unofficial-partial" {
		t.Errorf("tally %+v", tl.Contests[0])
	}
	// Resubmission, in a new submission, answers with the original.
	rs2, err := n.Ledger.Submit(ctx, testkeys.MustSign(testkeys.Authority, evs[1:]...))
	if err != nil || !rs2[0].Duplicate || rs2[0].Index != 1 {
		t.Fatalf("resubmit: %+v %v", rs2, err)
	}
}

// Authorities reads the accepted authorities from the configuration and
// from <data>/authorities (comments and blank lines skipped), each once,
// and refuses a key that is not a canonical verifier key, naming where it
// is.
func TestAuthorities(t *testing.T) {
	dir := t.TempDir()
	a, b := testkeys.New("office-a").Verifier, testkeys.New("office-b").Verifier
	if got, err := Authorities(dir, nil); err != nil || len(got) != 0 {
		t.Fatalf("no file, none given: %v, %v", got, err)
	}
	file := filepath.Join(dir, AuthoritiesFile)
	if err := os.WriteFile(file, []byte("# election offices\n\n"+b+"\n  "+a+"  \n# "+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Authorities(dir, []string{a, " " + a})
	if err != nil || !slices.Equal(got, []string{a, b}) {
		t.Fatalf("got %q, %v; want %q", got, err, []string{a, b})
	}
	if _, err := Authorities(dir, []string{"not-a-key"}); err == nil || !strings.Contains(err.Error(), "--authority") {
		t.Errorf("a bad key given: %v", err)
	}
	bad := strings.Replace(b, "+", "+0", 1) // a mangled key hash
	if err := os.WriteFile(file, []byte(a+"\n"+bad+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Authorities(dir, nil); err == nil || !strings.Contains(err.Error(), "line 2 of "+file) {
		t.Errorf("a bad key on line 2: %v", err)
	}
}
